"""Log files and crash reports in the platform's log directory; the installed version.

Each program (service, gui, cli) writes its own rotating file, so two processes never
rotate one file under each other.  Bugs that reach the top (an uncaught exception in
the service or the GUI, or one the service's loop survives) leave a crash report beside
the logs: traceback, version, platform.
"""

from __future__ import annotations

import datetime
import logging
import logging.handlers
import os
import platform
import sys
import threading
import traceback
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from types import TracebackType

from app import paths

LOG_BYTES = 1024 * 1024  # per file; with the backups at most 4 MiB per program
LOG_BACKUPS = 3
FILE_FORMAT = "%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("deskfind.logs")


def version() -> str:
    """The installed package's version (from its metadata, not a constant to forget)."""
    try:
        return metadata.version("deskfind")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def setup_logging(program: str, *, verbose: bool, to_file: bool) -> Path | None:
    """Log to stderr (warnings, or progress with `verbose`) and, with `to_file`, to
    `<log dir>/<program>.log` at INFO; returns that file (None: no file, or it cannot
    be written, which is said on stderr and never stops the program).

    Calling it again replaces what the last call set up (tests run many commands in one
    process); like logging.basicConfig, stderr is left alone when the host (pytest)
    already handles the root logger."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _OURS, False)]:
        root.removeHandler(old)
        old.close()
    root.setLevel(logging.INFO if verbose or to_file else logging.WARNING)
    if not root.handlers:
        console = logging.StreamHandler()
        console.setLevel(logging.INFO if verbose else logging.WARNING)
        console.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        _add(root, console)
    if not to_file:
        return None
    path = paths.log_dir() / f"{program}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)  # logs name your files
        handler = logging.handlers.RotatingFileHandler(
            path, maxBytes=LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8",
            errors="backslashreplace")
        os.chmod(path, 0o600)
    except OSError as exc:
        log.warning("not logging to a file: cannot write %s: %s", path, exc.strerror)
        return None
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    _add(root, handler)
    return path


_OURS = "_deskfind_handler"


def _add(root: logging.Logger, handler: logging.Handler) -> None:
    setattr(handler, _OURS, True)
    root.addHandler(handler)


def crash_report_text(program: str, exc: BaseException, when: datetime.datetime) -> str:
    lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
    return (f"Deskfind {version()} ({program}) crashed at {when.isoformat(timespec='seconds')}\n"
            f"Python {platform.python_version()} ({sys.executable})\n"
            f"Platform {platform.platform()}\n"
            f"Command line {sys.argv!r}\n\n" + "".join(lines))


def write_crash_report(program: str, exc: BaseException) -> Path | None:
    """Write a crash report for `exc` into the log directory; its path, or None when it
    cannot be written (the traceback still goes to the log and stderr)."""
    when = datetime.datetime.now().astimezone()
    folder = paths.log_dir()
    path = folder / f"crash-{program}-{when:%Y%m%d-%H%M%S}-{os.getpid()}.txt"
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(crash_report_text(program, exc, when) + "\n")
    except OSError as exc_write:
        log.error("cannot write the crash report %s: %s", path, exc_write.strerror)
        return None
    return path


CrashCallback = Callable[[BaseException, "Path | None"], None]


def install_crash_handler(program: str,
                          then: CrashCallback | None = None) -> Callable[[], None]:
    """Make uncaught exceptions, in the main thread and in others, write a crash report
    and log it; `then` is told the exception and the report's path (the GUI shows it).
    Returns what puts the previous hooks back."""

    def report(exc: BaseException) -> None:
        path = write_crash_report(program, exc)
        logging.getLogger(f"deskfind.{program}").critical(
            "uncaught %s: %s%s", type(exc).__name__, exc,
            f" (crash report: {path})" if path else "", exc_info=exc)
        if then is not None:
            then(exc, path)

    def on_exception(kind: type[BaseException], exc: BaseException,
                     tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, exc, tb)
            return
        report(exc.with_traceback(tb))

    def on_thread_exception(args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None and not issubclass(args.exc_type, SystemExit):
            report(args.exc_value)

    before = sys.excepthook, threading.excepthook
    sys.excepthook = on_exception
    threading.excepthook = on_thread_exception

    def restore() -> None:
        sys.excepthook, threading.excepthook = before

    return restore
