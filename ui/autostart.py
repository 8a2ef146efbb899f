"""Start at login: an XDG autostart entry (Linux and other freedesktop systems)."""

from __future__ import annotations

import shlex
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QStandardPaths

ENTRY_NAME = "deskfind.desktop"


def autostart_dir() -> Path:
    config = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.GenericConfigLocation)
    return Path(config) / "autostart"


def launch_command() -> list[str]:
    """How to start Deskfind hidden in the tray."""
    script = shutil.which("deskfind")
    base = [script] if script else [sys.executable, "-m", "app.cli"]
    return [*base, "gui", "--hidden"]


def is_enabled(folder: Path) -> bool:
    return (folder / ENTRY_NAME).exists()


def set_enabled(folder: Path, enabled: bool) -> None:
    entry = folder / ENTRY_NAME
    if not enabled:
        entry.unlink(missing_ok=True)
        return
    folder.mkdir(parents=True, exist_ok=True)
    entry.write_text(
        "[Desktop Entry]\nType=Application\nName=Deskfind\n"
        "Comment=Local desktop search\n"
        f"Exec={shlex.join(launch_command())}\n"
        "Icon=deskfind\nTerminal=false\nX-GNOME-Autostart-enabled=true\n",
        encoding="utf-8")
