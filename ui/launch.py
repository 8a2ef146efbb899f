"""Starting the desktop app: the window and tray, or screenshot mode.

Apart from ui/app.py so that the screenshot tour, which builds the app's windows itself,
and the app do not import each other.
"""

from __future__ import annotations

import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from app import paths
from app.context import Options
from ui.app import DeskfindGui, open_session
from ui.crash import install_crash_notice
from ui.icons import app_icon
from ui.screenshots import take_screenshots
from ui.single import SingleInstance
from ui.tasks import TaskRunner


def run_gui(options: Options, *, hidden: bool = False, screenshot_dir: Path | None = None,
            quick: bool = False) -> int:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName("Deskfind")
    app.setDesktopFileName("deskfind")
    app.setWindowIcon(app_icon())
    restore_hooks = install_crash_notice(app)
    try:
        return _run(app, options, hidden, screenshot_dir, quick)
    finally:
        restore_hooks()


def _run(app: QApplication, options: Options, hidden: bool, screenshot_dir: Path | None,
         quick: bool) -> int:
    if screenshot_dir is not None:
        return take_screenshots(app, screenshot_dir)
    instance = SingleInstance(paths.data_dir(options.data_dir), app)
    if instance.forward("quick" if quick else "show"):
        return 0  # the running app shows itself
    instance.listen()
    runner = TaskRunner(app)
    session = open_session(options, runner, start_service=True)
    gui = DeskfindGui(app, session, options)
    instance.requested.connect(gui.handle_request)
    if quick:
        gui.popup.popup()
    elif not (hidden and gui.tray is not None):
        gui.show_window()
    return app.exec()
