"""Duplicate files: byte-identical by content hash, near-identical by fingerprint."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pymupdf
import pytest

from engine import duplicates
from engine.duplicates import DuplicateGroup, FileEntry, duplicate_groups
from engine.fingerprint import fingerprint
from engine.ids import FileId
from engine.store import Store
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import write_files
from tests.indexer.documents import docx

REPORT = [
    f"Paragraph {i}: the harbour authority reviewed ferry timetable {i}, weighing the "
    f"crews' shifts against the late summer evenings on island {i % 7} and the cost of "
    f"running boat number {i * 3} after ten at night." for i in range(30)]


def report_pdf(**save: object) -> bytes:
    """REPORT typeset as a PDF, wrapped to fit its pages."""
    doc = pymupdf.open()
    lines = [line for p in REPORT for line in (*textwrap.wrap(p, 80), "")]
    for start in range(0, len(lines), 40):
        doc.new_page().insert_text((50, 60), "\n".join(lines[start:start + 40]), fontsize=9)
    data: bytes = doc.tobytes(**save)
    doc.close()
    return data


def _groups(store: Store) -> list[duplicates.DuplicateGroup]:
    files = store.duplicate_candidates()
    prints = store.fingerprints([FileId(f.id) for f in files])
    return duplicate_groups(files, {int(k): v for k, v in prints.items()})


def test_a_copied_pdf_a_resaved_one_and_a_docx_export_are_one_group(store, tmp_path):
    root = tmp_path / "docs"
    original = report_pdf()
    write_files(root, {
        "reports/harbour.pdf": original,
        "backup/harbour.pdf": original,  # a copy
        "exports/harbour-resaved.pdf": report_pdf(garbage=4, deflate=True),
        "exports/harbour.docx": docx(REPORT),  # the same text exported from a word processor
        "notes/other.txt": "\n\n".join(p.replace("ferry", "bakery").replace("harbour", "mill")
                                       .replace("boat", "oven") + " Flour and yeast." * 3
                                       for p in REPORT[:6]),
        "a.txt": "The same small note, twice, byte for byte: buy rope and paint.",
        "b.txt": "The same small note, twice, byte for byte: buy rope and paint.",
        "empty1.txt": "", "empty2.txt": "",
    })
    Indexer(store).scan([bytes(root)], IndexReport())
    groups = _groups(store)
    names = [sorted(Path(f.display_path).relative_to(root).as_posix() for f in g.files)
             for g in groups]
    assert sorted(names) == [
        ["a.txt", "b.txt"],
        ["backup/harbour.pdf", "exports/harbour-resaved.pdf", "exports/harbour.docx",
         "reports/harbour.pdf"]]
    by_size = {len(g.files): g for g in groups}
    assert by_size[2].identical and not by_size[4].identical
    assert by_size[4].files[0].size == max(f.size for f in by_size[4].files)
    assert by_size[4].extra_bytes == by_size[4].total_bytes - by_size[4].files[0].size
    assert all(Path(f.display_path).exists() for g in groups for f in g.files)  # never deletes


@pytest.mark.parametrize("exact_up_to", [3000, 0])
def test_banded_comparison_finds_the_same_groups_as_all_pairs(monkeypatch, exact_up_to):
    monkeypatch.setattr(duplicates, "EXACT_PAIRS_UP_TO", exact_up_to)
    texts = [" ".join(f"topic{i} word{j} item{(i * j) % 17}" for j in range(200))
             for i in range(40)]
    files, prints = [], {}
    for i, text in enumerate(texts + [texts[3] + " a short appendix", texts[7]]):
        files.append(FileEntry(i, f"/f{i}".encode(), f"/f{i}", len(text), 0, None))
        found = fingerprint(text)
        assert found is not None
        prints[i] = found
    groups = duplicate_groups(files, prints)
    assert sorted(sorted(f.id for f in g.files) for g in groups) == [[3, 40], [7, 41]]


def test_a_group_crosses_the_service_channel_with_exact_paths():
    odd = b"/home/u/caf\xe9.txt"  # not UTF-8
    group = DuplicateGroup(True, (FileEntry(1, odd, "/home/u/caf\\xe9.txt", 10, 5, "h"),
                                  FileEntry(2, b"/home/u/b.txt", "/home/u/b.txt", 10, 6, "h")))
    back = DuplicateGroup.from_json(group.to_json())
    assert back.identical and [f.path for f in back.files] == [odd, b"/home/u/b.txt"]
    assert [(f.size, f.mtime_ns) for f in back.files] == [(10, 5), (10, 6)]
