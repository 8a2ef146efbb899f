"""A second `deskfind gui` start reaches the running one (the quick-search shortcut)."""

import os
import tempfile
from pathlib import Path

from PySide6.QtWidgets import QApplication

from ui.single import QUICK_COMMAND, SingleInstance, channel_name


def test_requests_reach_the_running_instance(qtbot, tmp_path):
    running = SingleInstance(tmp_path / "data")
    assert running.listen()
    try:
        later = SingleInstance(tmp_path / "data")
        with qtbot.waitSignal(running.requested, timeout=5000) as got:
            assert later.forward("quick")
        assert got.args == ["quick"]
        with qtbot.waitSignal(running.requested, timeout=5000) as got:
            assert later.forward("show")
        assert got.args == ["show"]
    finally:
        running.close()


def test_without_a_running_instance_nothing_answers(qtbot, tmp_path):
    assert not SingleInstance(tmp_path / "nobody-home").forward("quick", timeout_ms=200)


def test_each_index_has_its_own_channel_in_a_folder_only_this_user_enters(tmp_path,
                                                                        monkeypatch):
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    a, b = channel_name(tmp_path / "a"), channel_name(tmp_path / "b")
    assert a != b
    folder = os.stat(os.path.dirname(a))
    assert folder.st_uid == os.getuid() and not folder.st_mode & 0o077
    runtime = Path(tempfile.mkdtemp())  # short, 0700, like /run/user/UID
    try:
        monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
        assert os.path.dirname(channel_name(tmp_path / "a")) == str(runtime)
        runtime.chmod(0o755)  # a runtime dir others can enter is not used
        assert os.path.dirname(channel_name(tmp_path / "a")) != str(runtime)
    finally:
        runtime.rmdir()


def test_quick_flag_shows_the_popup_of_the_running_app(qtbot, tmp_path, backend,
                                                       make_session, monkeypatch):
    from app import paths
    from app.context import Options
    from ui.app import DeskfindGui
    from ui.command import main

    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)
    data = tmp_path / "data"
    app = QApplication.instance()
    gui = DeskfindGui(app, make_session(backend), Options(data_dir=str(data)), tray=False)
    app.aboutToQuit.disconnect(gui.shutdown)  # the shared backend outlives this app
    qtbot.addWidget(gui.window)
    qtbot.addWidget(gui.popup)
    running = SingleInstance(paths.data_dir(str(data)))
    assert running.listen()
    running.requested.connect(gui.handle_request)
    try:
        assert not gui.popup.isVisible() and not gui.window.isVisible()
        assert main(["gui", "--quick", "--data-dir", str(data)]) == 0  # hands over, exits
        qtbot.waitUntil(gui.popup.isVisible, timeout=5000)
        assert not gui.window.isVisible()
        assert main(["gui", "--data-dir", str(data)]) == 0
        qtbot.waitUntil(gui.window.isVisible, timeout=5000)
    finally:
        running.close()
        gui.session.stop_polling()


def test_the_settings_dialog_offers_the_shortcut_command(qtbot, tmp_path, backend,
                                                         make_session):
    from ui.settings import SettingsDialog

    dialog = SettingsDialog(make_session(backend), autostart_dir=tmp_path / "autostart")
    qtbot.addWidget(dialog)
    assert dialog.quick_command.text() == QUICK_COMMAND == "deskfind gui --quick"
    from PySide6.QtWidgets import QPushButton

    copy = next(b for b in dialog.findChildren(QPushButton) if b.text() == "Copy")
    QApplication.clipboard().clear()
    copy.click()
    assert QApplication.clipboard().text() == QUICK_COMMAND
