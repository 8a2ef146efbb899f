"""The Related list under the preview and the duplicates window of the status area,
driven against real indexes: through the index opened here and through a service."""

from __future__ import annotations

import os
import shutil

import pytest

from app.backend import Backend
from app.context import Deskfind, Options
from engine.store import Store
from indexer.pipeline import Indexer, IndexReport
from tests.app.test_service import Running
from tests.engine.test_related import NOTES
from tests.helpers import wait_until, write_files
from ui.main_window import MainWindow
from ui.related import NOTHING_CLOSE


def names(paths) -> list[str]:
    return [os.path.basename(p) for p in paths]


@pytest.fixture(scope="module")
def notes_backend(tmp_path_factory):
    """The notes of the related-files engine test, and a byte copy of one of them."""
    root = tmp_path_factory.mktemp("notes-home") / "notes"
    write_files(root, NOTES)
    shutil.copy(root / "bees.md", root / "bees-copy.md")
    data = tmp_path_factory.mktemp("notes-data")
    with Deskfind(Options(data_dir=str(data))) as df:
        df.index([root])
    b = Backend(Options(data_dir=str(data)),
                tmp_path_factory.mktemp("notes-config") / "config.toml")
    yield b, root
    b.close()


def window_on(qtbot, make_session, backend: Backend) -> MainWindow:
    win = MainWindow(make_session(backend))
    qtbot.addWidget(win)
    win.show()
    win.session.refresh_status()
    qtbot.waitUntil(lambda: win.session.status is not None)
    return win


def select(qtbot, win: MainWindow, query: str, name: str) -> None:
    """Search in keyword mode and select the result called `name` (or the row that
    stands for it and its copies)."""
    win.mode_group.button(1).click()
    win.field.setText(query)
    qtbot.waitUntil(lambda: win.search.last_query == query and win.model.rowCount() > 0,
                    timeout=20_000)
    row = next(i for i, r in enumerate(win.model.results)
               if name in names([r.display_path, *(c.display_path for c in r.copies)]))
    win.list.setCurrentIndex(win.model.index(row, 0))


def test_selecting_a_note_shows_its_paraphrased_sibling_first_in_related(
        qtbot, notes_backend, make_session, recorded):
    backend, root = notes_backend
    win = window_on(qtbot, make_session, backend)
    select(qtbot, win, "honey bees hibernate", "bees.md")
    pane = win.related
    qtbot.waitUntil(lambda: len(pane.related) > 0, timeout=20_000)
    shown = names(r.display_path for r in pane.related)
    assert shown[0] == "hive-cold.md"
    assert "bees.md" not in shown and "bees-copy.md" not in shown  # itself and its copy
    assert pane.stack.currentWidget() is pane.list
    first = pane.list.itemWidget(pane.list.item(0)).text()
    assert "hive-cold.md" in first and "queen" in first  # the linking passage pair

    # A click previews the related file at its linking passage, like a result.
    pane.list.clicked.emit(pane.list.model().index(0, 0))
    qtbot.waitUntil(lambda: win.preview.text_preview is not None
                    and win.preview.result.path == pane.related[0].path)
    start, end = win.preview.text_preview.passage
    assert "queen" in win.preview.text_preview.text[start:end]
    assert names(r.display_path for r in pane.related)[0] == "hive-cold.md"  # list stays
    pane.list.activated.emit(pane.list.model().index(0, 0))  # Enter or a double click
    assert recorded == [("open", bytes(root / "hive-cold.md"))]
    actions = {a.text(): a for a in pane.menu(pane.hit(0)).actions()}
    actions["Show in folder"].trigger()
    assert recorded[-1] == ("reveal", bytes(root / "hive-cold.md"))


def test_related_files_on_the_context_menu_selects_the_result_and_focuses_its_list(
        qtbot, notes_backend, make_session, recorded):
    backend, _ = notes_backend
    win = window_on(qtbot, make_session, backend)
    select(qtbot, win, "honey bees hibernate hive cold", "bees.md")
    other = next(r for r in win.model.results if r.display_path.endswith("hive-cold.md"))
    actions = {a.text(): a for a in win.result_menu(other).actions() if a.text()}
    actions["Related files"].trigger()
    assert win.current_result().path == other.path
    qtbot.waitUntil(lambda: len(win.related.related) > 0, timeout=20_000)
    assert names(r.display_path for r in win.related.related)[0] in ("bees.md",
                                                                     "bees-copy.md")


def test_a_new_selection_drops_the_answer_for_the_old_one(qtbot, notes_backend,
                                                          make_session, recorded):
    backend, _ = notes_backend
    win = window_on(qtbot, make_session, backend)
    select(qtbot, win, "bread sourdough volcano magma", "bread.txt")
    select(qtbot, win, "bread sourdough volcano magma", "volcano.txt")
    qtbot.waitUntil(lambda: len(win.related.related) > 0, timeout=20_000)
    assert win.related.source.display_path.endswith("volcano.txt")
    assert "volcano.txt" not in names(r.display_path for r in win.related.related)
    assert "bread.txt" in names(r.display_path for r in win.related.related)


def test_a_file_without_vectors_says_embedding_is_in_progress(qtbot, tmp_path, make_session):
    root = tmp_path / "notes"
    write_files(root, {"bees.md": NOTES["bees.md"], "ants.md": NOTES["ants.md"]})
    data = tmp_path / "data"
    with Deskfind(Options(data_dir=str(data))):
        pass  # makes the data dir and schema
    store = Store.open(data / "index.sqlite3")
    Indexer(store).scan([bytes(root)], IndexReport())  # phase 1 only: no vectors
    store.close()
    backend = Backend(Options(data_dir=str(data)), tmp_path / "config.toml")
    try:
        win = window_on(qtbot, make_session, backend)
        select(qtbot, win, "bees", "bees.md")
        qtbot.waitUntil(lambda: "embedding in progress" in win.related.note.text(),
                        timeout=20_000)
        assert win.related.stack.currentWidget() is win.related.note
        assert win.related.related == []
    finally:
        win.session.runner.wait(20_000)
        backend.close()


