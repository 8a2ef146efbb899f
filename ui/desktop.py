"""Handing files to the desktop: open with the default app, show the folder, copy path.

Always through QDesktopServices with a file URL, never through a shell.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from PySide6.QtCore import QProcess, QUrl
from PySide6.QtGui import QDesktopServices, QGuiApplication

from ui.viewers import default_pdf_exec, page_argv


def open_file(path: bytes, page: int | None = None) -> bool:
    """Open with the default app; a PDF at `page` when its viewer can be told so."""
    name = os.fsdecode(path)
    if page and name.lower().endswith(".pdf"):
        exec_line = default_pdf_exec()
        argv = page_argv(exec_line, name, page) if exec_line else None
        if argv and QProcess.startDetached(argv[0], argv[1:])[0]:
            return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(name))


# The freedesktop file manager interface (Nautilus, Dolphin, Nemo, Caja, Thunar…):
# ShowItems opens each item's folder with the item selected.
FILE_MANAGER_SERVICE = "org.freedesktop.FileManager1"
FILE_MANAGER_PATH = "/org/freedesktop/FileManager1"
SHOW_ITEMS_TIMEOUT_MS = 3000

ShowItems = Callable[[list[str]], bool]


def show_items_over_dbus(uris: list[str]) -> bool:
    """Ask the session's file manager to show `uris` selected; whether one did."""
    try:
        from PySide6.QtDBus import QDBusConnection, QDBusInterface, QDBusMessage
    except ImportError:  # a Qt built without D-Bus (Windows, macOS)
        return False
    bus = QDBusConnection.sessionBus()
    if not bus.isConnected():
        return False
    manager = QDBusInterface(FILE_MANAGER_SERVICE, FILE_MANAGER_PATH, FILE_MANAGER_SERVICE,
                             bus)
    if not manager.isValid():
        return False
    manager.setTimeout(SHOW_ITEMS_TIMEOUT_MS)
    reply = manager.call("ShowItems", uris, "")  # (uris, startup id)
    return reply.type() != QDBusMessage.MessageType.ErrorMessage


def _on_disk(name: str) -> str:
    """`name`, or for a document inside an archive or mailbox (a path below a regular
    file) the file on disk that holds it."""
    above = os.path.dirname(name)
    while above not in ("", "/") and not os.path.lexists(above):
        above = os.path.dirname(above)
    return above if not os.path.lexists(name) and os.path.isfile(above) else name


def reveal_file(path: bytes, show_items: ShowItems | None = None) -> bool:
    """Show `path` selected in the file manager when it can be asked to (the
    FileManager1 D-Bus interface), else open the folder holding it."""
    name = _on_disk(os.fsdecode(path))
    uri = QUrl.fromLocalFile(name).toString(QUrl.ComponentFormattingOption.FullyEncoded)
    if (show_items or show_items_over_dbus)([uri]):
        return True
    return QDesktopServices.openUrl(QUrl.fromLocalFile(os.path.dirname(name)))


def copy_path(path: bytes) -> None:
    QGuiApplication.clipboard().setText(os.fsdecode(path))
