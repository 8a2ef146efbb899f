"""Every indexed format previews as text with its matches, without parsing it in the GUI."""

from __future__ import annotations

import pytest

from app.backend import Backend
from app.context import Deskfind, Options
from tests.helpers import write_files
from tests.indexer import documents
from ui.main_window import MainWindow

BODY = ["An introduction to the wombat burrow survey.",
        "Each wombat burrow was measured twice, and the wombat colony counted at dusk."]


@pytest.fixture
def window(qtbot, tmp_path, make_session):
    root, data = tmp_path / "docs", tmp_path / "data"
    write_files(root, {
        "survey.html": "<html><head><title>Survey</title></head><body>"
                       + "".join(f"<p>{p}</p>" for p in BODY) + "</body></html>",
        "survey.docx": documents.docx(BODY, "Survey report"),
        "survey.epub": documents.epub(BODY, "Survey book"),
    })
    with Deskfind(Options(data_dir=str(data))) as df:
        df.index([root])
    backend = Backend(Options(data_dir=str(data)), tmp_path / "config.toml")
    session = make_session(backend)
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    yield win
    backend.close()


@pytest.mark.parametrize("ext", ["html", "docx", "epub"])
def test_html_office_and_ebook_results_preview_with_their_matches(qtbot, window, ext,
                                                                  monkeypatch):
    parsed_here: list[str] = []
    monkeypatch.setattr("indexer.isolation.ExtractionPool.extract",
                        lambda *a, **k: parsed_here.append("pool") or None)
    window.mode_group.button(1).click()  # keywords
    window.field.setText(f"wombat ext:{ext}")
    qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=20_000)
    with qtbot.waitSignal(window.preview.shown, timeout=20_000):
        window.preview.show_result(window.model.result(0), window.search.query)
    preview = window.preview.text_preview
    assert preview is not None
    assert "Each wombat burrow" in preview.text and "counted at dusk" in preview.text
    assert len(preview.spans) == 3  # every "wombat" of the document
    assert all(preview.text[a:b].lower() == "wombat" for a, b in preview.spans)
    assert window.preview.stack.currentWidget() is window.preview.text_view
    assert parsed_here == []  # from the index's passages, not by parsing the file here
