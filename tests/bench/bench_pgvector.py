"""pgvector's HNSW index against Deskfind's own dense index (engine.dense), on the same
vectors, with and without a filter that keeps a fraction of the passages.

    python tests/bench/bench_pgvector.py DATABASE [--vectors 200000] [--queries 50]

DATABASE is a postgresql:// connection string to a server with the `vector` extension
(the pgserver wheel ships pgvector 0.6); the table is made in a scratch schema dropped
afterwards.  The vectors are synthetic 384-d unit vectors shaped like MiniLM's
(app.bench_vectors), each with a root number 0-99, so "root < 10" keeps 10 % and
"root = 0" 1 %: the shape of a role that may read a tenth or a hundredth of a team
index, or of an ext:/path: filter.  pgvector: `vector(384)`, `hnsw (v vector_ip_ops)`
with M 16 and ef_construction 200 (ours), ef_search 400 (our rescoring pool; pgvector's
largest useful value is 1,000), the filter in the WHERE clause.  Ours: `DenseIndex`
over the same vectors as int8 (the PCA-reduced graph, rescored exactly), the filter
as its allowed set.  Both warm, one query at a time.

Prints one JSON object: build seconds, the index's size (pgvector's on disk, ours in
memory), and per case p50/p95 ms, recall@10 against an exact float scan of the
admitted passages, and the mean number of results (fewer than 10 means passages were
lost).  Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import io
import json
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.bench_common import machine, percentiles_ms, rss_bytes  # noqa: E402
from app.bench_vectors import DIM, SYNTHETIC_MODEL, SyntheticStore, synthetic_blocks  # noqa: E402
from engine.dense import RESCORE_POOL, DenseIndex  # noqa: E402
from engine.pgstore import psycopg, scratch_schema  # noqa: E402
from engine.quantize import quantize  # noqa: E402
from engine.store import Store  # noqa: E402

ROOTS = 100
CASES = {"everything": None, "a tenth (root < 10)": 10, "a hundredth (root = 0)": 1}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--vectors", type=int, default=200_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    vectors = np.vstack(list(synthetic_blocks(args.vectors)))
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    roots = np.random.default_rng(3).integers(0, ROOTS, len(vectors))
    queries = np.vstack(list(synthetic_blocks(args.queries, seed=7)))
    report: dict[str, object] = {"machine": machine(), "vectors": args.vectors,
                                 "queries": args.queries}
    with scratch_schema(args.database) as dsn:
        report["pgvector"] = _pgvector(dsn, ids, vectors, roots, queries)
    report["deskfind"] = _ours(ids, vectors, roots, queries)
    report["machine_after"] = machine()
    print(json.dumps(report))
    return 0


def _truth(ids: np.ndarray, vectors: np.ndarray, keep: np.ndarray, query: np.ndarray) -> set[int]:
    sims = vectors[keep] @ query
    return set(ids[keep][np.argsort(-sims)[:10]].tolist())


def _admitted(roots: np.ndarray, below: int | None) -> np.ndarray:
    return np.ones(len(roots), bool) if below is None else roots < below


def _measure(search, ids, vectors, roots, queries) -> dict[str, object]:  # type: ignore[no-untyped-def]
    out: dict[str, object] = {}
    for case, below in CASES.items():
        keep = _admitted(roots, below)
        search(queries[0], below)  # warm
        times, recall, found = [], [], []
        for query in queries:
            started = time.perf_counter()
            got = search(query, below)
            times.append(time.perf_counter() - started)
            recall.append(len(set(got) & _truth(ids, vectors, keep, query)) / 10)
            found.append(len(got))
        p50, p95 = percentiles_ms(times)
        out[case] = {"p50_ms": p50, "p95_ms": p95, "recall_at_10": round(float(np.mean(recall)), 3),
                     "mean_results": round(float(np.mean(found)), 2)}
    return out


def _copy_rows(ids: np.ndarray, roots: np.ndarray, vectors: np.ndarray) -> bytes:
    """PostgreSQL's binary COPY stream of (id bigint, root int, v vector)."""
    buf = io.BytesIO()
    buf.write(b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0))
    head = struct.pack(">h", 3)
    for i, r, v in zip(ids.tolist(), roots.tolist(), vectors, strict=True):
        buf.write(head + struct.pack(">iqii", 8, i, 4, r))
        body = struct.pack(">hh", DIM, 0) + v.astype(">f4").tobytes()
        buf.write(struct.pack(">i", len(body)) + body)
    buf.write(struct.pack(">h", -1))
    return buf.getvalue()


def _pgvector(dsn: str, ids: np.ndarray, vectors: np.ndarray, roots: np.ndarray,
              queries: np.ndarray) -> dict[str, object]:
    assert psycopg is not None
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        schema = conn.execute("SELECT current_schema()").fetchone()[0]  # type: ignore[index]
        conn.execute(f"CREATE TABLE {schema}.t (id bigint PRIMARY KEY, root integer, "
                     f"v vector({DIM}))")
        with conn.cursor().copy(f"COPY {schema}.t FROM STDIN (FORMAT BINARY)") as copy:
            copy.write(_copy_rows(ids, roots, vectors))
        conn.execute("SET maintenance_work_mem = '2GB'")
        started = time.perf_counter()
        conn.execute(f"CREATE INDEX t_v ON {schema}.t USING hnsw (v vector_ip_ops) "
                     "WITH (m = 16, ef_construction = 200)")
        build_s = time.perf_counter() - started
        conn.execute(f"ANALYZE {schema}.t")
        size = conn.execute("SELECT pg_relation_size('t_v')").fetchone()[0]  # type: ignore[index]
        conn.execute(f"SET hnsw.ef_search = {RESCORE_POOL}")

        def search(query: np.ndarray, below: int | None) -> list[int]:
            where = "" if below is None else ("WHERE root = 0" if below == 1
                                              else f"WHERE root < {below}")
            literal = "[" + ",".join(f"{x:.7g}" for x in query) + "]"
            rows = conn.execute(f"SELECT id FROM t {where} ORDER BY v <#> %s::vector LIMIT 10",
                                (literal,)).fetchall()
            return [int(r[0]) for r in rows]

        result = _measure(search, ids, vectors, roots, queries)
    return {"build_s": round(build_s, 1), "index_mib": round(size / 2**20, 1), **result}


def _ours(ids: np.ndarray, vectors: np.ndarray, roots: np.ndarray,
          queries: np.ndarray) -> dict[str, object]:
    store = SyntheticStore(ids, quantize(vectors))
    with tempfile.TemporaryDirectory() as work:
        index = DenseIndex(cast(Store, store), SYNTHETIC_MODEL, DIM, Path(work) / "g.hnsw",
                           graph_threshold=0)
        before = rss_bytes()
        started = time.perf_counter()
        index.refresh()
        build_s = time.perf_counter() - started
        held = rss_bytes() - before
        allowed = {below: ids[_admitted(roots, below)] for below in CASES.values()}

        def search(query: np.ndarray, below: int | None) -> list[int]:
            return [int(c) for c, _ in index.search(query, 10, None if below is None
                                                      else allowed[below])]

        result = _measure(search, ids, vectors, roots, queries)
    return {"build_s": round(build_s, 1), "index_mib": round(held / 2**20, 1),
            "index_mib_is": "this process's resident memory after the build, above before",
            **result}


if __name__ == "__main__":
    raise SystemExit(main())
