"""A second `deskfind gui` start reaches the running one (the quick-search shortcut)."""

import os

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


def test_each_index_and_user_has_its_own_channel(tmp_path):
    a, b = channel_name(tmp_path / "a"), channel_name(tmp_path / "b")
    assert a != b and str(os.getuid()) in a


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
