"""The window's first-run offer to add Deskfind to the application menu: Install writes
what `deskfind desktop install` writes, "Don't ask again" is remembered in the settings,
"Not now" only for this run, and nothing is offered once an entry exists."""

from __future__ import annotations

import os

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from app import desktop
from app.backend import Backend
from app.config import Config
from app.context import Options
from app.desktop import DesktopDirs
from tests.app.test_desktop import exec_lines, parse_exec, tree


@pytest.fixture
def xdg(tmp_path, monkeypatch) -> DesktopDirs:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_DIRS", str(tmp_path / "system-share"))
    return DesktopDirs.from_environment()


@pytest.fixture
def open_gui(qtbot, tmp_path, make_session, config_file):
    """Start the app's windows (no tray) on a fresh index and the test's settings file,
    and wait until the offer has decided whether to show."""
    from ui.app import DeskfindGui

    guis = []

    def start() -> DeskfindGui:
        backend = Backend(Options(data_dir=str(tmp_path / "data")), config_file)
        app = QApplication.instance()
        gui = DeskfindGui(app, make_session(backend), backend.options, tray=False)
        app.aboutToQuit.disconnect(gui.shutdown)
        qtbot.addWidget(gui.window)
        guis.append(gui)
        gui.show_window()
        with qtbot.waitSignal(gui.install_offer.decided, timeout=10_000):
            pass
        return gui

    yield start
    for gui in guis:
        gui.session.stop_polling()
        gui.session.runner.wait(10_000)
        assert gui.session.backend is not None
        gui.session.backend.close()


def shown(gui) -> bool:
    return gui.install_offer.isVisible()


def test_install_writes_the_menu_entry_icon_and_login_entry(qtbot, xdg, open_gui):
    gui = open_gui()
    assert shown(gui)
    assert gui.window.menuWidget() is gui.install_offer  # above the pages, full width
    messages: list[str] = []
    gui.session.message.connect(messages.append)
    with qtbot.waitSignal(gui.install_offer.installed, timeout=10_000) as done:
        qtbot.mouseClick(gui.install_offer.install_button, Qt.MouseButton.LeftButton)
    entry = xdg.applications / "deskfind.desktop"
    assert set(done.args[0]) == {entry, xdg.icon("scalable", ".svg"),
                                 xdg.icon("256x256", ".png"), xdg.autostart / entry.name}
    assert all(path.is_file() for path in done.args[0])
    assert parse_exec(exec_lines(entry.read_text())[0]) == [*desktop.launch_argv(), "gui"]
    assert xdg.manifest.is_file()  # so `deskfind desktop uninstall` takes it all back
    assert not shown(gui)
    assert any("applications menu" in m for m in messages)


def test_no_offer_once_the_entry_exists(qtbot, xdg, open_gui):
    desktop.install_this(xdg)
    before = tree(xdg.data_home)
    gui = open_gui()
    assert not shown(gui)
    assert tree(xdg.data_home) == before


def test_no_offer_when_a_system_package_installed_the_entry(qtbot, xdg, open_gui):
    system = xdg.data_dirs[0] / "applications"
    system.mkdir(parents=True)
    (system / "deskfind.desktop").write_text("[Desktop Entry]\n")
    assert not shown(open_gui())
    assert not xdg.data_home.exists()


def test_dont_ask_again_is_remembered_in_the_settings(qtbot, xdg, open_gui, config_file):
    gui = open_gui()
    assert shown(gui)
    qtbot.mouseClick(gui.install_offer.never_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not shown(gui), timeout=10_000)
    qtbot.waitUntil(lambda: config_file.is_file()
                    and Config.load(config_file).get("offer_desktop_install") is False,
                    timeout=10_000)
    assert not xdg.data_home.exists() and not xdg.config_home.exists()  # nothing installed
    gui.window.close()
    assert not shown(open_gui())  # the next start does not ask


def test_not_now_asks_again_at_the_next_start(qtbot, xdg, open_gui, config_file):
    gui = open_gui()
    qtbot.mouseClick(gui.install_offer.later_button, Qt.MouseButton.LeftButton)
    assert not shown(gui)
    assert not xdg.data_home.exists()
    assert not config_file.exists() or \
        Config.load(config_file).get("offer_desktop_install") is True
    gui.window.close()
    assert shown(open_gui())


def test_an_install_that_fails_says_why_in_the_banner(qtbot, xdg, open_gui):
    xdg.data_home.mkdir(parents=True)
    (xdg.data_home / "applications").write_text("not a folder")
    gui = open_gui()
    qtbot.mouseClick(gui.install_offer.install_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: gui.install_offer.label.text().startswith("Could not"),
                    timeout=10_000)
    assert "cannot write" in gui.install_offer.label.text()
    assert shown(gui) and gui.install_offer.install_button.isEnabled()  # can try again
    assert os.path.isfile(xdg.data_home / "applications")
