import os
from pathlib import Path

import pytest

from engine.store import Store
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import write_files


def _index(store: Store, root: Path, embedder) -> IndexReport:
    report = IndexReport()
    indexer = Indexer(store)
    indexer.scan([bytes(root)], report)
    indexer.embed_pending(embedder, report)
    return report


def _corpus(n: int) -> dict[str, str]:
    topics = ["rivers", "volcanoes", "bread", "compilers", "violins", "glaciers"]
    return {f"{topics[i % 6]}/note{i:03d}.md": f"# Note {i}\n\nThis note {i} is about "
            f"{topics[i % 6]} and item{i} specifically. " * 3 for i in range(n)}


def test_reindex_only_redoes_what_changed(store, tmp_path, real_embedder):
    root = tmp_path / "docs"
    write_files(root, _corpus(300))
    first = _index(store, root, real_embedder)
    assert (first.added, first.failed) == (300, 0)
    assert first.chunks_embedded == store.counts().chunks > 0

    again = _index(store, root, real_embedder)
    assert (again.added, again.updated, again.unchanged, again.chunks_embedded) == (0, 0, 300, 0)

    edited = root / "rivers/note000.md"
    edited.write_text("# Note 0\n\nNow about the zeppelin hangar at Friedrichshafen.\n")
    (root / "bread/note002.md").unlink()
    os.utime(root / "violins/note004.md")  # touched, content unchanged
    third = _index(store, root, real_embedder)
    assert (third.updated, third.deleted, third.added) == (1, 1, 0)
    assert third.chunks_embedded == 1  # only the edited file's single passage
    assert store.fts_search('"zeppelin"', 5)
    assert store.fts_search('"item2"', 5) == []
    assert store.counts().files == 299
    assert store.integrity_problems() == []


def test_bad_files_are_recorded_not_fatal(store, tmp_path, real_embedder):
    root = tmp_path / "docs"
    write_files(root, {
        "good.txt": "perfectly fine text",
        "binary.txt": b"\x00\x01\x02garbage\x00" * 100,
        "latin1.txt": "café crème brûlée, déjà vu naïve".encode("latin-1"),
        "clip.wav": b"RIFF\r\n",  # no extractor (images are read by OCR now)
    })
    report = _index(store, root, real_embedder)
    assert report.added == 2 and report.failed == 1 and report.skipped == 1
    reasons = dict(report.failures)
    assert "binary" in reasons[str(root / "binary.txt")]
    assert store.fts_search('"brûlée"', 5)
    statuses = {p: s for p, s, _ in store.failures()}
    assert statuses[str(root / "clip.wav")] == "skipped"


def test_unreadable_file_is_recorded(store, tmp_path, real_embedder, monkeypatch):
    root = tmp_path / "docs"
    write_files(root, {"locked.txt": "secret", "open.txt": "visible words"})
    real_open = os.open  # tests run as root here: chmod 000 would not stop the read

    def guarded_open(path, *args, **kwargs):
        if os.fsdecode(path).endswith("locked.txt"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", guarded_open)
    report = _index(store, root, real_embedder)
    assert report.failures == [(str(root / "locked.txt"), "cannot read: Permission denied")]
    assert report.added == 1


def test_a_file_that_turns_binary_loses_its_old_passages(store, tmp_path, real_embedder):
    root = tmp_path / "docs"
    write_files(root, {"a.txt": "unique marmalade words"})
    _index(store, root, real_embedder)
    (root / "a.txt").write_bytes(b"\x00" * 64)
    _index(store, root, real_embedder)
    assert store.fts_search('"marmalade"', 5) == []


def test_non_utf8_names_are_indexed_exactly(store, tmp_path, real_embedder):
    root = tmp_path / "docs"
    root.mkdir()
    raw = os.path.join(bytes(root), b"r\xe9sum\xe9.txt")
    with open(raw, "wb") as fh:
        fh.write(b"curriculum vitae of a cartographer")
    _index(store, root, real_embedder)
    rows = store.chunk_rows([c for c, _ in store.fts_search('"cartographer"', 5)])
    assert [r.path for r in rows.values()] == [raw]


@pytest.mark.parametrize("name", ["notes.md", "code.py", "plain.txt"])
def test_titles_come_from_the_content_or_the_name(store, tmp_path, real_embedder, name):
    root = tmp_path / "docs"
    write_files(root, {name: "# Heading Here\n\nbody text\n" if name.endswith(".md") else
                       "First line title\n\nbody\n"})
    _index(store, root, real_embedder)
    title = store.conn.execute("SELECT title FROM files").fetchone()[0]
    assert title == {"notes.md": "Heading Here", "code.py": "code.py",
                     "plain.txt": "First line title"}[name]


RST_PAGE = (".. _api-reference:\n\n.. highlight:: none\n   :linenothreshold: 5\n\n"
            ":mod:`json` --- JSON encoder and decoder\n"
            "========================================\n\nThe json module encodes values.\n")


def test_titles_are_what_each_format_calls_a_title_never_markup_or_a_licence(store,
                                                                             tmp_path):
    from tests.indexer import documents

    root = tmp_path / "docs"
    write_files(root, {
        "library/json.rst": RST_PAGE,
        "_sources/library/json.rst.txt": RST_PAGE,
        "notes.md": "<!-- draft -->\n\n# Meeting notes\n\nbody\n",
        "page.html": "<html><head><title>Release notes</title></head><body><p>x</p></body>",
        "license-first.txt": "# Copyright 2024 Example Ltd.\n# SPDX-License-Identifier: MIT\n\n"
                             "Backup procedure\n\nSteps follow.\n",
        "todo.org": "#+TITLE: Garden plans\n#+AUTHOR: me\n\n* Tomatoes\n",
        "guide.adoc": "= Install guide\n\n== Requirements\n",
        "report.pdf": documents.pdf(["Quarterly report\n\nRevenue grew."], title="Q3 report"),
    })
    with Indexer(store) as indexer:
        indexer.scan([bytes(root)], IndexReport())
    titles = {os.path.relpath(p.decode(), root): t for p, t in
              store.conn.execute("SELECT path, title FROM files")}
    assert titles == {
        "library/json.rst": "json --- JSON encoder and decoder",
        "_sources/library/json.rst.txt": "json --- JSON encoder and decoder",
        "notes.md": "Meeting notes", "page.html": "Release notes",
        "license-first.txt": "Backup procedure", "todo.org": "Garden plans",
        "guide.adoc": "Install guide", "report.pdf": "Q3 report",
    }
