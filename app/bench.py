"""`deskfind bench`: embedding, vector search and end-to-end query benchmarks.

Every figure and ratio comes from one run on one machine, so they compare like with
like even when the machine is shared.  Numbers are reported, never asserted.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

BENCHES = ("embed", "vectors", "query")
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


def cranfield_dir() -> Path | None:
    path = REPO.parent / "shared" / "eval" / "cranfield"
    return path if (path / "corpus.jsonl").is_file() else None


def run_benchmarks(only: str | None, quick: bool, spectrum: str = "real") -> dict[str, Any]:
    from app import bench_embed, bench_query, bench_vectors

    report: dict[str, Any] = {"quick": quick, "machine": machine()}
    chosen = [only] if only else list(BENCHES)
    with tempfile.TemporaryDirectory(prefix="deskfind-bench-") as tmp:
        work = Path(tmp)
        if "embed" in chosen:
            log("embed")
            report["embed"] = bench_embed.run(quick=quick)
        if "vectors" in chosen:
            log("vectors")
            report["vectors"] = bench_vectors.run(work, quick=quick, spectrum=spectrum)
        if "query" in chosen:
            log("query")
            report["query"] = bench_query.run(work, quick=quick)
    return report


def cmd_bench(args: argparse.Namespace) -> int:
    report = run_benchmarks(args.only, args.quick, args.spectrum)
    if args.json:
        print(json.dumps(report))
    else:
        print(format_report(report))
    return 0


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def format_report(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [f"machine: {m['cpu']}, {m['cores']} cores, load {m['load_avg']}"]
    if "embed" in report:
        e = report["embed"]
        lines.append(f"\nembed ({e['texts']} texts, {e['tokens']:,} tokens, "
                     f"{e['threads']} threads, {e['source']}; pipeline: {e['precision']})")
        for key, value in e.items():
            if key.endswith(("_tok_s", "_ratio", "_cosine")):
                lines.append(f"  {key:<28} {_fmt(value)}")
    if "vectors" in report:
        lines.append("\nvectors (k=10, 200 queries)")
        lines.append(f"  {'n':>9} {'path':<6} {'build s':>8} {'B/vec':>7} {'recall':>7} "
                     f"{'p50 ms':>7} {'p95 ms':>7} {'f1% rec':>8} {'f10% rec':>8} "
                     f"{'f1% p50':>8} {'f10% p50':>8}")
        for run in report["vectors"]["runs"]:
            f = run["filtered"]
            lines.append(
                f"  {run['n']:>9,} {run['path']:<6} {run['build_s']:>8.1f} "
                f"{run['bytes_per_vector']:>7,} {run['recall@10']:>7.3f} {run['p50_ms']:>7.2f} "
                f"{run['p95_ms']:>7.2f} {f['1%']['recall@10']:>8.3f} "
                f"{f['10%']['recall@10']:>8.3f} {f['1%']['p50_ms']:>8.2f} "
                f"{f['10%']['p50_ms']:>8.2f}")
    if "query" in report:
        q = report["query"]
        lines.append(f"\nquery ({q['n_chunks']:,} passages, {q['queries']} queries, "
                     f"store built in {q['build_s']:.0f} s)")
        for mode in ("hybrid", "lexical", "dense"):
            r = q["modes"][mode]
            lines.append(f"  {mode:<8} p50 {r['p50_ms']:>8.1f} ms   p95 {r['p95_ms']:>8.1f} ms")
    return "\n".join(lines)
