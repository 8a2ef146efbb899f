"""Desktop integration on freedesktop systems: menu entry, icons, start at login.

`install` writes an application entry (with a quick-search action), the icon into the
user's hicolor theme and an autostart entry, and records what it wrote in a manifest;
`uninstall` undoes exactly that: files it created go, files it replaced come back,
folders it created go when empty.  No Qt here: the PNG icon is rendered once by
packaging/render_icon.py and committed.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.paths import frozen_executable, resource_dir
from engine.errors import EngineError

ENTRY_NAME = "deskfind.desktop"  # Qt's desktop file name (ui/app.py) names the same file
ICON_NAME = "deskfind"
AUTOSTART_COMMANDS = {"service": ("service",), "tray": ("gui", "--hidden")}
DEFAULT_AUTOSTART = "service"

# Characters that make the Desktop Entry Specification's Exec key quote an argument.
_RESERVED = frozenset(" \t\n\"'\\><~|&;$*?#()`")
_ESCAPED_IN_QUOTES = frozenset('"`$\\')


class DesktopError(EngineError):
    """Desktop entries cannot be written or removed."""


@dataclass(frozen=True)
class DesktopDirs:
    """The XDG base directories the entries go into."""

    data_home: Path
    config_home: Path
    data_dirs: tuple[Path, ...] = ()  # the system's, searched after data_home

    @classmethod
    def from_environment(cls) -> DesktopDirs:
        system = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
        return cls(_xdg_home("XDG_DATA_HOME", ".local/share"),
                   _xdg_home("XDG_CONFIG_HOME", ".config"),
                   tuple(Path(d) for d in system.split(":") if os.path.isabs(d)))

    @property
    def applications(self) -> Path:
        return self.data_home / "applications"

    @property
    def autostart(self) -> Path:
        return self.config_home / "autostart"

    @property
    def manifest(self) -> Path:
        return self.data_home / "deskfind" / "desktop-install.json"

    def icon(self, size: str, suffix: str) -> Path:
        return self.data_home / "icons" / "hicolor" / size / "apps" / f"{ICON_NAME}{suffix}"


def entry_installed(dirs: DesktopDirs) -> bool:
    """Whether the menu has a Deskfind entry: the user's (from `install`) or one a
    package put into a system data folder."""
    return any((folder / "applications" / ENTRY_NAME).is_file()
               for folder in (dirs.data_home, *dirs.data_dirs))


def integrates_here() -> bool:
    """Whether this platform reads XDG desktop entries (Linux and the BSDs)."""
    return not sys.platform.startswith(("win", "darwin", "cygwin"))


def _xdg_home(variable: str, default: str) -> Path:
    value = os.environ.get(variable, "")
    # The specification: a relative path in the variable is invalid and ignored.
    return Path(value) if os.path.isabs(value) else Path.home() / default


# -- Exec lines ---------------------------------------------------------------------------

def exec_quote(arg: str) -> str:
    """One argument of an Exec key, quoted by the Desktop Entry Specification's rules
    (double quotes; \\ " ` $ escaped inside them; % doubled), not a shell's."""
    if any(ord(c) < 0x20 and c not in "\t\n" or c == "\x7f" for c in arg):
        raise DesktopError(f"cannot write a control character into a desktop entry: {arg!r}")
    if arg and not _RESERVED.intersection(arg):
        return arg.replace("%", "%%")
    inner = "".join("\\" + c if c in _ESCAPED_IN_QUOTES else c for c in arg)
    return f'"{inner}"'.replace("%", "%%")


def exec_value(argv: Sequence[str]) -> str:
    """The Exec key's value for `argv`: quoted arguments, then the string escapes that
    every desktop entry value gets (readers undo these before the quoting)."""
    line = " ".join(exec_quote(a) for a in argv)
    return (line.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t"))


def launch_argv() -> list[str]:
    """How a desktop session starts this installation of Deskfind: the `deskfind` script
    beside this Python (a venv or pipx install is not on the session's PATH), else the
    one on PATH, else this Python running the CLI module; in the bundle, the bundle."""
    bundle = frozen_executable()
    if bundle:
        return [bundle]
    beside = Path(sys.executable).parent / "deskfind"
    if beside.is_file() and os.access(beside, os.X_OK):
        return [str(beside)]
    found = shutil.which("deskfind")
    if found:
        return [os.path.abspath(found)]
    return [os.path.abspath(sys.executable), "-m", "ui.command"]


# -- entries ------------------------------------------------------------------------------

def application_entry(base: Sequence[str]) -> str:
    """The menu entry: the window, plus a quick-search action desktops can bind."""
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        "Name=Deskfind\n"
        "GenericName=Desktop Search\n"
        "Comment=Find your files by keyword and by meaning, privately\n"
        f"Exec={exec_value([*base, 'gui'])}\n"
        f"Icon={ICON_NAME}\n"
        "Terminal=false\n"
        "StartupNotify=true\n"
        "Categories=Utility;FileTools;\n"
        "Keywords=search;find;files;documents;pdf;\n"
        "Actions=quick-search;\n"
        "\n"
        "[Desktop Action quick-search]\n"
        "Name=Quick Search\n"
        f"Exec={exec_value([*base, 'gui', '--quick'])}\n")


def autostart_entry(base: Sequence[str], what: str) -> str:
    """The login entry: the background service alone, or the tray app (which starts
    the service too).  The service lowers its own CPU and I/O priority."""
    name, comment = {
        "service": ("Deskfind indexer", "Keeps the Deskfind search index up to date"),
        "tray": ("Deskfind", "Deskfind search in the tray"),
    }[what]
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        "Version=1.4\n"
        f"Name={name}\n"
        f"Comment={comment}\n"
        f"Exec={exec_value([*base, *AUTOSTART_COMMANDS[what]])}\n"
        f"Icon={ICON_NAME}\n"
        "Terminal=false\n"
        "NoDisplay=true\n"
        "X-GNOME-Autostart-enabled=true\n")


