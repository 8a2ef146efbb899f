"""The main window driven against a real index, as a user would with the keyboard."""

from __future__ import annotations

import dataclasses

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import PDF_PAGES
from ui.main_window import MainWindow


@pytest.fixture
def window(qtbot, backend, make_session, recorded):
    session = make_session(backend)
    win = MainWindow(session)
    win.opened = recorded
    qtbot.addWidget(win)
    win.show()
    session.refresh_status()
    qtbot.waitUntil(lambda: session.status is not None)
    return win


def search(qtbot, win, text, mode=None):
    if mode is not None:
        win.mode_group.button({"hybrid": 0, "lexical": 1, "dense": 2}[mode]).click()
    win.field.clear()
    qtbot.keyClicks(win.field, text)
    qtbot.waitUntil(lambda: win.search.last_query.startswith(text)
                    and win.model.rowCount() > 0, timeout=20_000)
    return [r.display_path for r in win.model.results]


def test_typing_a_query_shows_ranked_results(qtbot, window):
    paths = search(qtbot, window, "tomatoes")
    assert paths[0].endswith("tomatoes.md")
    assert window.list_stack.currentWidget() is window.list
    assert "document" in window.summary.text()


def test_keyboard_moves_the_selection_opens_reveals_and_clears(qtbot, window):
    search(qtbot, window, "tomatoes cache error", mode="lexical")
    assert window.model.rowCount() >= 3
    assert window.list.currentIndex().row() == 0
    qtbot.keyClick(window.field, Qt.Key.Key_Down)
    assert window.list.currentIndex().row() == 1
    qtbot.keyClick(window.field, Qt.Key.Key_Down)
    qtbot.keyClick(window.field, Qt.Key.Key_Up)
    assert window.list.currentIndex().row() == 1
    chosen = window.current_result()
    qtbot.keyClick(window.field, Qt.Key.Key_Return)
    qtbot.keyClick(window.field, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.opened == [("open", chosen.path), ("reveal", chosen.path)]
    qtbot.keyClick(window.field, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert QApplication.clipboard().text() == chosen.display_path
    qtbot.keyClick(window.field, Qt.Key.Key_Escape)
    assert window.field.text() == ""
    qtbot.waitUntil(lambda: window.model.rowCount() == 0)
    assert window.list_stack.currentWidget() is window.empty


def test_type_filter_narrows_the_results(qtbot, window):
    before = search(qtbot, window, "tomatoes cache error", mode="lexical")
    assert {p.rsplit(".", 1)[1] for p in before} >= {"md", "py", "txt"}
    window.type_box.setCurrentIndex(window.type_box.findText("Markdown"))
    assert "ext:md,markdown" in window.search.query
    qtbot.waitUntil(lambda: window.model.rowCount() > 0 and all(
        r.ext == "md" for r in window.model.results))
    assert [r.display_path for r in window.model.results][0].endswith("tomatoes.md")


def test_bad_filter_syntax_is_explained_not_raised(qtbot, window):
    window.field.setText("report after:yesterday")
    qtbot.waitUntil(lambda: "after:" in window.summary.text())
    assert window.model.rowCount() == 0


def test_a_phrase_found_nowhere_is_relaxed_with_a_banner_and_one_click_to_be_strict(
        qtbot, window):
    search(qtbot, window, '"tomatoes ripen deeply" water', mode="lexical")
    assert window.model.results[0].display_path.endswith("tomatoes.md")
    assert window.relaxed_banner.isVisibleTo(window)
    assert '"tomatoes ripen deeply"' in window.relaxed_label.text()
    window.strict_button.click()  # exactly as typed: nothing contains that phrase
    qtbot.waitUntil(lambda: window.list_stack.currentWidget() is window.empty)
    assert window.model.rowCount() == 0
    assert not window.relaxed_banner.isVisibleTo(window)
    qtbot.keyClicks(window.field, "s")  # a new query is relaxed again when it must be
    qtbot.waitUntil(lambda: window.model.rowCount() > 0, timeout=20_000)
    assert window.relaxed_banner.isVisibleTo(window)


def test_a_phrase_that_is_found_stays_strict_and_shows_no_banner(qtbot, window):
    search(qtbot, window, '"water the tomatoes"', mode="lexical")
    assert len(window.model.results) == 1
    assert window.model.results[0].display_path.endswith("tomatoes.md")
    assert not window.relaxed_banner.isVisibleTo(window)


def test_preview_highlights_every_match_and_steps_through_them(qtbot, window):
    search(qtbot, window, "tomatoes", mode="lexical")
    preview = window.preview
    qtbot.waitUntil(lambda: preview.text_preview is not None)
    text, spans = preview.text_preview.text, preview.text_preview.spans
    assert len(spans) == 3  # the title and twice in the body
    assert all(text[a:b].lower().startswith("tomato") for a, b in spans)
    assert len(preview.text_view.extraSelections()) == 1 + len(spans)  # passage + matches
    first = preview.current
    preview.next_button.click()
    assert preview.current == first + 1
    assert preview.position.text() == f"Match {first + 2} of 3"


def test_pdf_preview_shows_the_page_that_matched(qtbot, window, corpus, backend):
    results = backend.search("quarterly revenue", "lexical", 5).hits
    pdf = next((r for r in results if r.ext == "pdf"), None)
    if pdf is None:  # no PDF extractor in this build: preview the file all the same
        other = backend.search("tomatoes", "lexical", 1).hits[0]
        path = str(corpus[0] / "report.pdf")
        pdf = dataclasses.replace(other, path=path.encode(), display_path=path, ext="pdf",
                                  page=None)
    preview = window.preview
    with qtbot.waitSignal(preview.shown, timeout=20_000):
        preview.show_result(pdf, "quarterly revenue")
    page = preview.pdf_page
    assert (page.page, page.pages) == (2, len(PDF_PAGES))
    assert len(page.hits) == 2  # "Quarterly" and "revenue" boxed
    assert preview.position.text().startswith("Page 2 of 3")
    with qtbot.waitSignal(preview.shown):
        preview.next_button.click()
    assert preview.pdf_page.page == 3 and not preview.pdf_page.hits


def test_no_roots_shows_the_first_run_screen(qtbot, tmp_path, make_session):
    from app.backend import Backend
    from app.context import Options

    backend = Backend(Options(data_dir=str(tmp_path / "empty")))
    session = make_session(backend)
    win = MainWindow(session)
    qtbot.addWidget(win)
    session.refresh_status()
    qtbot.waitUntil(lambda: win.pages.currentWidget() is win.first_run)
    assert win.first_run.choose.isVisible() or not win.isVisible()
    backend.close()


def test_broken_index_still_opens_and_explains(qtbot, tmp_path):
    from app.context import Options
    from ui.app import open_session
    from ui.tasks import TaskRunner

    data = tmp_path / "data"
    data.mkdir()
    (data / "index.sqlite3").write_bytes(b"this is not a database" * 100)
    session = open_session(Options(data_dir=str(data)), TaskRunner())
    assert not session.ok and session.open_error
    win = MainWindow(session)
    qtbot.addWidget(win)
    assert win.pages.currentWidget() is win.error_page


def test_the_sentence_closest_in_meaning_is_marked_after_the_results(qtbot, window):
    paths = search(qtbot, window, "when is the fruit ready to pick", mode="hybrid")
    assert paths[0].endswith("tomatoes.md")
    qtbot.waitUntil(lambda: window.model.results[0].sentence is not None, timeout=20_000)
    hit = window.model.results[0]
    a, b = hit.sentence
    assert "ripen" in hit.snippet.text[a:b]
    search(qtbot, window, "tomatoes", mode="lexical")  # keyword mode: nothing to mark
    assert all(r.sentence is None for r in window.model.results)


def _meaning_pixels(window, row: int) -> int:
    from PySide6.QtGui import QColor

    from ui.results import meaning_color

    image = window.list.viewport().grab().toImage()
    rect = window.list.visualRect(window.model.index(row))
    wash = meaning_color(window.list.palette()).rgb()
    return sum(1 for y in range(rect.top(), rect.bottom(), 2)
               for x in range(rect.left(), rect.right(), 2)
               if QColor(image.pixel(x, y)).rgb() == wash)


def test_the_delegate_washes_the_marked_sentence_once_the_answer_arrives(qtbot, window):
    search(qtbot, window, "when is the fruit ready to pick", mode="hybrid")
    qtbot.waitUntil(lambda: window.model.results[0].sentence is not None, timeout=20_000)
    query = window.model.query
    unmarked = dataclasses.replace(window.model.results[0], sentence=None)
    window.model.set_results([unmarked, *window.model.results[1:]], query)
    assert _meaning_pixels(window, 0) == 0
    window.session.mark_sentences(query, [unmarked], "test-mark",
                                  lambda hits: window.model.mark(query, hits))
    qtbot.waitUntil(lambda: window.model.results[0].sentence is not None, timeout=20_000)
    assert _meaning_pixels(window, 0) > 50


def test_a_marking_answer_for_older_results_is_dropped(qtbot, window):
    search(qtbot, window, "when is the fruit ready to pick", mode="hybrid")
    old_query, old = window.model.query, window.model.results[0]
    marked = dataclasses.replace(old, sentence=(0, 5))
    search(qtbot, window, "error 0x80070005", mode="lexical")
    before = list(window.model.results)
    window.model.mark(old_query, [marked])  # the answer for the earlier query, late
    assert window.model.results == before
    window.model.mark(window.model.query,  # same query, but not the hit it shows
                      [dataclasses.replace(marked, char_start=marked.char_start + 1)])
    assert window.model.results == before


def test_enter_opens_a_pdf_result_at_its_page(qtbot, window, monkeypatch):
    opened = []
    monkeypatch.setattr("ui.desktop.open_file", lambda p, page=None: opened.append(page))
    search(qtbot, window, "quarterly revenue subscription", mode="lexical")
    assert window.current_result().display_path.endswith("report.pdf")
    qtbot.keyClick(window.field, Qt.Key.Key_Return)
    assert opened == [2]


@pytest.fixture(scope="module")
def manual_backend(tmp_path_factory):
    """A manual folder as Debian ships it: each page as HTML and as its .rst.txt."""
    from app.backend import Backend
    from app.context import Deskfind, Options
    from tests.helpers import manual_page_html, manual_page_rst, write_files

    root = tmp_path_factory.mktemp("manual") / "html"
    write_files(root, {"library/glob.html": manual_page_html("glob"),
                       "_sources/library/glob.rst.txt": manual_page_rst("glob"),
                       "library/fnmatch.html": manual_page_html("fnmatch")})
    data = tmp_path_factory.mktemp("manual-data")
    with Deskfind(Options(data_dir=str(data))) as df:
        df.index([root])
    b = Backend(Options(data_dir=str(data)),
                tmp_path_factory.mktemp("manual-config") / "config.toml")
    yield b
    b.close()


def test_a_page_and_its_source_are_one_row_whose_copy_can_be_opened(
        qtbot, manual_backend, make_session, recorded):
    opened = recorded
    session = make_session(manual_backend)
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    paths = search(qtbot, win, "recursive directories pattern", mode="lexical")
    glob_rows = [i for i, p in enumerate(paths) if "glob" in p]
    assert len(glob_rows) == 1, paths
    row = glob_rows[0]
    hit = win.model.result(row)
    (copy,) = hit.copies
    assert {hit.display_path.rsplit("/", 1)[1], copy.display_path.rsplit("/", 1)[1]} == \
        {"glob.html", "glob.rst.txt"}
    assert copy.display_path in win.model.data(win.model.index(row), Qt.ItemDataRole.ToolTipRole)

    menu = win.result_menu(hit)
    actions = {a.text(): a for a in menu.actions() if a.text()}
    assert any("+1 copy" in text for text in actions)
    opening = [a for text, a in actions.items() if text.startswith("Open ")]
    assert len(opening) == 1 and opening[0].text().endswith(copy.display_path.rsplit("/", 1)[1])
    opening[0].trigger()
    actions["Open"].trigger()
    [a for text, a in actions.items() if text.startswith("Show glob")][0].trigger()
    assert opened == [("open", copy.path), ("open", hit.path), ("reveal", copy.path)]


def test_a_grouped_row_says_how_many_copies_it_stands_for(qtbot, manual_backend,
                                                          make_session):
    from PySide6.QtGui import QImage, QPainter
    from PySide6.QtWidgets import QStyleOptionViewItem

    from ui.results import ResultDelegate

    session = make_session(manual_backend)
    win = MainWindow(session)
    qtbot.addWidget(win)
    win.show()
    paths = search(qtbot, win, "recursive directories pattern", mode="lexical")
    row = next(i for i, p in enumerate(paths) if "glob" in p)
    drawn: list[str] = []

    class Recording(QPainter):
        def drawText(self, *args):  # noqa: N802
            drawn.extend(a for a in args if isinstance(a, str))
            return super().drawText(*args)

    image = QImage(600, 120, QImage.Format.Format_ARGB32)
    painter = Recording(image)
    option = QStyleOptionViewItem()
    option.rect = image.rect()
    option.palette = win.list.palette()
    option.font = win.list.font()
    ResultDelegate(win.list).paint(painter, option, win.model.index(row))
    painter.end()
    assert any(text.startswith("+1 copy") for text in drawn), drawn
