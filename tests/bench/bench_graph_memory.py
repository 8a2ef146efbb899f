"""Peak memory of building the vector graph, the last step of a first index.

    python tests/bench/bench_graph_memory.py [--vectors 44000]

Builds `DenseIndex`'s graph (synchronously, as `deskfind index` waits for it) over N
synthetic 384-d vectors shaped like MiniLM's (app.bench_vectors), served from memory
the way the SQLite store serves them, and reports how far this process's resident
memory rose above where it stood before: at its peak (VmHWM, reset first) and once
built.  44,000 is how many vectors the real-folder first index of docs/performance.md
holds.  Run it with PYTHONPATH pointing at another checkout to compare two versions.
Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bench_common import peak_rss_bytes, reset_peak_rss, rss_bytes  # noqa: E402
from app.bench_vectors import DIM, SYNTHETIC_MODEL, SyntheticStore, synthetic_blocks  # noqa: E402
from engine.dense import DenseIndex  # noqa: E402
from engine.quantize import quantize  # noqa: E402
from engine.store import Store  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vectors", type=int, default=44_000)
    n = parser.parse_args().vectors
    vectors = quantize(np.vstack(list(synthetic_blocks(n))))
    store = SyntheticStore(np.arange(1, n + 1, dtype=np.int64), vectors)
    mib = 1024 * 1024
    with tempfile.TemporaryDirectory() as work:
        index = DenseIndex(cast(Store, store), SYNTHETIC_MODEL, DIM,
                           Path(work) / "g.hnsw", graph_threshold=0)
        before = rss_bytes()
        if not reset_peak_rss():
            raise SystemExit("cannot reset the peak RSS on this system")
        started = time.perf_counter()
        index.refresh()
        seconds = time.perf_counter() - started
        print(json.dumps({
            "vectors": n, "code": str(Path(sys.modules["engine.dense"].__file__).parent.parent),
            "build_s": round(seconds, 1),
            "peak_above_start_mib": round((peak_rss_bytes() - before) / mib, 1),
            "held_after_mib": round((rss_bytes() - before) / mib, 1),
            "int8_vectors_mib": round(vectors.codes.nbytes / mib, 1)}))


if __name__ == "__main__":
    main()
