"""Keyword ranking on PostgreSQL: our BM25 (FTS5's formula, computed in SQL) against
PostgreSQL's own ts_rank_cd, beside SQLite's FTS5, on BEIR collections.

    python tests/bench/bench_pg_ranking.py DATABASE BEIR_DIR...

DATABASE is a postgresql:// connection string; each collection is indexed (text only,
no embedding) into a scratch schema there, dropped afterwards, and into a temporary
SQLite file.  Every test query runs through the real Searcher in lexical mode (top
100, no relevance floor) and is scored as `deskfind eval` scores it.  Numbers, not
asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.evaluate import _documents, _read_jsonl, load_qrels, ndcg_at, write_corpus  # noqa: E402
from engine.pgstore import RANKINGS, PgStore  # noqa: E402
from engine.search import Searcher  # noqa: E402
from engine.storage import IndexStore, open_store, scratch_database  # noqa: E402
from indexer.pipeline import Indexer, IndexReport  # noqa: E402


def lexical_ndcg(store: IndexStore, names: dict[str, str], beir: Path) -> tuple[float, float]:
    """Mean nDCG@10 of lexical search over the collection's test queries, and the mean
    milliseconds per query."""
    qrels = load_qrels(beir / "qrels" / "test.tsv")
    queries = [q for q in _read_jsonl(beir / "queries.jsonl") if str(q["_id"]) in qrels]
    searcher = Searcher(store, None)
    total, started = 0.0, time.perf_counter()
    for q in queries:
        results = searcher.search(q["text"], limit=100, mode="lexical", floor=False)
        total += ndcg_at([d for d, _ in _documents(results, names)], qrels[str(q["_id"])])
    return total / len(queries), (time.perf_counter() - started) * 1000 / len(queries)


def measure(database: str, beir: Path, work: Path) -> dict[str, object]:
    docs = work / "docs"
    docs.mkdir()
    names = write_corpus(_read_jsonl(beir / "corpus.jsonl"), docs)
    report: dict[str, object] = {"collection": beir.name}
    sqlite = open_store(None, work / "index.sqlite3")
    Indexer(sqlite).scan([bytes(docs)], IndexReport())
    report["sqlite fts5 bm25"] = lexical_ndcg(sqlite, names, beir)
    sqlite.close()
    with scratch_database(database) as scratch:
        pg = open_store(scratch, work / "unused")
        assert isinstance(pg, PgStore)
        Indexer(pg).scan([bytes(docs)], IndexReport())
        for ranking in RANKINGS:
            pg.ranking = ranking
            report[f"postgresql {ranking}"] = lexical_ndcg(pg, names, beir)
        pg.close()
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("database")
    parser.add_argument("beir_dirs", nargs="+", type=Path)
    args = parser.parse_args()
    for beir in args.beir_dirs:
        with tempfile.TemporaryDirectory(prefix="deskfind-pgrank-") as tmp:
            result = measure(args.database, beir, Path(tmp))
        print(json.dumps(result))
        for key, value in result.items():
            if isinstance(value, tuple):
                print(f"  {key:<22} nDCG@10 {value[0]:.4f}   {value[1]:.1f} ms/query")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
