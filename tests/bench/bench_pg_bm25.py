"""BM25 on PostgreSQL: the keyword statement before and after it cut each passage's
tsvector down to the query's lexemes, alternated on one index in one run.

    python tests/bench/bench_pg_bm25.py DATABASE [--passages 100000] [--queries 50]

DATABASE is a postgresql:// connection string; the query benchmark's generated index
(app/bench_query.py: Zipf text, 120-240 words a passage) is built in a scratch schema
dropped afterwards.  Each query goes through the search's own term budget
(Searcher._affordable), then both statements run on it, in turns, warm (each query is
run once untimed first).  Prints one JSON object: p50/p95 ms of each statement, their
ratio, and whether both returned the same passages with the same scores.  Numbers, not
asserts.
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

from app import bench_query  # noqa: E402
from app.bench_common import machine, percentiles_ms  # noqa: E402
from engine import pgstore  # noqa: E402
from engine.pgstore import PgStore, scratch_schema  # noqa: E402
from engine.query import KeywordMatch, parse_query  # noqa: E402
from engine.search import LEXICAL_POOL, Searcher  # noqa: E402

# The statement of schema 3 as released (2026-12-03): every lexeme of each passage
# unnested and joined with the query's.  It takes today's parameters (the query's
# lexemes are passed twice now, hence the coalesce) and files are always joined.
BEFORE = """
    SELECT c.id, (SELECT coalesce(sum(q.idf * cardinality(t.positions) * 2.2
                        / (cardinality(t.positions) + 1.2 * (1 - 0.75 + 0.75 * c.tokens / %s))),
                        0)
                  FROM unnest(c.words) t JOIN unnest(coalesce(%s::text[], %s::text[]), %s::float8[])
                  q(lexeme, idf) ON q.lexeme = t.lexeme) AS score
    FROM chunks c JOIN files f ON f.id = c.file_id
    WHERE c.words @@ ({match}) AND {where}
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("--passages", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    args = parser.parse_args()
    report: dict[str, object] = {"machine": machine(), "passages": args.passages}
    words = bench_query.vocabulary(bench_query.VOCABULARY)
    with scratch_schema(args.database) as dsn:
        store = PgStore.open(dsn)
        try:
            bench_query.build_store(store, args.passages, words)
            reader = store.reader()
            searcher = Searcher(reader, lambda: None)  # type: ignore[arg-type, return-value]
            matches = []
            for text in bench_query.queries(words, args.queries):
                q = parse_query(text)
                keys = (*q.keyword_terms, *q.phrases)
                stats = dict(zip(keys, reader.token_counts(list(keys)), strict=True))
                matches.append(KeywordMatch.of(searcher._affordable(q, stats)))
            report.update(_alternate(reader, matches))
            reader.close()
        finally:
            store.close()
    report["machine_after"] = machine()
    print(json.dumps(report))
    return 0


def _alternate(store: PgStore, matches: list[KeywordMatch]) -> dict[str, object]:
    pgstore.RANKINGS["bm25_before"] = BEFORE  # a ranking this store can be switched to
    times: dict[str, list[float]] = {"before": [], "after": []}
    same = True
    for match in matches:
        results = {}
        for name, ranking in (("before", "bm25_before"), ("after", "bm25")):
            store.ranking = ranking
            store.keyword_search(match, LEXICAL_POOL)
            started = time.perf_counter()
            results[name] = store.keyword_search(match, LEXICAL_POOL)
            times[name].append(time.perf_counter() - started)
        ids = [[c for c, _ in results[n]] for n in ("before", "after")]
        scores = [[s for _, s in results[n]] for n in ("before", "after")]
        same = same and ids[0] == ids[1] and bool(np.allclose(scores[0], scores[1]))
    out: dict[str, object] = {name: dict(zip(("p50_ms", "p95_ms"), percentiles_ms(t),
                                             strict=True)) for name, t in times.items()}
    out["p50_ratio"] = round(float(np.median(times["before"]) / np.median(times["after"])), 2)
    out["same_results"] = same
    return out


if __name__ == "__main__":
    raise SystemExit(main())
