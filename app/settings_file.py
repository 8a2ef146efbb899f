"""The GUI's view of the shared settings file (app.config's config.toml).

The file is shared with `deskfind config` and `deskfind roots`, and with the service,
so it is re-read whenever another program changed it, and a change is made on a copy
and saved whole (readers keep seeing the saved settings until then).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.config import Config
from engine.errors import DeskfindError

log = logging.getLogger("deskfind.settings")

LEGACY_SETTINGS = "settings.json"  # the GUI's own settings before config.toml
SHOWN = ("roots", "exclude", "include_hidden", "model_dir", "embedding_precision",
         "threads", "offer_desktop_install")  # what the settings dialog edits


class SettingsFile:
    """One settings file, safe to use from any thread."""

    def __init__(self, path: Path) -> None:
        self._lock = threading.RLock()
        self.config = Config.load(path)  # ConfigError if unreadable
        self._mtime = _mtime(path)

    @property
    def path(self) -> Path:
        return self.config.path

    def fresh(self) -> Config:
        """The settings, re-read if the file changed (treat as read-only: it is shared)."""
        with self._lock:
            mtime = _mtime(self.config.path)
            if mtime != self._mtime:
                try:
                    self.config = Config.load(self.config.path)
                    self._mtime = mtime
                except DeskfindError as exc:  # half-written by an editor: keep what we had
                    log.warning("%s", exc)
            return self.config

    def roots(self) -> list[str]:
        return list(self.fresh().get("roots"))

    def shown(self) -> dict[str, Any]:
        """The value of every setting the dialog edits, by key."""
        config = self.fresh()
        return {key: config.get(key) for key in SHOWN}

    def change(self, edit: Callable[[Config], None]) -> None:
        """Apply `edit` to a copy of the settings and save it."""
        with self._lock:
            current = self.fresh()
            config = Config(current.path, dict(current.values))
            edit(config)
            config.save()
            self.config, self._mtime = config, _mtime(config.path)

    def update(self, changes: dict[str, Any]) -> None:
        def edit(config: Config) -> None:
            for key, value in changes.items():
                config.set(key, value)

        self.change(edit)

    def legacy_values(self, data_dir: Path, index_roots: Callable[[], list[str]]
                      ) -> dict[str, Any]:
        """What to take, once, into a config that lacks it: the roots the index
        remembers and the choices of settings.json, the GUI's settings before the
        shared config."""
        legacy = data_dir / LEGACY_SETTINGS
        values: dict[str, Any] = {}
        if "roots" not in self.config.values:
            values["roots"] = index_roots()
        if legacy.is_file():
            try:
                raw = json.loads(legacy.read_text(encoding="utf-8"))
                values.update(exclude=[str(p) for p in raw.get("exclude_patterns") or ()],
                              model_dir=str(raw.get("model_dir") or ""),
                              threads=max(0, int(raw.get("threads") or 0)))
            except (OSError, ValueError, TypeError, AttributeError) as exc:
                log.warning("ignoring unreadable %s: %s", legacy, exc)
        return {k: v for k, v in values.items() if v and k not in self.config.values}

    @staticmethod
    def retire_legacy(data_dir: Path) -> None:
        legacy = data_dir / LEGACY_SETTINGS
        if legacy.is_file():
            legacy.rename(legacy.with_name(LEGACY_SETTINGS + ".migrated"))


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0
