"""User settings: one declarative schema that drives the TOML file, the CLI and the GUI."""

from __future__ import annotations

import json
import os
import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs

from app.context import Options
from app.paths import APP_NAME
from engine.errors import DeskfindError
from engine.precision import PRECISIONS
from engine.vectors import atomic_write
from indexer.walk import WalkRules

CONFIG_ENV = "DESKFIND_CONFIG"


class ConfigError(DeskfindError):
    """The settings file cannot be read, or a value is of the wrong kind."""


@dataclass(frozen=True)
class Setting:
    """One user-facing setting."""

    key: str
    kind: type
    default: Any
    description: str
    choices: tuple[str, ...] = ()
    bounds: tuple[float, float] | None = None  # the lowest and highest value a number may take


SCHEMA: tuple[Setting, ...] = (
    Setting("roots", list, [], "Folders to index and keep up to date"),
    Setting("exclude", list, [], "Extra file or folder name patterns never indexed "
                                 "(wildcards * and ?); secrets and caches are always skipped"),
    Setting("include", list, [], "If set, only files whose names match one of these patterns "
                                 "are indexed (e.g. *.pdf, *.md)"),
    Setting("include_hidden", bool, False, "Index hidden files and folders (names starting "
                                           "with a dot); secret folders stay excluded"),
    Setting("max_file_mb", int, 64, "Skip files larger than this many MiB", bounds=(1, 4096)),
    Setting("model_dir", str, "", "ONNX model folder to use instead of the bundled MiniLM; "
                                  "changing it re-embeds every passage"),
    Setting("embedding_precision", str, "auto",
            "Arithmetic of the bundled model: auto (int8 where this machine's check at "
            "first use finds it faster and as good, else fp32), fp32 or int8; changing "
            "it re-embeds every passage", choices=PRECISIONS),
    Setting("threads", int, 0, "CPU threads for embedding (0: up to 4)", bounds=(0, 256)),
    Setting("alpha", float, 0.7, "Weight of meaning against keywords in hybrid search, 0-1",
            bounds=(0, 1)),
    Setting("reconcile_minutes", int, 30, "Minutes between full rescans that catch changes "
                                          "the file watcher missed", bounds=(1, 7 * 24 * 60)),
    Setting("embed_generated_text", bool, False,
            "Embed passages of generated text too (minified code, encoded data, search "
            "indexes); by default they are keyword-searchable only"),
    Setting("database", str, "", "A shared PostgreSQL index instead of the local one: a "
                                 "postgresql:// connection string without a password "
                                 "(libpq reads it from ~/.pgpass, PGPASSWORD or a "
                                 "service file)"),
    Setting("ocr", bool, True,
            "Read scanned PDF pages and images (PNG, JPEG, TIFF, WebP) by OCR, after the "
            "other files; needs Tesseract's English data (apt-get install "
            "tesseract-ocr-eng)"),
    Setting("nice", int, 10, "Scheduling niceness of the background service (0-19)",
            bounds=(0, 19)),
    Setting("pause_on_battery", bool, True, "Pause embedding (the CPU-heavy part of "
                                            "indexing) while the computer runs on battery; "
                                            "files still become keyword-searchable"),
    Setting("offer_desktop_install", bool, True,
            "Offer, when the window opens, to add Deskfind to the application menu and "
            "start its indexer at login (until it is installed or declined)"),
)
_BY_KEY = SETTINGS = {s.key: s for s in SCHEMA}


def run_options(config: Config, *, data_dir: str | None = None, model_dir: str | None = None,
                threads: int = 0, alpha: float | None = None, precision: str | None = None,
                database: str | None = None, **fixed: Any) -> Options:
    """The options a command runs with: what its command line gives (None or 0: not
    given) over config.toml.  The index directory's environment variable is read later,
    by app.paths.  Every entry point (CLI commands, service, GUI) comes through here, so
    an index is never embedded with one model by one door and searched with another."""
    return Options(data_dir=data_dir,
                   model_dir=model_dir or config.get("model_dir") or None,
                   threads=threads or config.get("threads"),
                   alpha=config.get("alpha") if alpha is None else alpha,
                   precision=precision or config.get("embedding_precision"),
                   embed_generated=config.get("embed_generated_text"),
                   database=database or config.get("database") or None,
                   ocr=config.get("ocr"), **fixed)


