"""OCR: scanned PDF pages and images read by Tesseract, after every other file, marked."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.values import Hit
from engine.search import Searcher
from indexer.formats.ocr import find_tessdata
from indexer.isolation import ExtractionPool
from indexer.ocr import OcrSettings
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import keyword_hits, scan_folder
from tests.indexer import documents

pytestmark = pytest.mark.skipif(find_tessdata() is None,
                                reason="Tesseract's English data is not installed "
                                       "(apt-get install tesseract-ocr-eng; .ci/run does)")

SCAN = ["The lighthouse keeper counted", "seventeen herons at dawn"]
SCREENSHOT = ["Error: quarantine folder unavailable", "Retry the walrus uploader"]


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir()
    return folder


def _scan(store, root: Path, **indexer: object) -> IndexReport:
    report = IndexReport()
    with Indexer(store, **indexer) as ix:  # type: ignore[arg-type]
        ix.scan([bytes(root)], report)
    return report


def _status(store, path: Path) -> tuple[str, str]:
    row = store.conn.execute("SELECT status, coalesce(reason, '') FROM files WHERE path = ?",
                             (os.fsencode(path),)).fetchone()
    return row[0], row[1]


def test_a_scanned_pdf_is_found_by_a_phrase_and_marked_as_ocr(store, root):
    (root / "scan.pdf").write_bytes(documents.scanned_pdf([SCAN]))
    (root / "typed.pdf").write_bytes(documents.pdf(["the herons of the typed report"]))
    report = scan_folder(store, root)
    assert report.failures == []
    assert keyword_hits(store, '"seventeen herons"') == [str(root / "scan.pdf")]
    results = {r.display_path: r for r in Searcher(store, None).search("herons",
                                                                       mode="lexical")}
    assert results[str(root / "scan.pdf")].ocr is True
    assert results[str(root / "typed.pdf")].ocr is False
    # `deskfind search --json` says which text came from OCR.
    assert Hit.from_result(results[str(root / "scan.pdf")]).to_json()["ocr"] is True
    assert Hit.from_result(results[str(root / "typed.pdf")]).to_json()["ocr"] is False


@pytest.mark.parametrize("fmt", ["png", "jpg", "tiff", "webp"])
def test_a_screenshot_is_found_by_a_phrase(store, root, fmt):
    path = root / f"screenshot.{fmt}"
    path.write_bytes(documents.text_image(SCREENSHOT, fmt=fmt))
    assert scan_folder(store, root).failures == []
    assert keyword_hits(store, '"walrus uploader"') == [str(path)]
    [hit] = Searcher(store, None).search("quarantine", mode="lexical")
    assert hit.ocr is True and hit.title == "screenshot"


def test_a_damaged_image_is_recorded_failed_with_a_reason(store, root):
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    (root / "note.txt").write_text("a note about herons\n")
    report = scan_folder(store, root)
    [(path, reason)] = report.failures
    assert path == str(root / "broken.png") and reason.startswith("cannot read the image")
    assert keyword_hits(store, "herons") == [str(root / "note.txt")]


def test_only_the_pages_without_a_text_layer_are_read_by_ocr(store, root):
    (root / "mixed.pdf").write_bytes(documents.scanned_pdf(
        ["a typed cover page about pelicans", SCAN]))
    assert scan_folder(store, root).failures == []
    [typed] = Searcher(store, None).search("pelicans", mode="lexical")
    [scanned] = Searcher(store, None).search('"seventeen herons"', mode="lexical")
    assert (typed.page, typed.ocr) == (1, False)
    assert (scanned.page, scanned.ocr) == (2, True)


def test_ocr_off_reads_no_image(store, root):
    (root / "scan.pdf").write_bytes(documents.scanned_pdf([SCAN]))
    (root / "shot.png").write_bytes(documents.text_image(SCREENSHOT))
    (root / "mixed.pdf").write_bytes(documents.scanned_pdf(["typed pelicans", SCAN]))
    _scan(store, root, ocr=None)
    assert keyword_hits(store, "herons") == []
    assert keyword_hits(store, "walrus") == []
    assert keyword_hits(store, "pelicans") == [str(root / "mixed.pdf")]  # its text layer
    status, reason = _status(store, root / "shot.png")
    assert status == "skipped" and "OCR" in reason and "off" in reason
    status, reason = _status(store, root / "scan.pdf")
    assert status == "skipped" and reason.startswith("no text layer") and "off" in reason


def test_a_missing_engine_skips_with_what_to_install_then_reads_once_installed(
        store, root, tmp_path, monkeypatch):
    (root / "shot.png").write_bytes(documents.text_image(SCREENSHOT))
    (root / "scan.pdf").write_bytes(documents.scanned_pdf([SCAN]))
    empty = tmp_path / "no-tessdata"
    empty.mkdir()
    monkeypatch.setenv("TESSDATA_PREFIX", str(empty))
    report = scan_folder(store, root)
    assert report.failures == [] and report.skipped == 2
    for name in ("shot.png", "scan.pdf"):
        status, reason = _status(store, root / name)
        assert status == "skipped" and "apt-get install tesseract-ocr-eng" in reason
    monkeypatch.delenv("TESSDATA_PREFIX")
    scan_folder(store, root)  # the files did not change; OCR can run now
    assert keyword_hits(store, "walrus") == [str(root / "shot.png")]
    assert keyword_hits(store, "herons") == [str(root / "scan.pdf")]


class _WatchingPool(ExtractionPool):
    """A pool that counts OCR jobs and notes, at the first, what keyword search finds."""

    def __init__(self, store) -> None:
        super().__init__()
        self.store = store
        self.found_at_first_ocr: list[str] | None = None
        self.ocr_jobs = 0

    def call(self, function, data, name, *, timeout_s=None):
        if "ocr" in getattr(function, "__name__", "") + repr(function):
            self.ocr_jobs += 1
            if self.found_at_first_ocr is None:
                self.found_at_first_ocr = keyword_hits(self.store, "ordinary")
        return super().call(function, data, name, timeout_s=timeout_s)


def test_blank_pages_and_empty_slides_need_no_ocr(store, root):
    import pymupdf

    doc = pymupdf.open()
    doc.new_page().insert_text((72, 72), "an ordinary typed page")
    doc.new_page()  # blank: no text, no picture
    (root / "blank-page.pdf").write_bytes(doc.tobytes())
    (root / "deck.pptx").write_bytes(documents.pptx(["an ordinary slide", ""]))
    pool = _WatchingPool(store)
    with pool:
        report = _scan(store, root, pool=pool)
    assert report.failures == [] and pool.ocr_jobs == 0
    assert sorted(keyword_hits(store, "ordinary")) == [str(root / "blank-page.pdf"),
                                                       str(root / "deck.pptx")]


def test_ordinary_files_are_searchable_before_ocr_starts(store, root):
    # "a…" sorts first: the walk meets the image before the text files.
    (root / "a-scan.png").write_bytes(documents.text_image(SCREENSHOT))
    for n in range(3):
        (root / f"note{n}.txt").write_text(f"an ordinary note number {n}\n")
    (root / "z.pdf").write_bytes(documents.pdf(["an ordinary typed page"]))
    pool = _WatchingPool(store)
    with pool:
        _scan(store, root, pool=pool)
    assert pool.found_at_first_ocr is not None
    assert len(pool.found_at_first_ocr) == 4  # every ordinary file, before any OCR
    assert keyword_hits(store, "walrus") == [str(root / "a-scan.png")]


def test_a_page_over_its_time_budget_is_left_out_and_indexing_goes_on(store, root):
    (root / "scan.pdf").write_bytes(documents.scanned_pdf([SCAN]))
    (root / "note.txt").write_text("a note about herons\n")
    report = _scan(store, root, ocr=OcrSettings(page_timeout_s=0.001))
    assert report.failures == [(str(root / "scan.pdf"), "OCR found no text")]
    assert keyword_hits(store, "herons") == [str(root / "note.txt")]


def test_queued_files_needing_ocr_are_read_after_the_rest_and_then_leave_the_queue(store,
                                                                                   root):
    (root / "a-shot.png").write_bytes(documents.text_image(SCREENSHOT))
    (root / "note.txt").write_text("an ordinary note\n")
    with store.write():
        store.add_root(bytes(root))
        store.enqueue([bytes(root / "a-shot.png"), bytes(root / "note.txt")])
    pool = _WatchingPool(store)
    report = IndexReport()
    with pool, Indexer(store, pool=pool) as ix:
        ix.sync_paths(store.queued(10), [bytes(root)], report)
    assert pool.found_at_first_ocr == [str(root / "note.txt")]
    assert keyword_hits(store, "walrus") == [str(root / "a-shot.png")]
    assert store.queue_length() == 0 and report.added == 2
