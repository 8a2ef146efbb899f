"""Generated text is keyword-searchable but not embedded; the setting turns that off."""

from __future__ import annotations

from pathlib import Path

from engine.generated import GENERATED
from engine.store import Store
from indexer.pipeline import Indexer, IndexReport
from tests.engine.test_generated import CODE, PROSE, minified_js
from tests.helpers import RandomEmbedder, write_files


def _index(store: Store, root: Path, skip_generated: bool = True) -> IndexReport:
    report = IndexReport()
    indexer = Indexer(store, skip_generated=skip_generated)
    indexer.scan([bytes(root)], report)
    indexer.embed_pending(RandomEmbedder(), report)
    return report


def _vectors_of(store: Store, name: str) -> tuple[int, int]:
    """(passages, passages with a vector) of the file whose path ends with `name`."""
    row = store.conn.execute(
        "SELECT count(c.id), count(v.chunk_id) FROM files f JOIN chunks c ON c.file_id = f.id "
        "LEFT JOIN vectors v ON v.chunk_id = c.id WHERE f.display_path LIKE ?",
        (f"%/{name}",)).fetchone()
    return int(row[0]), int(row[1])


def _files(root: Path) -> None:
    bundle = "function zorbleQuux(a){return a}" + minified_js(1_000_000)  # 1 MB, one line
    write_files(root, {"static/app.min.js": bundle, "notes/harbour.txt": PROSE * 20,
                       "src/ledger.py": CODE * 4})


def test_minified_js_is_found_by_keyword_and_has_no_vectors(store, tmp_path):
    root = tmp_path / "docs"
    _files(root)
    report = _index(store, root)
    passages, vectors = _vectors_of(store, "app.min.js")
    assert passages > 0 and vectors == 0
    assert report.chunks_generated == passages
    assert store.unembedded() == {GENERATED: passages}
    hits = store.fts_search('"zorbleQuux"', 5)
    assert hits and store.chunk_rows([hits[0][0]])[hits[0][0]].display_path.endswith(
        "app.min.js")
    for name in ("harbour.txt", "ledger.py"):  # prose and code are embedded as before
        passages, vectors = _vectors_of(store, name)
        assert passages == vectors > 0
    again = _index(store, root)  # nothing is looked at twice
    assert (again.chunks_generated, again.chunks_embedded) == (0, 0)


def test_the_setting_embeds_generated_text_too(store, tmp_path):
    root = tmp_path / "docs"
    _files(root)
    _index(store, root)
    report = _index(store, root, skip_generated=False)
    passages, vectors = _vectors_of(store, "app.min.js")
    assert vectors == passages == report.chunks_embedded > 0
    assert store.unembedded() == {}
