"""The quick-search popup, the tray menu and the settings dialog."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from ui.settings import SettingsDialog
from ui.tray import QuickSearch, Tray


@pytest.fixture
def popup(qtbot, backend, make_session, monkeypatch):
    opened: list[bytes] = []
    monkeypatch.setattr("ui.desktop.open_file", lambda p, page=None: opened.append(p))
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


def test_settings_dialog_writes_the_config_file(qtbot, tmp_path, make_session, config_file):
    import tomllib

    from app.backend import Backend
    from app.config import Config, walk_rules
    from app.context import Options

    config_file.parent.mkdir()
    config_file.write_text('alpha = 0.5\nexclude = ["*.tmp"]\n')
    backend = Backend(Options(data_dir=str(tmp_path / "data")))  # finds it by DESKFIND_CONFIG
    (tmp_path / "notes").mkdir()
    backend.add_root(tmp_path / "notes")
    session = make_session(backend)
    session.refresh_status()
    qtbot.waitUntil(lambda: session.status is not None)
    dialog = SettingsDialog(session, autostart_dir=tmp_path / "autostart")
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.roots.count() == 1
    assert dialog.excludes.toPlainText() == "*.tmp"
    dialog.excludes.setPlainText("Archive\n\n*.bak\n")
    dialog.include_hidden.setChecked(True)
    dialog.threads.setValue(2)
    assert dialog.precision.currentText() == "auto"
    dialog.precision.setCurrentText("fp32")
    assert dialog.ocr.isChecked()  # OCR is on unless the settings say otherwise
    dialog.ocr.setChecked(False)
    dialog.autostart.setChecked(True)
    with qtbot.waitSignal(session.message):
        dialog.accept()
    saved = tomllib.loads(config_file.read_text())
    assert saved == {"roots": [str(tmp_path / "notes")], "exclude": ["Archive", "*.bak"],
                     "include_hidden": True, "model_dir": "", "embedding_precision": "fp32",
                     "threads": 2, "ocr": False, "alpha": 0.5}
    assert "# Index hidden files" in config_file.read_text()  # described, like the CLI's
    assert walk_rules(Config.load(config_file)).file_excluded("old.bak")
    assert (backend.options.threads, backend.options.precision) == (2, "fp32")
    entry = (tmp_path / "autostart" / "deskfind.desktop").read_text()
    assert "gui --hidden" in entry
    dialog.roots.setCurrentRow(0)
    with qtbot.waitSignal(session.status_changed, timeout=5000):
        dialog.remove.click()
    qtbot.waitUntil(lambda: dialog.roots.count() == 0)
    assert backend.roots() == [] and tomllib.loads(config_file.read_text())["roots"] == []
    backend.close()


def test_old_settings_json_and_index_roots_move_into_the_config(tmp_path, config_file):
    import json
    import tomllib

    from app.backend import Backend
    from app.context import Deskfind, Options

    data = tmp_path / "data"
    with Deskfind(Options(data_dir=str(data))) as df, df.store.write():
        df.store.add_root(b"/srv/notes")
    (data / "settings.json").write_text(json.dumps(
        {"exclude_patterns": ["Archive"], "model_dir": "", "threads": 3}))
    backend = Backend(Options(data_dir=str(data)))
    backend.close()
    assert tomllib.loads(config_file.read_text()) == {
        "roots": ["/srv/notes"], "exclude": ["Archive"], "threads": 3}
    assert not (data / "settings.json").exists()
