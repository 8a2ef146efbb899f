"""End-to-end query benchmark: `Searcher.search` on a generated index of n passages.

Passages are generated text (Zipf-distributed words, about 180 words each, ten per
file) written through `Store` in large transactions, so FTS5 indexes them as usual;
their vectors are the synthetic int8 vectors of the vector benchmark, written with
`Store.put_vectors`.  Queries are embedded with the real default model.  With a
`database` the same index is built in a scratch schema of that PostgreSQL database
(engine.pgstore), dropped afterwards.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np

from app.bench_common import log, percentiles_ms, timed
from app.bench_vectors import DIM, SYNTHETIC_MODEL, cache_path, synthetic_blocks
from engine import pagecache
from engine.dense import DenseIndex
from engine.embedder import OnnxEmbedder, default_model
from engine.ids import ChunkId
from engine.quantize import quantize
from engine.search import Searcher
from engine.storage import IndexStore, open_store, scratch_database
from engine.store import ChunkInput, FileRecord

VOCABULARY = 30_000
PER_FILE = 10
FILES_PER_TRANSACTION = 5_000
DURING_BUILD = 20  # queries timed while the graph is built, if it is
SYLLABLES = ("ka ri to mi su ne lo pa ve di ro an el um or is at en il ar "
             "sto pre tra qua lin mor").split()


def vocabulary(size: int) -> np.ndarray:
    """`size` distinct made-up words, shortest first (Zipf gives them the most weight)."""
    words: list[str] = []
    length = 1
    while len(words) < size:
        for i in range(len(SYLLABLES) ** length):
            parts, rest = [], i
            for _ in range(length):
                parts.append(SYLLABLES[rest % len(SYLLABLES)])
                rest //= len(SYLLABLES)
            words.append("".join(parts))
            if len(words) == size:
                break
        length += 1
    return np.array(words, dtype=object)


def zipf_ranks(rng: np.random.Generator, count: int) -> np.ndarray:
    return np.minimum(rng.zipf(1.1, count), VOCABULARY) - 1


def build_store(store: IndexStore, n_chunks: int, words: np.ndarray) -> None:
    rng = np.random.default_rng(11)
    n_files = -(-n_chunks // PER_FILE)
    made = 0
    for first in range(0, n_files, FILES_PER_TRANSACTION):
        with store.write():
            for f in range(first, min(first + FILES_PER_TRANSACTION, n_files)):
                count = min(PER_FILE, n_chunks - made)
                lengths = rng.integers(120, 240, count)
                tokens = words[zipf_ranks(rng, int(lengths.sum()))]
                bounds = np.concatenate([[0], np.cumsum(lengths)])
                chunks = [ChunkInput(i, " ".join(tokens[bounds[i]:bounds[i + 1]]), 0, 0)
                          for i in range(count)]
                title = " ".join(words[zipf_ranks(rng, 4)])
                path = f"/bench/{f // 1000}/{f}.txt"
                fid = store.upsert_file(FileRecord(path.encode(), path, "txt", title, 1, f,
                                                   None), "indexed")
                store.replace_chunks(fid, title, chunks)
                made += count
        log(f"query: {made:,}/{n_chunks:,} passages")
    ids = store.chunk_ids()
    start = 0
    for block in synthetic_blocks(n_chunks):
        with store.write():
            part = [ChunkId(int(i)) for i in ids[start:start + len(block)]]
            store.put_vectors(SYNTHETIC_MODEL, part, quantize(block))
        start += len(block)


def queries(words: np.ndarray, count: int) -> list[str]:
    """Two to four words each, drawn from the middle of the frequency range."""
    rng = np.random.default_rng(5)
    return [" ".join(words[rng.integers(50, 5000, int(rng.integers(2, 5)))])
            for _ in range(count)]


BLOCKS = ("hybrid", "lexical", "dense", "hybrid_resident")
RESIDENT_WAIT_S = 60.0


def query_blocks(words: np.ndarray, count: int) -> dict[str, list[str]]:
    """The queries of each timed block: DURING_BUILD while the graph is built, then
    `count` for each of BLOCKS.  Every block has queries of its own: a query whose rows
    another block has just read would be timed on a warmer cache than a user's new one."""
    texts = queries(words, DURING_BUILD + len(BLOCKS) * count)
    blocks = {"during_build": texts[:DURING_BUILD]}
    for i, name in enumerate(BLOCKS):
        blocks[name] = texts[DURING_BUILD + i * count:DURING_BUILD + (i + 1) * count]
    return blocks


def _timed_block(searcher: Searcher, texts: list[str], mode: str) -> dict[str, float]:
    times = [timed(lambda t=t: searcher.search(t, limit=10, mode=mode))  # type: ignore[misc]
             for t in texts]
    p50, p95 = percentiles_ms(times)
    return {"p50_ms": p50, "p95_ms": p95}


def _resident(files: list[Path]) -> float | None:
    share = pagecache.resident_fraction(files)
    return None if share is None else round(share, 3)


