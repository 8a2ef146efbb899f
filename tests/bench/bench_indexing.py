"""Indexing throughput and service latency on a real folder.

    python tests/bench/bench_indexing.py FOLDER [--burst N]

Prints phase 1 (extract, chunk, FTS) files/s, phase 2 (embedding) passages/s, the time
from writing a new file to finding it through a running service, and how long a burst
of N creates/renames/deletes takes to converge (DB == disk).  Numbers, not asserts.
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
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="deskfind-bench-"))
    try:
        out = {"phases": phases(args.folder.resolve(), work),
               "service": service_latency(work, args.burst)}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
