"""The bundle's entry point: `deskfind` as PyInstaller freezes it."""

import multiprocessing

from ui.command import main

if __name__ == "__main__":
    # Extraction workers are spawned processes: in a frozen program they start this same
    # executable, which must hand them to multiprocessing instead of running the CLI.
    multiprocessing.freeze_support()
    raise SystemExit(main())
