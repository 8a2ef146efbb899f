"""Does the embedder's memory plateau on varied input? (RELIABILITY.md row 27)

    python tests/bench/bench_embedder_memory.py [--minutes 10] [--threads 2]

Embeds batches of passages of random lengths (a few words up to past the 256-token
window, batch sizes 1 to 64) with the default model for MINUTES, and samples the
process's resident memory and thread count after every batch. Reports RSS after the
first minute, at the half and at the end, and the growth over the second half: onnxruntime's
CPU arena grows to the largest input seen, so a plateau means the growth over the second
half is near zero. Warm conditions: the model is loaded before timing. Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.embedder import OnnxEmbedder, default_model  # noqa: E402

WORDS = ("the river ledger of basalt orchards keeps a quiet account of every turbine "
         "glacier and violin while kestrels circle the granite quarry at dawn").split()


def status(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    rng = random.Random(27)
    embedder = OnnxEmbedder(default_model(), threads=args.threads)
    embedder.embed_passages(["warm up"])
    samples: list[tuple[float, int, int]] = []  # seconds, RSS KiB, threads
    started = time.monotonic()
    passages = 0
    while (elapsed := time.monotonic() - started) < args.minutes * 60:
        batch = [" ".join(rng.choice(WORDS) for _ in range(int(rng.paretovariate(1.2) * 4)))
                 [:4000] for _ in range(rng.randint(1, 64))]
        embedder.embed_passages(batch)
        passages += len(batch)
        samples.append((elapsed, status("VmRSS"), status("Threads")))

    def rss_at(seconds: float) -> float:
        return next((rss for t, rss, _ in samples if t >= seconds), samples[-1][1]) / 1024

    half, end = args.minutes * 30, samples[-1][0]
    print(json.dumps({
        "minutes": args.minutes, "threads": args.threads, "passages": passages,
        "rss_mb": {"after_1_min": round(rss_at(min(60, half)), 1),
                   "at_half": round(rss_at(half), 1), "at_end": round(rss_at(end), 1)},
        "second_half_growth_mb": round(rss_at(end) - rss_at(half), 1),
        "peak_rss_mb": round(status("VmHWM") / 1024, 1),
        "threads_max": max(t for _, _, t in samples),
        "conditions": "warm: model loaded first; default model; random lengths and batches",
    }, indent=1))


if __name__ == "__main__":
    main()