def _read_in(store: IndexStore, files: list[Path]) -> float | None:
    """Ask for the store to be read in and wait (a minute at most) until it is; the
    share resident then (None: not measurable here, e.g. PostgreSQL)."""
    store.preload()
    deadline = time.monotonic() + RESIDENT_WAIT_S
    while (share := _resident(files)) is not None and share < 0.99 \
            and time.monotonic() < deadline:
        time.sleep(0.5)
    return share


def run(work: Path, *, quick: bool, n_chunks: int | None = None,
        database: str | None = None) -> dict[str, Any]:
    n = n_chunks or (50_000 if quick else 1_000_000)
    folder = work / "query-index"
    folder.mkdir()
    try:
        with scratch_database(database) as scratch:
            return _run(folder, n, work, 50 if quick else 100, scratch)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _run(folder: Path, n: int, work: Path, count: int,
         database: str | None) -> dict[str, Any]:
    words = vocabulary(VOCABULARY)
    load_at_start = os.getloadavg()
    store = open_store(database, folder / "index.sqlite3")
    readers: list[IndexStore] = []
    try:
        build_s = timed(lambda: build_store(store, n, words))
        # Searched as the application searches: through read-only connections, one for
        # the keyword side and one for the dense index (app.context).
        readers = [store.reader(), store.reader()]
        cache = folder / "vectors.hnsw"
        reused = cache_path(work, n).exists()  # the vector benchmark's graph of these vectors
        if reused:
            shutil.copyfile(cache_path(work, n), cache)
        # The service asks the OS to read the index in when it starts (Store.preload).
        preloaded = readers[0].preload()
        embedder = OnnxEmbedder(default_model(), threads=2)
        # As the application does: a graph that must be built is built on a thread
        # while an exact scan answers.
        dense = DenseIndex(readers[1], SYNTHETIC_MODEL, DIM, cache, background=True)
        searcher = Searcher(readers[0], lambda: (embedder, dense))
        block = query_blocks(words, count)
        log("query: loading the dense index")
        started = time.perf_counter()
        load_s = timed(lambda: searcher.search("warm up", limit=10))
        first_answer = dense.kind if not dense.building else "exact scan (graph building)"
        during_build = [timed(lambda t=t: searcher.search(t, limit=10))  # type: ignore[misc]
                        for t in block["during_build"]] if dense.building else []
        dense.wait_for_refit()
        dense.settle()
        graph_s = time.perf_counter() - started
        files = sorted(folder.glob("index.sqlite3*")) if database is None else []
        conditions = {
            "graph": "loaded from the vector benchmark's file" if reused and not dense.rebuilt
            else "built in this process, in the background, before timing",
            "page_cache": "the store was written by this process, then asked in again "
                          "(Store.preload) when the searchers opened and, on a thread not "
                          "waited for, when the graph was adopted, as the service does",
            "preloaded_bytes": preloaded,
            "page_cache_resident_at_timing": _resident(files),
            "queries": f"{count} new ones per mode, none timed before",
            "connections": "read-only: one for keywords, one for the dense index",
            "refit_running": dense.building,
            "vector_index": dense.kind,
            "load_average_at_start": [round(x, 2) for x in load_at_start],
            "load_average_at_timing": [round(x, 2) for x in os.getloadavg()],
        }
        modes: dict[str, Any] = {}
        for mode in ("hybrid", "lexical", "dense"):
            log(f"query: {mode}")
            modes[mode] = _timed_block(searcher, block[mode], mode)
        # Hybrid once more, on new queries, with the whole store in the page cache: what
        # the query path costs when no page has to come from the disk.
        resident = _read_in(readers[0], files)
        modes["hybrid_resident"] = {**_timed_block(searcher, block["hybrid_resident"], "hybrid"),
                                    "page_cache_resident": resident}
        embed_times = [timed(lambda t=t: embedder.embed_query(t)) for t in block["hybrid"]]  # type: ignore[misc]
        embed_p50, _ = percentiles_ms(embed_times)
        db_bytes = None if database else \
            sum(p.stat().st_size for p in folder.glob("index.sqlite3*"))
    finally:
        for reader in readers:
            reader.close()
        store.close()
    return {"n_chunks": n, "engine": "postgresql" if database else "sqlite",
            "ingest_passages_s": round(n / build_s, 1) if build_s else None,
            "queries": count, "p50_ms": modes["hybrid"]["p50_ms"],
            "p95_ms": modes["hybrid"]["p95_ms"], "modes": modes,
            "query_embedding_p50_ms": embed_p50, "build_s": round(build_s, 1),
            "first_search_s": round(load_s, 2), "first_search_answered_by": first_answer,
            "during_build": dict(zip(("p50_ms", "p95_ms"), percentiles_ms(during_build),
                                     strict=True)) if during_build else None,
            "graph_ready_s": round(graph_s, 1), "conditions": conditions,
            "graph_from_vector_bench": reused,
            "database_bytes": db_bytes, "time_unit": "ms per search, limit 10"}