def autostart_enabled(folder: Path) -> bool:
    return (folder / ENTRY_NAME).exists()


def set_autostart(folder: Path, what: str | None, base: Sequence[str]) -> None:
    """Write the one autostart entry into `folder` (`what`: service or tray), or remove
    it (None)."""
    entry = folder / ENTRY_NAME
    if what is None:
        entry.unlink(missing_ok=True)
        return
    entry.parent.mkdir(parents=True, exist_ok=True)
    _write(entry, autostart_entry(base, what).encode("utf-8"))


# -- install and uninstall ----------------------------------------------------------------

def planned_files(dirs: DesktopDirs, base: Sequence[str],
                  autostart: str | None) -> dict[Path, bytes]:
    """Every file `install` writes, with its contents."""
    icons = resource_dir("icons")
    try:
        files = {
            dirs.applications / ENTRY_NAME: application_entry(base).encode("utf-8"),
            dirs.icon("scalable", ".svg"): (icons / "deskfind.svg").read_bytes(),
            dirs.icon("256x256", ".png"): (icons / "deskfind-256.png").read_bytes(),
        }
    except OSError as exc:
        raise DesktopError(f"the icon is missing from this installation: {exc}") from exc
    if autostart is not None:
        files[dirs.autostart / ENTRY_NAME] = autostart_entry(base, autostart).encode("utf-8")
    return files


def install_this(dirs: DesktopDirs, autostart: str | None = DEFAULT_AUTOSTART) -> list[Path]:
    """`deskfind desktop install`, also the GUI's: entries that start this installation
    of Deskfind (see `launch_argv`)."""
    return install(dirs, launch_argv(), autostart)


def install(dirs: DesktopDirs, base: Sequence[str], autostart: str | None) -> list[Path]:
    """Write the entries and icons; returns the files written.  Installing again
    updates them and still lets one uninstall restore what was there before the first."""
    manifest = _read_manifest(dirs)
    previous: dict[str, dict | None] = dict(manifest.get("files", {}))
    created: list[str] = list(manifest.get("dirs", []))
    files = planned_files(dirs, base, autostart)
    for path in [*files, dirs.manifest]:
        created += [str(d) for d in _missing_parents(path) if str(d) not in created]
    try:
        for path, data in files.items():
            try:
                if str(path) not in previous:
                    previous[str(path)] = _saved(path)
                path.parent.mkdir(parents=True, exist_ok=True)
                _write(path, data)
            except OSError as exc:
                raise DesktopError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:  # whatever was written is recorded, so uninstall can take it back
        _write_manifest(dirs, {"version": 1, "files": previous, "dirs": created})
    return list(files)


def uninstall(dirs: DesktopDirs) -> list[Path]:
    """Remove what `install` wrote (restoring any file it replaced) and the folders it
    created that are empty now; returns the files removed or restored."""
    manifest = _read_manifest(dirs)
    if not manifest:
        return []
    touched = []
    for name, before in manifest.get("files", {}).items():
        path = Path(name)
        try:
            if before is None:
                path.unlink(missing_ok=True)
            else:
                _write(path, base64.b64decode(before["data"]), before["mode"])
        except OSError as exc:
            raise DesktopError(f"cannot remove {path}: {exc.strerror}") from exc
        touched.append(path)
    dirs.manifest.unlink(missing_ok=True)
    for folder in sorted(manifest.get("dirs", []), key=lambda d: -len(Path(d).parts)):
        with contextlib.suppress(OSError):  # something else lives there now: it stays
            os.rmdir(folder)
    return touched


def _missing_parents(path: Path) -> list[Path]:
    missing = []
    folder = path.parent
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return missing


def _saved(path: Path) -> dict | None:
    """A file's contents and mode, to put back on uninstall (None: it did not exist)."""
    try:
        return {"data": base64.b64encode(path.read_bytes()).decode("ascii"),
                "mode": path.stat().st_mode & 0o7777}
    except FileNotFoundError:
        return None


def _write(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Replace `path` with `data` whole: a desktop reading the folder meanwhile sees the
    old entry or the new one.  Entries and icons are readable like any in the folder."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_manifest(dirs: DesktopDirs) -> dict:
    try:
        return dict(json.loads(dirs.manifest.read_text(encoding="utf-8")))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise DesktopError(f"cannot read {dirs.manifest}: {exc}") from exc


def _write_manifest(dirs: DesktopDirs, manifest: dict) -> None:
    try:
        dirs.manifest.parent.mkdir(parents=True, exist_ok=True)
        _write(dirs.manifest, json.dumps(manifest, indent=1).encode("utf-8"), 0o600)
    except OSError as exc:
        raise DesktopError(f"cannot write {dirs.manifest}: {exc.strerror or exc}") from exc
