"""Vector search benchmark: the product's dense path against exact float32 search.

Synthetic data: unit vectors scattered around 1,000 Gaussian cluster centres, so
neighbourhoods have structure as real embeddings do.  Vectors are quantized to int8 and
served by `DenseIndex` exactly as from the store (graph or exhaustive scan, exact int8
rescoring), and compared with an exact float32 search over the original vectors.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from app.bench import log, peak_rss_bytes, percentiles_ms, reset_peak_rss, rss_bytes
from engine.dense import DEFAULT_GRAPH_THRESHOLD, DenseIndex
from engine.quantize import QuantizedVectors, quantize
from engine.store import Store

DIM = 384
CENTRES = 1000
NOISE = 0.05  # per coordinate: the noise norm is about 1, a cosine of ~0.7 to the centre
SEED = 20240607
SYNTHETIC_MODEL = "bench-synthetic-384"
K = 10
QUERIES = 200
FILTERS = {"1%": 0.01, "10%": 0.10}
BLOCK = 65_536


def synthetic_blocks(n: int, seed: int = SEED) -> Iterator[np.ndarray]:
    """`n` clustered unit vectors (float32), in blocks; the same seed gives the same set."""
    centres = np.random.default_rng(SEED).standard_normal((CENTRES, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    for start in range(0, n, BLOCK):
        size = min(BLOCK, n - start)
        block = centres[rng.integers(0, CENTRES, size)]
        block += rng.standard_normal((size, DIM), dtype=np.float32) * NOISE
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        yield block


def synthetic_codes(n: int) -> QuantizedVectors:
    """The int8 form of `synthetic_blocks(n)`, as the store would hold it."""
    codes = np.empty((n, DIM), np.int8)
    scales = np.empty(n, np.float32)
    start = 0
    for block in synthetic_blocks(n):
        q = quantize(block)
        codes[start:start + len(block)], scales[start:start + len(block)] = q.codes, q.scales
        start += len(block)
    return QuantizedVectors(codes, scales)


class SyntheticStore:
    """The two `Store` methods `DenseIndex` reads, serving vectors held in memory.

    Each load returns fresh arrays, as a load from SQLite does, so the index's own
    memory shows in the RSS measurement.
    """

    def __init__(self, ids: np.ndarray, vectors: QuantizedVectors) -> None:
        self.ids, self.vectors = ids, vectors

    def vectors_generation(self) -> int:
        return 1

    def load_vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, QuantizedVectors]:
        return self.ids.copy(), QuantizedVectors(self.vectors.codes.copy(),
                                                 self.vectors.scales.copy())


def _top_k_rows(sims: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def ground_truth(n: int, queries: np.ndarray,
                 masks: dict[str, np.ndarray]) -> tuple[dict[str, np.ndarray], QuantizedVectors]:
    """Exact float32 top-k row numbers per filter ('all' and each mask), and the int8 set."""
    names = ["all", *masks]
    best_sims = {m: np.full((len(queries), 0), -np.inf, np.float32) for m in names}
    best_rows = {m: np.zeros((len(queries), 0), np.int64) for m in names}
    codes = np.empty((n, DIM), np.int8)
    scales = np.empty(n, np.float32)
    start = 0
    for block in synthetic_blocks(n):
        stop = start + len(block)
        q = quantize(block)
        codes[start:stop], scales[start:stop] = q.codes, q.scales
        sims = queries @ block.T
        for m in names:
            s = sims if m == "all" else np.where(masks[m][start:stop], sims, -np.inf)
            rows = _top_k_rows(s, min(K, s.shape[1]))
            merged_sims = np.hstack([best_sims[m], np.take_along_axis(s, rows, axis=1)])
            merged_rows = np.hstack([best_rows[m], rows + start])
            keep = _top_k_rows(merged_sims, min(K, merged_sims.shape[1]))
            best_sims[m] = np.take_along_axis(merged_sims, keep, axis=1)
            best_rows[m] = np.take_along_axis(merged_rows, keep, axis=1)
        start = stop
    return best_rows, QuantizedVectors(codes, scales)


def _recall(found: list[np.ndarray], truth: np.ndarray) -> float:
    hits = sum(len(set(f.tolist()) & set(t.tolist())) for f, t in zip(found, truth, strict=True))
    return round(hits / truth.size, 4)


def _measure(index: DenseIndex, queries: np.ndarray, truth: np.ndarray,
             allowed: np.ndarray | None) -> dict[str, Any]:
    times, found = [], []
    for q in queries:
        started = time.perf_counter()
        hits = index.search(q, K, allowed)
        times.append(time.perf_counter() - started)
        found.append(np.array([int(c) for c, _ in hits], np.int64))
    p50, p95 = percentiles_ms(times)
    # Labels are row numbers + 1 (chunk ids start at 1).
    return {"recall@10": _recall(found, truth + 1), "p50_ms": p50, "p95_ms": p95}


def measure_path(store: SyntheticStore, path: str, cache: Path, queries: np.ndarray,
                 truth: dict[str, np.ndarray], allowed: dict[str, np.ndarray]) -> dict[str, Any]:
    """Build one DenseIndex (graph or exhaustive) and measure it."""
    n = len(store.ids)
    threshold = 0 if path == "hnsw" else n + 1
    index = DenseIndex(cast(Store, store), SYNTHETIC_MODEL, DIM, cache, graph_threshold=threshold)
    before = rss_bytes()
    peak_ok = reset_peak_rss()
    started = time.perf_counter()
    index.refresh()
    build_s = time.perf_counter() - started
    peak = peak_rss_bytes() - before if peak_ok else None
    held = rss_bytes() - before
    result: dict[str, Any] = {
        "n": n, "path": path, "build_s": round(build_s, 2),
        "bytes_per_vector": round(held / n), "build_peak_bytes_per_vector":
            None if peak is None else round(peak / n),
        "cache_file_bytes": cache.stat().st_size if cache.exists() else None,
    }
    result.update(_measure(index, queries, truth["all"], None))
    result["filtered"] = {name: _measure(index, queries, truth[name], allowed[name])
                          for name in FILTERS}
    result["filtered_recall@10"] = {name: r["recall@10"]
                                    for name, r in result["filtered"].items()}
    del index
    return result


def run_size(n: int, work: Path) -> list[dict[str, Any]]:
    rng = np.random.default_rng(SEED + n)
    queries = next(synthetic_blocks(QUERIES, seed=SEED + 1))
    masks = {name: rng.random(n) < share for name, share in FILTERS.items()}
    log(f"vectors: ground truth for {n:,} vectors")
    truth, vectors = ground_truth(n, queries, masks)
    ids = np.arange(1, n + 1, dtype=np.int64)
    allowed = {name: ids[mask] for name, mask in masks.items()}
    store = SyntheticStore(ids, vectors)
    runs = []
    for path in ("exact", "hnsw"):
        log(f"vectors: {path} at {n:,}")
        runs.append(measure_path(store, path, cache_path(work, n), queries, truth, allowed))
    return runs


def cache_path(work: Path, n: int) -> Path:
    """Where the graph over `synthetic_blocks(n)` is cached; the query benchmark reuses it."""
    return work / f"vectors-{SYNTHETIC_MODEL}-{n}.hnsw"


def run(work: Path, *, quick: bool, sizes: tuple[int, ...] | None = None) -> dict[str, Any]:
    sizes = sizes or ((20_000,) if quick else (100_000, 1_000_000))
    runs = [r for n in sizes for r in run_size(n, work)]
    # The headline figures: the largest set, on the path the product picks at that size.
    product = "exact" if sizes[-1] < DEFAULT_GRAPH_THRESHOLD else "hnsw"
    main = next(r for r in runs if r["n"] == sizes[-1] and r["path"] == product)
    headline = {key: main[key] for key in ("n", "path", "recall@10", "bytes_per_vector",
                                            "p50_ms", "p95_ms", "filtered_recall@10")}
    return {**headline, "memory": "RSS delta of the process across DenseIndex.refresh() "
                                  "(after gc): what the index keeps resident",
            "k": K, "queries": QUERIES, "dim": DIM, "runs": runs}
