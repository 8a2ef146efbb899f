"""Indexing throughput and service latency on a real folder.

    python tests/bench/bench_indexing.py FOLDER [--burst N]
    python tests/bench/bench_indexing.py FOLDER --first-index [--precision auto]

Prints phase 1 (extract, chunk, FTS) files/s, phase 2 (embedding) passages/s, the time
from writing a new file to finding it through a running service, and how long a burst
of N creates/renames/deletes takes to converge (DB == disk).  Numbers, not asserts.

`--first-index` measures only what `deskfind index FOLDER` does on a fresh index, the
way the command does it (`Deskfind.index`): time to keyword-searchable (scan), time to
fully semantic (embedding, then the vector index), and the resident memory of this
process sampled five times a second, its peak per step and at each step's end, with
the extraction worker's peak beside it.  Conditions: fresh data dir, the model graph
already built in DESKFIND_CACHE_DIR (its one-off build is not timed), page cache as
the machine has it (stated as "warm" after a first run over the same folder).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app import ipc  # noqa: E402
from app.context import Deskfind, Options  # noqa: E402
from engine.store import Store  # noqa: E402
from indexer.pipeline import Indexer, IndexReport  # noqa: E402
from indexer.walk import WalkRules, walk  # noqa: E402


def phases(folder: Path, work: Path) -> dict[str, float]:
    with Deskfind(Options(data_dir=str(work / "phases"))) as df:
        report = IndexReport()
        indexer = Indexer(df.store)
        started = time.perf_counter()
        indexer.scan([bytes(folder)], report)
        phase1 = time.perf_counter() - started
        embedder = df.embedder()
        started = time.perf_counter()
        indexer.embed_pending(embedder, report)
        phase2 = time.perf_counter() - started
    return {"files": report.seen, "indexed": report.added, "passages": report.chunks_embedded,
            "phase1_s": round(phase1, 2), "phase1_files_per_s": round(report.seen / phase1, 1),
            "phase2_s": round(phase2, 2),
            "phase2_passages_per_s": round(report.chunks_embedded / phase2, 1)}


class MemorySampler:
    """VmRSS of this process and of its extraction workers, sampled on a thread,
    attributed to the step running at the time."""

    def __init__(self) -> None:
        self.step = "start"
        self.peaks: dict[str, int] = {}
        self.worker_peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.sample()

    def sample(self) -> int:
        rss = rss_kib(os.getpid())
        self.peaks[self.step] = max(self.peaks.get(self.step, 0), rss)
        for child in children(os.getpid()):
            self.worker_peak = max(self.worker_peak, rss_kib(child))
        return rss


def rss_kib(pid: int, key: str = "VmRSS") -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def first_index(folder: Path, work: Path, precision: str) -> dict[str, object]:
    """`Deskfind.index` on a fresh data dir, step by step, with memory per step."""
    mib = 1024
    steps: dict[str, dict[str, float]] = {}
    with MemorySampler() as memory:
        opened_at = memory.sample()
        with Deskfind(Options(data_dir=str(work / "first"), precision=precision)) as df:
            report = IndexReport()
            indexer = Indexer(df.store, skip_generated=not df.options.embed_generated)

            def step(name: str, action) -> None:  # type: ignore[no-untyped-def]
                memory.step = name
                started = time.perf_counter()
                action()
                seconds = time.perf_counter() - started
                end = memory.sample()
                steps[name] = {"s": round(seconds, 1),
                               "peak_mib": round(memory.peaks[name] / mib, 1),
                               "end_mib": round(end / mib, 1)}

            step("scan", lambda: indexer.scan([bytes(folder)], report))
            step("fingerprint", indexer.fingerprint_pending)
            step("model", df.embedder)
            step("embed", lambda: indexer.embed_pending(df.embedder(), report))
            step("vector_index", lambda: (df.dense().refresh(), df.dense().wait_for_refit(),
                                          df.dense().refresh(), df.dense().save()))
            counts = df.counts()
            kind = df.dense().kind
            model = df.embedder().model_id
    semantic = sum(v["s"] for v in steps.values())
    return {"files": report.seen, "indexed": report.added, "passages": counts.chunks,
            "embedded_by_model": report.chunks_embedded, "reused": report.chunks_reused,
            "generated_skipped": report.chunks_generated, "model": model,
            "vector_index": kind, "rss_at_open_mib": round(opened_at / mib, 1),
            "steps": steps, "keyword_searchable_s": steps["scan"]["s"],
            "fully_semantic_s": round(semantic, 1),
            "peak_rss_mib": round(rss_kib(os.getpid(), "VmHWM") / mib, 1),
            "worker_peak_rss_mib": round(memory.worker_peak / mib, 1),
            "load_average": os.getloadavg()}


def wait(predicate, timeout: float = 600.0) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise SystemExit("timed out")
        time.sleep(0.02)
    return time.perf_counter() - started


def service_latency(work: Path, burst: int) -> dict[str, object]:
    root = work / "watched"
    root.mkdir()
    data = work / "svc-data"
    config = work / "config.toml"
    config.write_text(f'roots = ["{root}"]\n')
    env = {**os.environ, "DESKFIND_DATA_DIR": str(data), "DESKFIND_CONFIG": str(config),
           "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "app.cli", "service"], env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)

    def hits(word: str) -> int:
        try:
            reply = ipc.call(data, {"op": "search", "query": word, "mode": "lexical"})
            return len(reply["results"])
        except ipc.ServiceUnavailable:
            return 0

    def settled() -> bool:
        try:
            s = ipc.call(data, {"op": "status"})
        except ipc.ServiceUnavailable:
            return False
        return s["phase"] == "idle" and s["queue"] == 0

    try:
        wait(settled)
        latencies = []
        for i in range(10):
            (root / f"new{i}.txt").write_text(f"freshly written word zz{i}qq")
            latencies.append(wait(lambda i=i: hits(f"zz{i}qq") == 1, 60))
        rng = random.Random(1)
        started = time.perf_counter()
        for i in range(burst):
            (root / f"b{i}.txt").write_text(f"burst {i}")
        for i in rng.sample(range(burst), burst // 3):
            os.rename(root / f"b{i}.txt", root / f"r{i}.txt")
        for i in rng.sample(range(burst), burst // 5):
            for name in (f"b{i}.txt", f"r{i}.txt"):
                if (root / name).exists():
                    (root / name).unlink()
        ops_s = time.perf_counter() - started
        disk = {f.path for f in walk(bytes(root), WalkRules())}

        def converged() -> bool:
            if not settled():
                return False
            store = Store.open(data / "index.sqlite3", readonly=True)
            try:
                return {bytes(r[0]) for r in store.conn.execute("SELECT path FROM files")} == disk
            finally:
                store.close()

        converge_s = wait(converged)
    finally:
        proc.terminate()
        proc.wait()
    latencies.sort()
    return {"new_file_searchable_s": {"median": round(latencies[5], 2),
                                      "max": round(latencies[-1], 2)},
            "burst": {"operations": burst + burst // 3 + burst // 5,
                      "ops_seconds": round(ops_s, 1),
                      "converged_after_s": round(converge_s, 1)}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--burst", type=int, default=10_000)
    parser.add_argument("--first-index", action="store_true",
                        help="only `deskfind index` on a fresh index, with memory per step")
    parser.add_argument("--precision", default="auto", choices=("auto", "fp32", "int8"))
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deskfind-bench-"))
    if args.first_index:
        try:
            print(json.dumps(first_index(args.folder.resolve(), work, args.precision),
                             indent=2))
        finally:
            shutil.rmtree(work, ignore_errors=True)
        return
    try:
        out = {"phases": phases(args.folder.resolve(), work),
               "service": service_latency(work, args.burst)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
