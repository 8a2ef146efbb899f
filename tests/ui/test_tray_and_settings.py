"""The quick-search popup, the tray menu and the settings dialog."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from ui.settings import SettingsDialog
from ui.tray import QuickSearch, Tray


@pytest.fixture
def popup(qtbot, backend, make_session, monkeypatch):
    opened: list[bytes] = []
    monkeypatch.setattr("ui.desktop.open_file", opened.append)
    session = make_session(backend)
    widget = QuickSearch(session)
    widget.opened_paths = opened
    qtbot.addWidget(widget)
    return widget


def test_quick_search_finds_navigates_and_opens(qtbot, popup):
    popup.popup()
    assert popup.isVisible()
    qtbot.keyClicks(popup.field, "tomatoes cache error")
    qtbot.waitUntil(lambda: popup.model.rowCount() >= 2, timeout=20_000)
    assert popup.list.isVisible()
    qtbot.keyClick(popup.field, Qt.Key.Key_Down)
    assert popup.list.currentIndex().row() == 1
    chosen = popup.current_result()
    qtbot.keyClick(popup.field, Qt.Key.Key_Return)
    assert popup.opened_paths == [chosen.path]
    assert not popup.isVisible()


def test_escape_clears_then_hides(qtbot, popup):
    popup.popup()
    popup.field.setText("tomatoes")
    qtbot.keyClick(popup.field, Qt.Key.Key_Escape)
    assert popup.field.text() == "" and popup.isVisible()
    qtbot.keyClick(popup.field, Qt.Key.Key_Escape)
    assert not popup.isVisible()


def test_tray_tooltip_follows_the_status(qtbot, backend, make_session):
    session = make_session(backend)
    popup = QuickSearch(session)
    qtbot.addWidget(popup)
    tray = Tray(session, popup)
    session.refresh_status()
    qtbot.waitUntil(lambda: "searchable" in tray.icon.toolTip())
    assert "could not be read" in tray.icon.toolTip()  # broken.txt
    assert [a.text() for a in tray.menu.actions() if a.text()][:2] == [
        "Quick search…", "Open Deskfind"]


def test_settings_save_patterns_and_start_at_login(qtbot, tmp_path, make_session):
    from app.backend import Backend
    from app.context import Options

    backend = Backend(Options(data_dir=str(tmp_path / "data")))
    (tmp_path / "notes").mkdir()
    backend.add_root(tmp_path / "notes")
    session = make_session(backend)
    session.refresh_status()
    qtbot.waitUntil(lambda: session.status is not None)
    dialog = SettingsDialog(session, autostart_dir=tmp_path / "autostart")
    qtbot.addWidget(dialog)
    assert dialog.roots.count() == 1
    dialog.excludes.setPlainText("Archive\n\n*.bak\n")
    dialog.threads.setValue(2)
    dialog.autostart.setChecked(True)
    with qtbot.waitSignal(session.message):
        dialog.accept()
    assert backend.settings.exclude_patterns == ("Archive", "*.bak")
    assert backend.settings.walk_rules().file_excluded("old.bak")
    entry = (tmp_path / "autostart" / "deskfind.desktop").read_text()
    assert "gui --hidden" in entry
    dialog.roots.setCurrentRow(0)
    with qtbot.waitSignal(session.status_changed, timeout=5000):
        dialog.remove.click()
    qtbot.waitUntil(lambda: dialog.roots.count() == 0)
    assert backend.roots() == []
    backend.close()
