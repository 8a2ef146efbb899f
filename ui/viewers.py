"""Opening a PDF at a page: which viewers take a page number, and the argv to ask them.

No Qt here and no shell anywhere: the result is an argv list, the path one element of
it, so no file name can be read as a command or an option.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable
from pathlib import Path

Builder = Callable[[str, str, int], list[str]]

# Program name -> argv for "open `path` at `page`".  The path is always absolute (it
# starts with '/'), so it can never be taken for an option; `--` is added where the
# viewer's option parser honours it.
PAGE_ARGV: dict[str, Builder] = {
    "evince": lambda prog, path, page: [prog, f"--page-label={page}", "--", path],
    "atril": lambda prog, path, page: [prog, f"--page-label={page}", "--", path],
    "xreader": lambda prog, path, page: [prog, f"--page-label={page}", "--", path],
    "okular": lambda prog, path, page: [prog, "-p", str(page), "--", path],
    "zathura": lambda prog, path, page: [prog, f"--page={page}", "--", path],
    "qpdfview": lambda prog, path, page: [prog, f"{path}#{page}"],
    "mupdf": lambda prog, path, page: [prog, path, str(page)],
}


def page_argv(exec_line: str, path: str, page: int) -> list[str] | None:
    """The argv that opens `path` at `page` with the program of a .desktop Exec line."""
    if not os.path.isabs(path) or page < 1:
        return None
    try:
        words = shlex.split(exec_line)
    except ValueError:
        return None
    words = [w for w in words if w != "env" and "=" not in w.split("/")[-1]]
    if not words:
        return None
    program = words[0]
    name = os.path.basename(program)
    build = PAGE_ARGV.get(name)
    if build is None or (name == "qpdfview" and "#" in path):  # '#' would end its path
        return None
    return build(program, path, page)


def desktop_exec(desktop_id: str, data_dirs: list[Path]) -> str | None:
    """The Exec= line of an application's .desktop file, searched like XDG does."""
    for base in data_dirs:
        entry = base / "applications" / desktop_id
        try:
            lines = entry.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            continue
        in_entry = False
        for line in lines:
            if line.startswith("["):
                in_entry = line.strip() == "[Desktop Entry]"
            elif in_entry and line.startswith("Exec="):
                return line[len("Exec="):].strip()
    return None


def xdg_data_dirs() -> list[Path]:
    home = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    rest = os.environ.get("XDG_DATA_DIRS") or "/usr/local/share:/usr/share"
    return [Path(home), *(Path(d) for d in rest.split(":") if d)]


def default_pdf_exec() -> str | None:
    """The Exec line of the desktop's default PDF application, if it can be found."""
    try:
        out = subprocess.run(["xdg-mime", "query", "default", "application/pdf"],
                             capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    desktop_id = out.stdout.strip()
    return desktop_exec(desktop_id, xdg_data_dirs()) if desktop_id else None
