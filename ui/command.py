"""The `deskfind` program: every command of app.cli, and `gui`, which starts the
desktop app from here so that the application core never imports the GUI.

Qt is imported only when `gui` runs, so the other commands work without PySide6.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from app import cli
from app.context import Options


def run_gui_command(args: argparse.Namespace) -> int:
    try:
        from ui.launch import run_gui
    except ImportError as exc:
        raise cli.UsageError(f"the GUI needs PySide6 ({exc}); install it with "
                             "'pip install pyside6'") from exc
    shots = Path(args.screenshot).expanduser() if args.screenshot else None
    # The window merges the settings itself, and again whenever they change.
    return run_gui(Options(**cli.command_line(args)), hidden=args.hidden,
                   screenshot_dir=shots, quick=args.quick)


def main(argv: Sequence[str] | None = None) -> int:
    return cli.main(argv, gui=run_gui_command)


if __name__ == "__main__":
    raise SystemExit(main())
