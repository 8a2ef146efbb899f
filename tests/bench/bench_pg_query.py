"""The end-to-end query benchmark (app/bench_query.py) on SQLite and on PostgreSQL, one
after the other in one run, at a size of your choosing.

    python tests/bench/bench_pg_query.py DATABASE [--passages 20000]

DATABASE is a postgresql:// connection string; its index is built in a scratch schema
dropped afterwards.  Prints one JSON object: the machine (with its load), and per
engine the build time, ingestion rate (passages/s, text and vectors) and p50/p95 of
hybrid, lexical and dense searches.  Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app import bench_query  # noqa: E402
from app.bench_common import machine  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--passages", type=int, default=20_000)
    args = parser.parse_args()
    report: dict[str, object] = {"machine": machine()}
    for engine, database in (("sqlite", None), ("postgresql", args.database)):
        with tempfile.TemporaryDirectory(prefix="deskfind-pgquery-") as tmp:
            report[engine] = bench_query.run(Path(tmp), quick=True, n_chunks=args.passages,
                                             database=database)
    report["machine_after"] = machine()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
