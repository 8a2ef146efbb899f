"""Vector search benchmark: the product's dense path against exact float32 search.

Synthetic data shaped like real sentence embeddings: MiniLM vectors of Cranfield and
Python documentation have eigenvalues falling as a power law (exponent 0.96) and a mean
direction of norm 0.4 (engine.projection).  The generator draws Gaussian clusters with
that spectrum around that mean, in a fixed random rotation, and normalises.  Vectors are
quantized to int8 and served by `DenseIndex` exactly as from the store (reduced graph or
exhaustive scan, exact int8 rescoring), and compared with an exact float32 search over
the original vectors.  `--spectrum flat` gives the old isotropic clusters, the hardest
case for a linear reduction.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import numpy as np

from app.bench_common import log, peak_rss_bytes, percentiles_ms, reset_peak_rss, rss_bytes
from engine.dense import DEFAULT_GRAPH_THRESHOLD, RESCORE_POOL, DenseIndex
from engine.projection import reduced_dim
from engine.quantize import QuantizedVectors, quantize
from engine.store import Store

DIM = 384
CENTRES = 1000
SEED = 20240607
SYNTHETIC_MODEL = "bench-synthetic-384"
K = 10
QUERIES = 200
FILTERS = {"1%": 0.01, "10%": 0.10}
BLOCK = 65_536
# Measured on MiniLM-L6 vectors (engine.projection): eigenvalue ~ rank^-0.96, mean norm 0.4.
SPECTRUM_EXPONENT = 0.96
MEAN_NORM = 0.4
# Share of the variance between cluster centres; the rest is spread within clusters.
# Calibrated on the real vectors, not on the result: at 6,000 vectors, the share of the
# true top 10 found in the top 20 / top 50 by 64-component PCA inner product was 0.92 /
# 0.991 for real MiniLM vectors; synthetic with 0.5: 0.88 / 0.94 (harder than real),
# 0.7: 0.94 / 0.974, 0.8: 0.98 / 0.999.  0.75 sits between the two closest.
CENTRE_SHARE = 0.75
FLAT_NOISE = 0.05  # the flat spectrum's noise per coordinate (cosine ~0.7 to the centre)


class Shape:
    """The distribution synthetic vectors are drawn from ('real' or 'flat' spectrum)."""

    def __init__(self, spectrum: str = "real") -> None:
        rng = np.random.default_rng(SEED)
        self.spectrum = spectrum
        if spectrum == "flat":
            self.scales = np.full(DIM, FLAT_NOISE, np.float32)
            centres = rng.standard_normal((CENTRES, DIM)).astype(np.float32)
            self.centres = centres / np.linalg.norm(centres, axis=1, keepdims=True)
            self.rotation = None
            self.mean = np.zeros(DIM, np.float32)
            return
        sd = np.arange(1, DIM + 1, dtype=np.float64) ** (-SPECTRUM_EXPONENT / 2)
        sd /= np.sqrt((sd ** 2).sum())  # total variance 1 before the mean is added
        self.scales = (sd * np.sqrt(1 - CENTRE_SHARE)).astype(np.float32)
        self.centres = (rng.standard_normal((CENTRES, DIM)) * sd
                        * np.sqrt(CENTRE_SHARE)).astype(np.float32)
        rotation, _ = np.linalg.qr(rng.standard_normal((DIM, DIM)))
        self.rotation = rotation.astype(np.float32)
        # Norm of the mean relative to a typical vector's spread, as measured.
        self.mean = (MEAN_NORM / np.sqrt(1 - MEAN_NORM ** 2) * self.rotation[:, 0]
                     ).astype(np.float32)

    def draw(self, rng: np.random.Generator, size: int) -> np.ndarray:
        block = self.centres[rng.integers(0, CENTRES, size)]
        block += rng.standard_normal((size, DIM), dtype=np.float32) * self.scales
        if self.rotation is not None:
            block = block @ self.rotation.T + self.mean
        block /= np.linalg.norm(block, axis=1, keepdims=True)
        return block


def synthetic_blocks(n: int, seed: int = SEED, shape: Shape | None = None) -> Iterator[np.ndarray]:
    """`n` clustered unit vectors (float32), in blocks; the same seed gives the same set."""
    shape = shape or Shape()
    rng = np.random.default_rng(seed)
    for start in range(0, n, BLOCK):
        yield shape.draw(rng, min(BLOCK, n - start))


class SyntheticStore:
    """The `Store` methods `DenseIndex` reads, serving int8 vectors held in memory.

    Each load returns fresh arrays, as a load from SQLite does, so the index's own
    memory shows in the RSS measurement.  Its version is the number of vectors, which
    is what a store that received them in one go reports, so the query benchmark can
    reuse the graph saved here.
    """

    def __init__(self, ids: np.ndarray, vectors: QuantizedVectors) -> None:
        self.ids, self.vectors = ids, vectors

    def vector_version(self) -> int:
        return len(self.ids)

    def preload(self) -> int:
        return 0  # held in memory: nothing for the OS to read in

    def vector_changes(self, since: int) -> tuple[int, np.ndarray] | None:
        return (since, np.zeros(0, np.int64)) if since == len(self.ids) else None

    def load_vectors(self, model_id: str, dim: int) -> tuple[np.ndarray, QuantizedVectors]:
        return self.ids.copy(), QuantizedVectors(self.vectors.codes.copy(),
                                                 self.vectors.scales.copy())

    def vectors_for(self, model_id: str, ids: np.ndarray | list[int],
                    dim: int) -> tuple[np.ndarray, QuantizedVectors]:
        wanted = np.unique(np.asarray(ids, dtype=np.int64))
        pos = np.minimum(np.searchsorted(self.ids, wanted), len(self.ids) - 1)
        rows = pos[self.ids[pos] == wanted]
        return self.ids[rows], QuantizedVectors(self.vectors.codes[rows],
                                                self.vectors.scales[rows])


def _top_k_rows(sims: np.ndarray, k: int) -> np.ndarray:
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, part, axis=1), axis=1)
    return np.take_along_axis(part, order, axis=1)


def ground_truth(n: int, queries: np.ndarray, masks: dict[str, np.ndarray],
                 shape: Shape) -> tuple[dict[str, np.ndarray], QuantizedVectors]:
    """Exact float32 top-k row numbers per filter ('all' and each mask), and the int8 set."""
    names = ["all", *masks]
    best_sims = {m: np.full((len(queries), 0), -np.inf, np.float32) for m in names}
    best_rows = {m: np.zeros((len(queries), 0), np.int64) for m in names}
    codes = np.empty((n, DIM), np.int8)
    scales = np.empty(n, np.float32)
    start = 0
    for block in synthetic_blocks(n, shape=shape):
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


def run_size(n: int, work: Path, shape: Shape) -> list[dict[str, Any]]:
    rng = np.random.default_rng(SEED + n)
    queries = next(synthetic_blocks(QUERIES, seed=SEED + 1, shape=shape))
    masks = {name: rng.random(n) < share for name, share in FILTERS.items()}
    log(f"vectors: ground truth for {n:,} vectors ({shape.spectrum} spectrum)")
    truth, vectors = ground_truth(n, queries, masks, shape)
    ids = np.arange(1, n + 1, dtype=np.int64)
    allowed = {name: ids[mask] for name, mask in masks.items()}
    store = SyntheticStore(ids, vectors)
    runs = []
    for path in ("exact", "hnsw"):
        log(f"vectors: {path} at {n:,}")
        cache = cache_path(work, n, shape.spectrum)
        runs.append({"spectrum": shape.spectrum,
                     **measure_path(store, path, cache, queries, truth, allowed)})
    return runs


def cache_path(work: Path, n: int, spectrum: str = "real") -> Path:
    """Where the graph over `synthetic_blocks(n)` is cached; the query benchmark reuses it."""
    return work / f"vectors-{SYNTHETIC_MODEL}-{spectrum}-{n}.hnsw"


def run(work: Path, *, quick: bool, sizes: tuple[int, ...] | None = None,
        spectrum: str = "real") -> dict[str, Any]:
    sizes = sizes or ((20_000,) if quick else (100_000, 1_000_000))
    shape = Shape(spectrum)
    runs = [r for n in sizes for r in run_size(n, work, shape)]
    # The headline figures: the largest set, on the path the product picks at that size.
    product = "exact" if sizes[-1] < DEFAULT_GRAPH_THRESHOLD else "hnsw"
    main = next(r for r in runs if r["n"] == sizes[-1] and r["path"] == product)
    headline = {key: main[key] for key in ("n", "path", "recall@10", "bytes_per_vector",
                                            "p50_ms", "p95_ms", "filtered_recall@10")}
    return {**headline, "memory": "RSS delta of the process across DenseIndex.refresh() "
                                  "(after gc): what the index keeps resident",
            "spectrum": spectrum, "graph_dim": reduced_dim(DIM), "rescore_pool": RESCORE_POOL,
            "k": K, "queries": QUERIES, "dim": DIM, "runs": runs}
