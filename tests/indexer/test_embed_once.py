"""Each passage text is embedded once: copies, moves and edits reuse stored vectors."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from engine import schema
from engine.dense import DenseIndex
from engine.embedder import Embedder
from engine.search import Searcher
from engine.store import Store
from indexer.pipeline import Indexer, IndexReport
from tests.engine.test_store import undo_passage_keys
from tests.helpers import RandomEmbedder, write_files

BEES = ("In winter the honey bee colony clusters tightly around its queen, shivering its "
        "flight muscles to keep the centre of the cluster warm until spring returns.")


def long_report(passages: int = 100) -> str:
    """A document of about `passages` passages, one paragraph on bees among them."""
    paragraphs = [BEES]
    for i in range(passages * 5):
        paragraphs.append(f"Section {i} records measurement {i * 7} of gauge {i % 13}, "
                          f"taken at station {i * 3 + 1} during survey round {i // 5}. "
                          "The values were checked twice and filed with the others.")
    return "Field survey report\n\n" + "\n\n".join(paragraphs)


class CountingEmbedder(Embedder):
    """Another embedder's vectors, counting the texts the model is run on."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.dim = inner.dim
        self.texts = 0

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += len(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def _index(store: Store, roots: list[Path], embedder: Embedder) -> IndexReport:
    report = IndexReport()
    indexer = Indexer(store)
    indexer.scan([bytes(r) for r in roots], report)
    indexer.embed_pending(embedder, report)
    return report


def _paths_found(store: Store, tmp_path: Path, embedder: Embedder, query: str) -> set[str]:
    dense = DenseIndex(store, embedder.model_id, embedder.dim, tmp_path / "v.hnsw")
    searcher = Searcher(store, lambda: (embedder, dense))
    found = set()
    for result in searcher.search(query, mode="dense", limit=5, floor=False):
        found.add(result.display_path)
        found.update(copy.display_path for copy in result.copies)
    return found


def test_a_copied_file_embeds_no_passage_and_both_are_found_by_meaning(
        store, tmp_path, real_embedder):
    root = tmp_path / "docs"
    write_files(root, {"reports/survey.txt": long_report()})
    counting = CountingEmbedder(real_embedder)
    first = _index(store, [root], counting)
    assert first.chunks_embedded == counting.texts >= 100

    shutil.copy(root / "reports/survey.txt", root / "survey-copy.txt")
    (root / "backup").mkdir()
    shutil.copy(root / "reports/survey.txt", root / "backup/survey.txt")
    counting.texts = 0
    second = _index(store, [root], counting)
    assert second.added == 2
    assert (second.chunks_embedded, counting.texts) == (0, 0)
    assert second.chunks_reused == 2 * first.chunks_embedded
    counts = store.counts(real_embedder.model_id)
    assert counts.embedded == counts.chunks == 3 * first.chunks_embedded
    found = _paths_found(store, tmp_path, real_embedder, "how do bees survive the cold")
    assert {str(root / "reports/survey.txt"), str(root / "survey-copy.txt"),
            str(root / "backup/survey.txt")} <= found


def test_a_moved_file_embeds_no_passage(store, tmp_path):
    root = tmp_path / "docs"
    write_files(root, {"a/survey.txt": long_report(20)})
    counting = CountingEmbedder(RandomEmbedder())
    first = _index(store, [root], counting)
    (root / "b").mkdir()
    (root / "a/survey.txt").rename(root / "b/survey.txt")
    counting.texts = 0
    moved = _index(store, [root], counting)
    assert (moved.added, moved.deleted, moved.chunks_embedded, counting.texts) == (1, 1, 0, 0)
    assert moved.chunks_reused == first.chunks_embedded
    assert store.counts().embedded == store.counts().chunks == first.chunks_embedded


def test_a_move_seen_by_the_watcher_embeds_no_passage(store, tmp_path):
    """The old path is queued before the new one, as watchdog reports a move."""
    root = tmp_path / "docs"
    write_files(root, {"a/survey.txt": long_report(20)})
    counting = CountingEmbedder(RandomEmbedder())
    _index(store, [root], counting)
    (root / "a/survey.txt").rename(root / "survey.txt")
    old, new = bytes(root / "a/survey.txt"), bytes(root / "survey.txt")
    with store.write():
        store.enqueue([old, new])
    report = IndexReport()
    indexer = Indexer(store)
    indexer.sync_paths(store.queued(10), [bytes(root)], report)
    counting.texts = 0
    indexer.embed_pending(counting, report)
    assert (report.added, report.deleted, report.chunks_embedded, counting.texts) == (1, 1, 0, 0)
    assert store.queue_length() == 0
    assert store.file_state(old) is None and store.file_state(new) is not None
    assert store.counts().embedded == store.counts().chunks > 0


def test_an_edit_embeds_only_the_passages_it_changed(store, tmp_path):
    root = tmp_path / "docs"
    text = long_report(20)
    write_files(root, {"survey.txt": text})
    counting = CountingEmbedder(RandomEmbedder())
    first = _index(store, [root], counting)
    (root / "survey.txt").write_text(text + "\n\nAn appendix on gauges, added later.")
    counting.texts = 0
    edited = _index(store, [root], counting)
    assert edited.updated == 1
    assert 0 < counting.texts <= 2 < first.chunks_embedded


def test_the_same_text_twice_in_one_batch_runs_the_model_once(store, tmp_path):
    root = tmp_path / "docs"
    write_files(root, {"one/notes.txt": long_report(5), "two/notes.txt": long_report(5)})
    counting = CountingEmbedder(RandomEmbedder())
    report = _index(store, [root], counting)
    assert report.added == 2
    assert counting.texts == report.chunks_embedded == store.counts().chunks // 2
    assert store.counts().embedded == store.counts().chunks


def test_a_different_title_is_embedded_again(store, tmp_path):
    """The title is part of what is embedded, so the same text under another title is
    another input to the model."""
    root = tmp_path / "docs"
    body = "\n\n".join(f"Paragraph {i} about gauges and stations." for i in range(40))
    write_files(root, {"one.md": "# Gauges\n\n" + body, "two.md": "# Stations\n\n" + body})
    counting = CountingEmbedder(RandomEmbedder())
    report = _index(store, [root], counting)
    assert counting.texts == report.chunks_embedded == store.counts().chunks


def test_an_index_from_schema_6_keys_its_passages_and_keeps_its_vectors(tmp_path):
    docs = tmp_path / "docs"
    write_files(docs, {"a/survey.txt": long_report(10)})
    db = tmp_path / "data" / "index.sqlite3"
    store = Store.open(db)
    counting = CountingEmbedder(RandomEmbedder())
    first = _index(store, [docs], counting)
    with store.write():  # what a schema 6 index looks like: no passage keys
        undo_passage_keys(store)
        store.conn.execute("PRAGMA user_version = 6")
    store.close()

    store = Store.open(db)
    assert schema.schema_version(store.conn) == schema.SCHEMA_VERSION
    assert store.counts().embedded == first.chunks_embedded  # nothing to embed again
    assert store.conn.execute("SELECT count(*) FROM chunks WHERE embed_key IS NULL"
                              ).fetchone()[0] == 0
    assert store.integrity_problems() == []
    shutil.copytree(docs / "a", docs / "b")
    counting.texts = 0
    copied = _index(store, [docs], counting)
    assert (copied.added, copied.chunks_embedded, counting.texts) == (1, 0, 0)
    store.close()
