"""Relevance evaluation on a BEIR-layout collection, through the real pipeline."""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from app.context import Deskfind, Options
from engine.errors import EngineError
from engine.ranking import MODES
from indexer.pipeline import Progress

Qrels = dict[str, dict[str, int]]


def ndcg_at(ranked: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    """nDCG@k with linear gains, as trec_eval and BEIR compute it."""
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:k]))
    ideal = sorted(rels.values(), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], rels: Mapping[str, int], k: int = 100) -> float:
    relevant = {d for d, g in rels.items() if g > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], rels: Mapping[str, int], k: int = 10) -> float:
    for i, d in enumerate(ranked[:k]):
        if rels.get(d, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


def _read_jsonl(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]
    except (OSError, ValueError) as exc:
        raise EngineError(f"cannot read {path}: {exc}") from exc


def load_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise EngineError(f"cannot read {path}: {exc.strerror}") from exc
    for line in lines[1:]:  # header: query-id, corpus-id, score
        parts = line.split("\t")
        if len(parts) >= 3:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def write_corpus(corpus: list[dict[str, str]], folder: Path) -> dict[str, str]:
    """Each document as a text file (title, blank line, text); returns path → doc id."""
    names: dict[str, str] = {}
    for n, doc in enumerate(corpus):
        path = folder / f"doc{n:06d}.txt"
        title = " ".join(str(doc.get("title", "")).split())
        path.write_text(f"{title}\n\n{doc.get('text', '')}\n" if title else
                        f"{doc.get('text', '')}\n", encoding="utf-8")
        names[str(path)] = str(doc["_id"])
    return names


def evaluate_beir(beir_dir: Path, options: Options, *, max_queries: int = 0,
                  progress: Progress | None = None) -> dict[str, object]:
    """Index the collection in a temporary folder and score every search mode."""
    for needed in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (beir_dir / needed).is_file():
            raise EngineError(f"{beir_dir} is not a BEIR folder: {needed} is missing")
    corpus = _read_jsonl(beir_dir / "corpus.jsonl")
    qrels = load_qrels(beir_dir / "qrels" / "test.tsv")
    queries = [q for q in _read_jsonl(beir_dir / "queries.jsonl") if str(q["_id"]) in qrels]
    if max_queries:
        queries = queries[:max_queries]
    with tempfile.TemporaryDirectory(prefix="deskfind-eval-") as tmp:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        names = write_corpus(corpus, docs)
        with Deskfind(replace(options, data_dir=str(Path(tmp) / "data"))) as df:
            started = time.perf_counter()
            df.index([docs], progress)
            index_seconds = time.perf_counter() - started
            if progress and hasattr(progress, "finish"):
                progress.finish()
            searcher = df.searcher()
            report: dict[str, object] = {"docs": len(corpus), "queries": len(queries)}
            latencies: list[float] = []
            for mode in MODES:
                scores: dict[str, list[float]] = {"ndcg@10": [], "recall@100": [], "mrr@10": []}
                for q in queries:
                    started = time.perf_counter()
                    results = searcher.search(q["text"], limit=100, mode=mode, min_score=0.0)
                    if mode == "hybrid":
                        latencies.append((time.perf_counter() - started) * 1000)
                    ranked = [names[r.display_path] for r in results]
                    rels = qrels[str(q["_id"])]
                    scores["ndcg@10"].append(ndcg_at(ranked, rels))
                    scores["recall@100"].append(recall_at(ranked, rels))
                    scores["mrr@10"].append(mrr_at(ranked, rels))
                report[mode] = {k: round(float(np.mean(v)), 4) if v else 0.0
                                for k, v in scores.items()}
    report["latency_ms"] = {"p50": round(float(np.percentile(latencies, 50)), 2),
                            "p95": round(float(np.percentile(latencies, 95)), 2)} \
        if latencies else {"p50": 0.0, "p95": 0.0}
    report["index_seconds"] = round(index_seconds, 1)
    return report


def format_report(report: Mapping[str, object]) -> str:
    lines = [f"{report['docs']} documents, {report['queries']} queries "
             f"(indexed in {report['index_seconds']} s)",
             f"{'mode':<8} {'nDCG@10':>8} {'R@100':>8} {'MRR@10':>8}"]
    for mode in MODES:
        m = report[mode]
        assert isinstance(m, dict)
        lines.append(f"{mode:<8} {m['ndcg@10']:>8.4f} {m['recall@100']:>8.4f} "
                     f"{m['mrr@10']:>8.4f}")
    lat = report["latency_ms"]
    assert isinstance(lat, dict)
    lines.append(f"hybrid query latency: p50 {lat['p50']} ms, p95 {lat['p95']} ms")
    return "\n".join(lines)
