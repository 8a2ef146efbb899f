"""Two indexers writing one PostgreSQL index at once, and a reader following it.

Starts a private PostgreSQL (the pgserver wheel), runs two `deskfind index` processes at
the same time on two folders of the running Python's standard library (email, json,
http, urllib / asyncio), and meanwhile polls the vector change log as a desktop's
vector cache does.  Reports each indexer's passages embedded (the model's runs: the
two should add up to the passages, not each do them all), the wall time, and whether
the set of vectors the reader assembled from the log equals what the database holds.

    python tests/bench/bench_pg_writers.py [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import email
import http
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from engine.pgstore import PgStore  # noqa: E402

FOLDERS = {"first": (email, json, http, urllib), "second": (asyncio,)}


def _copy(modules: tuple, into: Path) -> None:
    into.mkdir(parents=True)
    for module in modules:
        for source in Path(module.__file__).parent.glob("*.py"):
            shutil.copy(source, into / f"{module.__name__}_{source.name}")


def _follow(reader: PgStore, position: int, held: set[int]) -> int:
    """Apply the log since `position` to `held`, as DenseIndex.refresh does."""
    changes = reader.vector_changes(position)
    assert changes is not None, "the log was trimmed or readers changed mid-run"
    position, changed = changes
    if len(changed):
        present = {int(r[0]) for r in reader.conn.execute(
            "SELECT chunk_id FROM vectors WHERE chunk_id = ANY(%s)", (changed.tolist(),))}
        held |= present
        held -= set(changed.tolist()) - present
    return position


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    import pgserver
    import psycopg

    work = Path(tempfile.mkdtemp(prefix="deskfind-writers-"))
    server = pgserver.get_server(work / "pg", cleanup_mode="stop")
    try:
        with psycopg.connect(server.get_uri(), autocommit=True) as conn:
            conn.execute("CREATE DATABASE writers")
        uri = server.get_uri().replace("/postgres?", "/writers?", 1)
        PgStore.open(uri).close()  # the schema, before both start
        for name, modules in FOLDERS.items():
            _copy(modules, work / name)
        started = time.perf_counter()
        procs = {name: subprocess.Popen(
            [sys.executable, "-m", "app.cli", "index", str(work / name), "--database", uri,
             "--data-dir", str(work / f"data-{name}")], cwd=ROOT, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT) for name in FOLDERS}
        reader = PgStore.open(uri, readonly=True)
        held: set[int] = set()
        position, looks = reader.vector_version(), 0
        while any(p.poll() is None for p in procs.values()):
            position = _follow(reader, position, held)
            looks += 1
            time.sleep(0.2)  # a desktop polling the log, not synchronisation
        wall = time.perf_counter() - started
        _follow(reader, position, held)
        truth = {int(r[0]) for r in reader.conn.execute("SELECT chunk_id FROM vectors")}
        passages = reader.passage_count()
        reader.close()
        embedded = {}
        for name, proc in procs.items():
            out = proc.stdout.read() if proc.stdout else ""
            if proc.returncode != 0:
                print(f"{name} indexer failed:\n{out}", file=sys.stderr)
                return 1
            found = re.search(r"(\d+) passages embedded", out)
            embedded[name] = int(found.group(1)) if found else -1
    finally:
        server.cleanup()
        shutil.rmtree(work, ignore_errors=True)
    result = {"conditions": "two `deskfind index` processes started together on one "
                            "fresh database, a reader polling the log every 0.2 s",
              "cpus": os.cpu_count(), "passages": passages, "embedded": embedded,
              "model_runs_per_passage": round(sum(embedded.values()) / passages, 3),
              "wall_s": round(wall, 1), "reader_looks": looks,
              "reader_matches_database": held == truth, "vectors": len(truth)}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key}: {value}")
    return 0 if held == truth else 1


if __name__ == "__main__":
    raise SystemExit(main())
