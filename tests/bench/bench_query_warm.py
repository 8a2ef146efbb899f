"""The end-to-end query benchmark's index, kept between runs, searched warm by one code.

    python tests/bench/bench_query_warm.py INDEX_DIR [--code REPO] [--passages N]

Builds INDEX_DIR/index.sqlite3 the way `deskfind bench --only query` does (once; at a
million passages about 8 minutes) and keeps its graph in INDEX_DIR/vectors.hnsw. Then,
in this process, searches it as the application does with the code of REPO (default:
this checkout; give an older worktree to compare): read-only connections, one for the
dense index where that code has `IndexStore.reader`, one warm-up query, then 100 queries
twice in hybrid, then keywords only and meaning only. Prints p50 / p95 ms per block.
Run it alternately for two codes, each in a fresh process, for a before/after ratio.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("index_dir", type=Path)
    parser.add_argument("--code", type=Path, default=REPO)
    parser.add_argument("--passages", type=int, default=1_000_000)
    args = parser.parse_args()
    sys.path.insert(0, str(args.code.resolve()))
    from app.bench_common import percentiles_ms, timed
    from app.bench_query import VOCABULARY, build_store, queries, vocabulary
    from app.bench_vectors import DIM, SYNTHETIC_MODEL
    from engine.dense import DenseIndex
    from engine.embedder import OnnxEmbedder, default_model
    from engine.search import Searcher
    from engine.storage import open_store

    db = args.index_dir / "index.sqlite3"
    words = vocabulary(VOCABULARY)
    if not db.exists():
        args.index_dir.mkdir(parents=True, exist_ok=True)
        writer = open_store(None, db)
        build_store(writer, args.passages, words)
        writer.close()
    store = open_store(None, db, readonly=True)
    dense_store = store.reader() if hasattr(store, "reader") else store
    embedder = OnnxEmbedder(default_model(), threads=2)
    dense = DenseIndex(dense_store, SYNTHETIC_MODEL, DIM, args.index_dir / "vectors.hnsw",
                       background=True)
    searcher = Searcher(store, lambda: (embedder, dense))
    searcher.search("warm up", limit=10)
    dense.wait_for_refit()  # a first run builds the graph; later runs load it
    dense.settle()
    texts = queries(words, 100)
    blocks = []
    for mode in ("hybrid", "hybrid", "lexical", "dense"):
        times = [timed(lambda t=t, m=mode: searcher.search(t, limit=10, mode=m))  # type: ignore[misc]
                 for t in texts]
        p50, p95 = percentiles_ms(times)
        blocks.append(f"{mode} {p50} / {p95}")
    print(f"{args.code.name}: " + " | ".join(blocks) +
          f" (load average {os.getloadavg()[0]:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
