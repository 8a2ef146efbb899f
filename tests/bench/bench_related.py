"""Related-files quality on a BEIR collection: mean passage vector against best pair.

    python tests/bench/bench_related.py BEIR_DIR [--limit 10]

Writes the corpus as files, indexes and embeds it (default model, fp32, two threads),
then for every document judged relevant to some query asks for its related files and
counts how many of the top `limit` are judged relevant to a query it is relevant to
(precision@limit), whether the first is (hit@1) and the reciprocal rank of the first
that is (MRR@limit).  Numbers, not asserts.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from app.evaluate import _read_jsonl, load_qrels, write_corpus  # noqa: E402
from engine.dense import DenseIndex  # noqa: E402
from engine.embedder import OnnxEmbedder, default_model  # noqa: E402
from engine.related import METHODS, RelatedError, related_files  # noqa: E402
from engine.store import Store  # noqa: E402
from indexer.pipeline import Indexer, IndexReport  # noqa: E402


def siblings(qrels: dict[str, dict[str, int]]) -> dict[str, set[str]]:
    """For each judged document, the other documents relevant to a query it is relevant to."""
    out: dict[str, set[str]] = defaultdict(set)
    for judged in qrels.values():
        relevant = {d for d, grade in judged.items() if grade > 0}
        for d in relevant:
            out[d] |= relevant - {d}
    return {d: s for d, s in out.items() if s}


def measure(beir: Path, limit: int, work: Path) -> dict[str, object]:
    docs = work / "docs"
    docs.mkdir()
    names = write_corpus(_read_jsonl(beir / "corpus.jsonl"), docs)
    wanted = siblings(load_qrels(beir / "qrels" / "test.tsv"))
    store = Store.open(work / "data" / "index.sqlite3")
    indexer = Indexer(store)
    indexer.scan([bytes(docs)], IndexReport())
    embedder = OnnxEmbedder(default_model(), threads=2)
    indexer.embed_pending(embedder, IndexReport())
    dense = DenseIndex(store, embedder.model_id, embedder.dim, work / "v.hnsw")
    by_id = {doc_id: path for path, doc_id in names.items()}
    report: dict[str, object] = {"documents": len(wanted), "limit": limit}
    for method in METHODS:
        precision = hit1 = mrr = 0.0
        started = time.perf_counter()
        unembedded = 0
        for doc_id, relevant in wanted.items():
            try:
                found = related_files(store, dense, by_id[doc_id].encode(), limit=limit,
                                      method=method)
            except RelatedError:  # a document without text: no passage to compare
                unembedded += 1
                continue
            ranked = [names[r.display_path] for r in found]
            good = [d in relevant for d in ranked]
            precision += sum(good) / limit
            hit1 += bool(good and good[0])
            mrr += next((1 / (n + 1) for n, g in enumerate(good) if g), 0.0)
        n = len(wanted) - unembedded
        report["without_passages"] = unembedded
        report[method] = {"precision": round(precision / n, 4), "hit@1": round(hit1 / n, 4),
                          "mrr": round(mrr / n, 4),
                          "ms_per_file": round(1000 * (time.perf_counter() - started) / n, 1)}
    store.close()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("beir", type=Path)
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deskfind-bench-related-") as work:
        print(json.dumps(measure(args.beir, args.limit, Path(work))))


if __name__ == "__main__":
    main()
