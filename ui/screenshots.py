"""`deskfind gui --screenshot DIR`: open the windows on a demo index and save PNGs."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

from app import paths
from app.context import Deskfind, Options
from ui.app import DeskfindGui, open_session, wait_until
from ui.main_window import MainWindow
from ui.tasks import TaskRunner

SAMPLES = paths.resource_dir("sample")
MAIN_QUERY = "how long should the dough rise before baking"
POPUP_QUERY = "undo a git commit"
RELAXED_QUERY = 'the "dough should double overnight" rule'
RELATED_QUERY = "bread"  # selects the bread PDF, whose Related list leads with the note

PDF_PAGES = (
    "Bread science, a short guide\n\nFlour, water, salt and time. This guide follows a loaf "
    "from the mixing bowl to the cooling rack.",
    "Fermentation\n\nDuring bulk fermentation yeast and bacteria turn sugars into gas and "
    "acids. The dough should rise by about half; in a warm kitchen that takes four to six "
    "hours, in a cool one overnight. Rising is finished when the dough is domed, airy and "
    "jiggles when the bowl is shaken.",
    "Baking\n\nPreheat the oven with the pot inside. Steam keeps the crust soft for the first "
    "twenty minutes so the loaf can expand.",
)


def write_demo_files(folder: Path) -> None:
    """A small, realistic folder: the sample notes, a PDF, and a file that cannot be read."""
    import pymupdf

    docs = folder / "Documents"
    (docs / "Downloads").mkdir(parents=True)
    now = time.time()
    # Files only: an installed copy has the __pycache__ that pip compiled retry.py into.
    samples = sorted(p for p in SAMPLES.iterdir() if p.is_file() and p.suffix != ".pyc")
    for n, sample in enumerate(samples):
        target = docs / ("Notes" if sample.suffix == ".md" else "Work") / sample.name
        target.parent.mkdir(exist_ok=True)
        shutil.copy(sample, target)
        os.utime(target, (now - n * 86400 * 9, now - n * 86400 * 9))
    pdf = pymupdf.open()
    for text in PDF_PAGES:
        page = pdf.new_page()
        page.insert_textbox(pymupdf.Rect(72, 72, 520, 760), text, fontsize=12)
    pdf.save(docs / "Bread science.pdf")
    # The same text saved again (other bytes) and a byte copy: the duplicates window's.
    pdf.save(docs / "Downloads" / "Bread science (1).pdf", garbage=4, deflate=True)
    pdf.close()
    shutil.copy(docs / "Notes" / "espresso.md", docs / "Downloads" / "espresso.md")
    (docs / "Work" / "scan-0042.txt").write_bytes(b"\x00\x01\x02binary scanner output")


def _save(widget: QWidget, path: Path) -> None:
    widget.grab().save(str(path), "PNG")


def _first_run_shot(app: QApplication, home: Path, out: Path) -> bool:
    """The window on its first start: no folders yet, and the offer to add Deskfind to
    the application menu (not taken: the demo's menu folders are temporary anyway)."""

    options = Options(data_dir=str(home / ".local" / "share" / "deskfind-first-run"))
    config = home / ".config" / "deskfind" / "first-run.toml"
    runner = TaskRunner(app)
    session = open_session(options, runner, config_file=config)
    gui = DeskfindGui(app, session, options, tray=False, config_file=config)
    app.aboutToQuit.disconnect(gui.shutdown)
    gui.window.resize(1240, 780)
    gui.show_window()
    ok = wait_until(lambda: session.status is not None and gui.install_offer.isVisible()
                    and gui.window.pages.currentWidget() is gui.window.first_run, 30_000)
    wait_until(lambda: not runner.busy, 5000)
    _save(gui.window, out / "first-run.png")
    gui.window.hide()
    session.stop_polling()
    runner.wait(10_000)
    if session.backend is not None:
        session.backend.close()
    gui.window.deleteLater()
    return ok


def _related_and_duplicates(window: MainWindow, runner: TaskRunner, out: Path) -> bool:
    """related.png: a result's Related list; duplicates.png: the duplicates window."""
    window.field.setText(RELATED_QUERY)
    ok = wait_until(lambda: window.model.rowCount() > 0 and window.search.last_query
                    == RELATED_QUERY)
    row = next((i for i, r in enumerate(window.model.results) if r.ext == "pdf"), 0)
    window.list.setCurrentIndex(window.model.index(row, 0))
    ok = ok and wait_until(lambda: bool(window.related.related))
    wait_until(lambda: not runner.busy, 5000)
    _save(window, out / "related.png")
    dialog = window.status_area.show_duplicates()
    ok = ok and wait_until(lambda: dialog.groups is not None)
    QApplication.processEvents()
    _save(dialog, out / "duplicates.png")
    dialog.close()
    return ok


def take_screenshots(app: QApplication, out: Path) -> int:
    """Build a demo index in a temporary folder, open each window on it, save PNGs."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deskfind-demo-") as tmp:
        home = Path(tmp) / "home"
        write_demo_files(home)
        os.environ["HOME"] = str(home)  # paths show as ~/Documents/…, as they would for a user
        # The menu and login folders too: the demo never looks at or touches the user's.
        os.environ["XDG_DATA_HOME"] = str(home / ".local" / "share")
        os.environ["XDG_CONFIG_HOME"] = str(home / ".config")
        # Where the platform would put them, so the settings dialog shows ~/… paths.
        options = Options(data_dir=str(home / ".local" / "share" / "deskfind"))
        config = home / ".config" / "deskfind" / "config.toml"
        config.parent.mkdir(parents=True)
        # The menu offer has a shot of its own (first-run.png), not a place in every one.
        config.write_text(f'roots = ["{home / "Documents"}"]\noffer_desktop_install = false\n',
                          encoding="utf-8")
        first_run_ok = _first_run_shot(app, home, out)
        with Deskfind(options) as df:
            df.index([home / "Documents"])
        runner = TaskRunner(app)
        session = open_session(options, runner, start_service=True, config_file=config)
        gui = DeskfindGui(app, session, options, tray=False, config_file=config)
        window = gui.window
        window.resize(1240, 780)
        gui.show_window()
        ok = first_run_ok and wait_until(lambda: session.status is not None)
        # The GUI starts a background service on the demo folder; show it settled.
        if not wait_until(lambda: session.service_running and session.status is not None
                          and not session.status.background_busy, 90_000):
            print("note: the background service did not start; shots show it missing")
        window.field.setText(MAIN_QUERY)
        ok = ok and wait_until(lambda: window.model.rowCount() > 0)
        ok = ok and wait_until(lambda: window.preview.text_preview is not None
                               or window.preview.pdf_page is not None)
        wait_until(lambda: not runner.busy, 5000)
        _save(window, out / "main-window.png")
        window.field.setText(RELAXED_QUERY)  # a pasted phrase found nowhere: relaxed
        ok = ok and wait_until(lambda: window.relaxed_banner.isVisible()
                               and window.model.rowCount() > 0)
        wait_until(lambda: not runner.busy, 5000)
        _save(window, out / "main-window-relaxed.png")

        ok = _related_and_duplicates(window, runner, out) and ok

        popup = gui.popup
        popup.popup()
        popup.field.setText(POPUP_QUERY)
        ok = ok and wait_until(lambda: popup.model.rowCount() > 0 and popup.list.isVisible())
        wait_until(lambda: not runner.busy, 5000)
        _save(popup, out / "quick-search.png")
        popup.hide()

        dialog = gui.show_settings()
        dialog.excludes.setPlainText("Archive\n*.bak")
        wait_until(lambda: dialog.roots.count() > 0, 5000)
        layout = dialog.layout()
        if layout is not None:  # settle the layout after the contents reloaded
            layout.activate()
        app.processEvents()
        _save(dialog, out / "settings.png")
        dialog.reject()
        window.hide()
        session.stop_polling()
        runner.wait(10_000)
        if session.backend is not None:
            session.backend.stop_service()
            session.backend.close()
    print(f"screenshots saved in {out}")
    return 0 if ok else 1
