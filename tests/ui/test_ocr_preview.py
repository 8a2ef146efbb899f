"""The preview of a result read by OCR: the image, its recognised words outlined, hits boxed."""

from __future__ import annotations

import pytest

from app.backend import Hit
from engine.snippets import Snippet
from indexer.formats.ocr import find_tessdata
from tests.indexer import documents
from ui.preview import PreviewPane

pytestmark = pytest.mark.skipif(find_tessdata() is None,
                                reason="Tesseract's English data is not installed")


def _hit(path, ext: str, ocr: bool) -> Hit:
    return Hit(path=bytes(path), display_path=str(path), title="screenshot", ext=ext,
               mtime_ns=0, score=1.0, lexical=1.0, dense=0.0, matched_by="keyword",
               page=None, char_start=0, char_end=10, snippet=Snippet("", (), 0), ocr=ocr)


def test_an_ocr_result_shows_its_image_with_the_words_outlined(qtbot, tmp_path, backend,
                                                               make_session):
    path = tmp_path / "screenshot.png"
    path.write_bytes(documents.text_image(["Error: quarantine folder unavailable",
                                           "Retry the walrus uploader"]))
    pane = PreviewPane(make_session(backend))
    qtbot.addWidget(pane)
    pane.resize(600, 500)
    pane.show()
    with qtbot.waitSignal(pane.shown, timeout=60_000):
        pane.show_result(_hit(path, "png", True), "walrus")
    page = pane.pdf_page
    assert page is not None and pane.stack.currentWidget() is pane.pdf_scroll
    assert len(page.hits) == 1  # "walrus", found among the words OCR read
    assert page.ocr_words >= 8  # every word of the two lines outlined
    assert "read by OCR" in pane.position.text()


def test_an_image_not_read_by_ocr_is_previewed_as_text(qtbot, tmp_path, backend,
                                                       make_session, monkeypatch):
    path = tmp_path / "screenshot.png"
    path.write_bytes(documents.text_image(["nothing to see"]))
    asked: list[bytes] = []
    monkeypatch.setattr(backend, "document_text", lambda p, ext: asked.append(p) or "")
    pane = PreviewPane(make_session(backend))
    qtbot.addWidget(pane)
    with qtbot.waitSignal(pane.shown, timeout=20_000):
        pane.show_result(_hit(path, "png", False), "walrus")
    assert pane.pdf_page is None and asked == [bytes(path)]
