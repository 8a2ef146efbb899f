"""Start at login from the settings dialog: the one XDG autostart entry of app.desktop."""

from __future__ import annotations

from pathlib import Path

from app import desktop

ENTRY_NAME = desktop.ENTRY_NAME


def autostart_dir() -> Path:
    return desktop.DesktopDirs.from_environment().autostart


def is_enabled(folder: Path) -> bool:
    return desktop.autostart_enabled(folder)


def set_enabled(folder: Path, enabled: bool) -> None:
    """Start the tray app at login, or nothing.  An entry that exists already (the
    service's, from `deskfind desktop install`) is kept as it is."""
    if enabled and is_enabled(folder):
        return
    desktop.set_autostart(folder, "tray" if enabled else None, desktop.launch_argv())