def walk_rules(config: Config) -> WalkRules:
    """The indexer's walk rules for these settings (defaults plus the user's patterns)."""
    base = WalkRules()
    extra = tuple(config.get("exclude"))
    return replace(base, excluded_dirs=base.excluded_dirs + extra,
                   excluded_files=base.excluded_files + extra,
                   included_files=tuple(config.get("include")),
                   include_hidden=config.get("include_hidden"),
                   max_file_bytes=config.get("max_file_mb") * 1024 * 1024)


def config_path(override: str | None = None) -> Path:
    chosen = override or os.environ.get(CONFIG_ENV)
    if chosen:
        return Path(chosen).expanduser().absolute()
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


def _check(setting: Setting, value: Any) -> Any:
    if setting.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if setting.kind is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{setting.key} must be a list of strings")
    elif not isinstance(value, setting.kind) or (setting.kind is int and isinstance(value, bool)):
        raise ConfigError(f"{setting.key} must be {setting.kind.__name__}, got {value!r}")
    if setting.key == "database" and _has_password(value):
        raise ConfigError("database must not hold a password: settings are not secret; "
                          "put it in ~/.pgpass, a libpq service file or PGPASSWORD")
    if setting.bounds is not None and not setting.bounds[0] <= value <= setting.bounds[1]:
        low, high = (f"{b:g}" for b in setting.bounds)
        raise ConfigError(f"{setting.key} must be between {low} and {high}, got {value!r}")
    if setting.choices and value not in setting.choices:
        raise ConfigError(f"{setting.key} must be one of {', '.join(setting.choices)}, "
                          f"got {value!r}")
    return value


def _has_password(database: str) -> bool:
    """Whether a connection string (URL or libpq key=value form) carries a password."""
    if database.startswith(("postgresql://", "postgres://")):
        return bool(urlsplit(database).password) or "password=" in database
    return re.search(r"(^|\s)password\s*=", database) is not None


class Config:
    """Settings loaded from one TOML file; unknown keys are kept but ignored."""

    def __init__(self, path: Path, values: dict[str, Any]) -> None:
        self.path = path
        self.values = values

    @classmethod
    def load(cls, path: Path) -> Config:
        values: dict[str, Any] = {}
        try:
            if path.is_file():
                values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read settings {path}: {exc}") from exc
        for key, value in values.items():
            if key in _BY_KEY:
                values[key] = _check(_BY_KEY[key], value)
        return cls(path, values)

    def get(self, key: str) -> Any:
        setting = _BY_KEY[key]
        value = self.values.get(key, setting.default)
        return list(value) if isinstance(value, list) else value

    def set(self, key: str, value: Any) -> None:
        if key not in _BY_KEY:
            raise ConfigError(f"unknown setting '{key}' (see `deskfind config`)")
        self.values[key] = _check(_BY_KEY[key], value)

    def save(self) -> None:
        # A folder we create is private whatever the umask (settings name the folders
        # a user indexes); one that exists already (a DESKFIND_CONFIG elsewhere) is left.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            atomic_write(self.path, to_toml(self.values).encode("utf-8"))
        except OSError as exc:
            raise ConfigError(f"cannot write settings {self.path}: "
                              f"{exc.strerror or exc}") from exc


def to_toml(values: dict[str, Any]) -> str:
    """Write flat settings as TOML, with each known setting's description as a comment."""
    lines = []
    for key in sorted(values, key=lambda k: (k not in _BY_KEY, k)):
        if key in _BY_KEY:
            lines.append(f"# {_BY_KEY[key].description}")
        lines.append(f"{key} = {_toml_value(values[key])}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        # JSON string escapes (\" \\ \n \uXXXX) are valid TOML basic-string escapes;
        # TOML also forbids a raw DEL, which JSON leaves alone.
        return json.dumps(value, ensure_ascii=False).replace("\x7f", "\\u007f")
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    raise ConfigError(f"cannot store {value!r} in the settings file")


def parse_value(key: str, text: str) -> Any:
    """A value typed on the command line, converted to the setting's kind."""
    setting = _BY_KEY.get(key)
    if setting is None:
        raise ConfigError(f"unknown setting '{key}' (see `deskfind config`)")
    try:
        if setting.kind is bool:
            if text.lower() not in ("true", "false", "yes", "no", "1", "0"):
                raise ValueError(text)
            return text.lower() in ("true", "yes", "1")
        if setting.kind is list:
            return [part.strip() for part in text.split(",") if part.strip()]
        return setting.kind(text)
    except ValueError as exc:
        raise ConfigError(f"{key} wants a {setting.kind.__name__}, got '{text}'") from exc