def test_a_lone_file_says_nothing_is_close(qtbot, tmp_path, make_session):
    root = tmp_path / "notes"
    write_files(root, {"bees.md": NOTES["bees.md"]})
    data = tmp_path / "data"
    with Deskfind(Options(data_dir=str(data))) as df:
        df.index([root])
    backend = Backend(Options(data_dir=str(data)), tmp_path / "config.toml")
    try:
        win = window_on(qtbot, make_session, backend)
        select(qtbot, win, "bees", "bees.md")
        qtbot.waitUntil(lambda: win.related.note.text() == NOTHING_CLOSE, timeout=20_000)
    finally:
        win.session.runner.wait(20_000)
        backend.close()


def test_the_status_area_lists_a_copied_files_group_and_shows_each_in_its_folder(
        qtbot, notes_backend, make_session, recorded):
    backend, root = notes_backend
    win = window_on(qtbot, make_session, backend)
    area = win.status_area
    assert area.duplicates.isVisibleTo(win)
    dialog = area.show_duplicates()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: dialog.groups is not None, timeout=20_000)
    assert dialog.tree.topLevelItemCount() == 1
    group = dialog.tree.topLevelItem(0)
    assert group.text(0).startswith("Identical · 2 files")
    paths = sorted(dialog.path_of(group.child(i)) for i in range(group.childCount()))
    assert paths == [bytes(root / "bees-copy.md"), bytes(root / "bees.md")]
    size = os.path.getsize(root / "bees.md")
    assert group.child(0).text(1) == f"{size:,} bytes"
    assert "1 group of duplicates" in dialog.summary.text()

    dialog.tree.setCurrentItem(group.child(1))
    dialog.reveal_button.click()
    actions = {a.text(): a for a in dialog.menu_for(group.child(0)).actions()}
    actions["Show in folder"].trigger()
    actions["Open"].trigger()
    assert recorded == [("reveal", dialog.path_of(group.child(1))),
                        ("reveal", dialog.path_of(group.child(0))),
                        ("open", dialog.path_of(group.child(0)))]
    assert dialog.menu_for(group) is None  # the group's own row is no file
    assert all((root / name).exists() for name in ("bees.md", "bees-copy.md"))


def test_related_and_duplicates_come_from_a_running_service(tmp_path, ipc_ops):
    root = tmp_path / "root"
    svc = Running(tmp_path, [root])
    svc.start_on(root, {**NOTES, "bees-copy.md": NOTES["bees.md"]})
    try:
        wait_until(svc.settled, timeout=90)
        backend = Backend(Options(data_dir=str(svc.data)), svc.config)
        try:
            backend.status()  # finds the service running
            found = backend.related(bytes(root / "bees.md"))
            assert names(r.display_path for r in found)[0] == "hive-cold.md"
            assert found[0].path == bytes(root / "hive-cold.md") and found[0].ext == "md"
            assert "queen" in found[0].source_text
            (group,) = backend.duplicates()
            assert group.identical and sorted(f.path for f in group.files) == [
                bytes(root / "bees-copy.md"), bytes(root / "bees.md")]
            assert {"related", "duplicates"} <= set(ipc_ops)
            with pytest.raises(Exception, match="not indexed"):
                backend.related(bytes(root / "missing.md"))
        finally:
            backend.close()
    finally:
        svc.stop()


def test_closing_the_window_while_related_files_are_found_drops_the_answer(
        qtbot, notes_backend, make_session, recorded):
    from PySide6.QtCore import QCoreApplication, QEvent

    backend, _ = notes_backend
    win = MainWindow(make_session(backend))
    win.show()
    select(qtbot, win, "honey bees hibernate", "bees.md")
    runner = win.session.runner
    win.related._ask()  # the request is out now, not after the pause
    dialog = win.status_area.show_duplicates()  # and the duplicates are being loaded
    dialog.close()  # deletes itself
    win.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    runner.wait(20_000)
    qtbot.waitUntil(lambda: not runner.busy)  # answers delivered to nobody, no error


def test_asking_after_the_index_closed_says_so_in_the_panes(qtbot, tmp_path, make_session):
    """The app shutting down with a request still out: the index's own "closed" failure
    (no engine error) is shown in the Related list and the duplicates window, not
    raised in the event loop."""
    root = tmp_path / "notes"
    write_files(root, {"bees.md": NOTES["bees.md"], "ants.md": NOTES["ants.md"]})
    data = tmp_path / "data"
    with Deskfind(Options(data_dir=str(data))) as df:
        df.index([root])
    backend = Backend(Options(data_dir=str(data)), tmp_path / "config.toml")
    win = window_on(qtbot, make_session, backend)
    select(qtbot, win, "bees", "bees.md")
    win.session.runner.wait(20_000)
    backend.close()
    with qtbot.waitSignal(win.related.shown, timeout=20_000) as shown:
        win.related._ask()
    assert str(shown.args[0]) == "the index is closed"
    assert win.related.note.text() == "The index is closed."
    assert win.related.stack.currentWidget() is win.related.note
    dialog = win.status_area.show_duplicates()
    qtbot.addWidget(dialog)
    qtbot.waitUntil(lambda: "closed" in dialog.summary.text(), timeout=20_000)
    assert dialog.summary.text() == "Cannot look for duplicates: the index is closed"
