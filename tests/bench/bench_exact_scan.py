"""The exact scan over float32 unit rows against the same rows kept as int8 codes
(engine.vectors.UnitRows), alternated in one run.

    python tests/bench/bench_exact_scan.py [--vectors 200000] [--queries 50]

Both scan the same synthetic 384-d vectors shaped like MiniLM's (app.bench_vectors),
warm (one untimed query first), one query at a time as a search does.  Prints one JSON
object: the memory each form holds, p50/p95 ms per query, the ratio of p50s, the
largest difference between their scores and whether their top 10s agree.  Numbers,
not asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bench_common import machine, percentiles_ms  # noqa: E402
from app.bench_vectors import synthetic_blocks  # noqa: E402
from engine.quantize import quantize  # noqa: E402
from engine.vectors import ExactIndex, UnitRows  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    codes = quantize(np.vstack(list(synthetic_blocks(args.vectors)))).codes
    ids = np.arange(1, len(codes) + 1, dtype=np.int64)
    compact = UnitRows.of(codes)
    forms = {"float32": ExactIndex.over(ids, compact[:]), "int8": ExactIndex.over(ids, compact)}
    queries = np.vstack(list(synthetic_blocks(args.queries + 1, seed=7)))[1:]
    times: dict[str, list[float]] = {name: [] for name in forms}
    worst, agree = 0.0, True
    for index in forms.values():
        index.search(queries[0], 10)
    for query in queries:
        found = {}
        for name, index in forms.items():
            started = time.perf_counter()
            found[name] = index.search(query, 10)
            times[name].append(time.perf_counter() - started)
        agree = agree and list(found["float32"][0]) == list(found["int8"][0])
        worst = max(worst, float(np.abs(found["float32"][1] - found["int8"][1]).max()))
    report: dict[str, object] = {"machine": machine(), "vectors": args.vectors}
    for name, index in forms.items():
        p50, p95 = percentiles_ms(times[name])
        report[name] = {"held_mib": round(index.nbytes / 2**20, 1), "p50_ms": p50, "p95_ms": p95}
    report["int8_time_ratio_p50"] = round(float(np.median(times["int8"])
                                                / np.median(times["float32"])), 2)
    report["largest_score_difference"] = worst
    report["same_top_10"] = agree
    report["machine_after"] = machine()
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
