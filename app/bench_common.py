"""What the benchmarks of `deskfind bench` share: progress lines, timing, memory, the
machine's description.  Imports nothing of the application, so no benchmark reaches
back into the command that runs it."""

from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def log(message: str) -> None:
    """Progress on stderr, so `--json` output stays one object on stdout."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


def percentiles_ms(seconds: Sequence[float]) -> tuple[float, float]:
    """(p50, p95) of durations in seconds, as milliseconds."""
    p50, p95 = np.percentile(np.asarray(seconds, dtype=np.float64) * 1000.0, [50, 95])
    return round(float(p50), 2), round(float(p95), 2)


def timed(fn: Callable[[], object]) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def rss_bytes() -> int:
    """Resident set size of this process, after a garbage collection.

    glibc keeps freed heap memory mapped (arrays under its mmap threshold come from the
    heap), so it is handed back first; otherwise freed temporaries would count as held.
    """
    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def reset_peak_rss() -> bool:
    """Restart the kernel's high-water mark (VmHWM); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def peak_rss_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((ln.split(":", 1)[1].strip() for ln in fh
                        if ln.startswith("model name")), cpu)
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "load_avg": [round(x, 2) for x in os.getloadavg()]}


EVAL_ROOT = REPO.parent / "shared" / "eval"  # test collections beside the repository


def eval_dirs() -> list[Path]:
    """Every test collection (BEIR layout) under ../shared/eval, by name; [] without it."""
    if not EVAL_ROOT.is_dir():
        return []
    return sorted(p for p in EVAL_ROOT.iterdir() if (p / "corpus.jsonl").is_file())


def cranfield_dir() -> Path | None:
    return next((p for p in eval_dirs() if p.name == "cranfield"), None)
