"""What choosing feedback passages by agreement costs a hybrid query.

    python tests/bench/bench_feedback_latency.py BEIR_DIR [BEIR_DIR ...] [--rounds 2]

Indexes each collection once (through the real pipeline, in a temporary folder), then
runs every query as a hybrid search of 100 results, twice per round: with the feedback
rule of engine.ranking (agreement of both sides) and with the previous one (the top
fused passages), in alternating order, so both see the same load on a shared machine.
Warm conditions: the model is loaded and the index read before timing; the query
embedding is redone every time.  Prints p50 / p95 per rule.  Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app import evaluate  # noqa: E402
from app.context import Deskfind, Options  # noqa: E402
from engine import ranking  # noqa: E402

AGREEMENT = ranking.feedback_keys


def top_fused(fused, n, agreement_weight=1.0):  # noqa: ANN001, ARG001 - the old rule
    return sorted(fused, key=lambda k: -fused[k].score)[:n]


def measure(beir: Path, rounds: int) -> dict[str, list[float]]:
    corpus = evaluate._read_jsonl(beir / "corpus.jsonl")
    queries = evaluate._read_jsonl(beir / "queries.jsonl")
    times: dict[str, list[float]] = {"agreement": [], "top fused": []}
    with tempfile.TemporaryDirectory(prefix="deskfind-bench-") as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        evaluate.write_corpus(corpus, docs)
        with Deskfind(replace(Options(), data_dir=str(Path(tmp) / "data"))) as df:
            df.index([docs])
            searcher = df.searcher()
            searcher.search("warm up", limit=100)
            for r in range(rounds):
                for i, q in enumerate(queries):
                    order = ("agreement", "top fused") if (i + r) % 2 else \
                        ("top fused", "agreement")
                    for rule in order:
                        ranking.feedback_keys = AGREEMENT if rule == "agreement" else top_fused
                        searcher._query_vector = None  # embed the query every time
                        started = time.perf_counter()
                        searcher.search(q["text"], limit=100, floor=False)
                        times[rule].append((time.perf_counter() - started) * 1000)
    ranking.feedback_keys = AGREEMENT
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir_dirs", nargs="+", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    for beir in args.beir_dirs:
        for rule, values in measure(beir, args.rounds).items():
            print(f"{beir.name:>12} {rule:>10}: p50 {np.percentile(values, 50):6.1f} ms  "
                  f"p95 {np.percentile(values, 95):6.1f} ms  ({len(values)} queries)")


if __name__ == "__main__":
    main()
