"""Where Deskfind keeps its files: the only module that knows platform paths."""

from __future__ import annotations

import os
import sys
from importlib import resources
from pathlib import Path

import platformdirs

APP_NAME = "deskfind"
DATA_DIR_ENV = "DESKFIND_DATA_DIR"
LOG_DIR_ENV = "DESKFIND_LOG_DIR"


def frozen_executable() -> str | None:
    """The bundle's `deskfind` program when running from the PyInstaller bundle."""
    return sys.executable if getattr(sys, "frozen", False) else None


def data_dir(override: str | None = None) -> Path:
    """The index directory: --data-dir, then $DESKFIND_DATA_DIR, then the platform's."""
    chosen = override or os.environ.get(DATA_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().absolute()
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def database_path(data: Path) -> Path:
    return data / "index.sqlite3"


def vector_cache_path(data: Path, model_id: str) -> Path:
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in model_id)
    return data / f"vectors-{safe}.hnsw"


def log_dir() -> Path:
    """Log files and crash reports: $DESKFIND_LOG_DIR, else the platform's (on Linux
    ~/.local/state/deskfind/log)."""
    chosen = os.environ.get(LOG_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().absolute()
    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False))


def resource_dir(name: str) -> Path:
    """A folder of resources/ (icons, sample): the checkout's, else the copy a wheel
    installs as the `deskfind_resources` package (pipx, a plain pip install)."""
    checkout = Path(__file__).resolve().parents[1] / "resources" / name
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("deskfind_resources") / name))
