"""Relevance evaluation on a BEIR-layout collection, through the real pipeline."""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from app.context import Deskfind, Options
from engine.errors import DeskfindError
from engine.ranking import MODES
from engine.search import Searcher, SearchResult
from engine.storage import scratch_database
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
        raise DeskfindError(f"cannot read {path}: {exc}") from exc


def load_qrels(path: Path) -> Qrels:
    qrels: Qrels = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DeskfindError(f"cannot read {path}: {exc.strerror}") from exc
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


NAIVE_BASELINES = {"cc_0.5": 0.5, "cc_0.7": 0.7, "rrf_60": None}
METRICS = ("ndcg@10", "recall@100", "mrr@10")
SHOWN = 10  # the relevance floor is judged on a first screen of results


def naive_fusion(lexical: Sequence[tuple[str, float]], dense: Sequence[tuple[str, float]],
                 alpha: float | None) -> list[str]:
    """The simplest fusion of two result lists (doc, score), best first.

    alpha given: α·cosine + (1−α)·BM25/max(BM25), a document missing from a list scoring
    0 there; alpha None: reciprocal rank fusion with k = 60.
    """
    fused: dict[str, float] = {}
    if alpha is None:
        for ranking in (lexical, dense):
            for rank, (doc, _) in enumerate(ranking, start=1):
                fused[doc] = fused.get(doc, 0.0) + 1.0 / (60 + rank)
    else:
        top = max((s for _, s in lexical), default=0.0) or 1.0
        for doc, s in lexical:
            fused[doc] = (1 - alpha) * s / top
        for doc, s in dense:
            fused[doc] = fused.get(doc, 0.0) + alpha * s
    return sorted(fused, key=lambda d: -fused[d])


class _Scores:
    """Per-query metric values of one ranking method."""

    def __init__(self) -> None:
        self.values: dict[str, list[float]] = {m: [] for m in METRICS}

    def add(self, ranked: Sequence[str], rels: Mapping[str, int]) -> None:
        self.values["ndcg@10"].append(ndcg_at(ranked, rels))
        self.values["recall@100"].append(recall_at(ranked, rels))
        self.values["mrr@10"].append(mrr_at(ranked, rels))

    def means(self) -> dict[str, float]:
        return {m: round(float(np.mean(v)), 4) if v else 0.0 for m, v in self.values.items()}


def _documents(results: Sequence[SearchResult], names: Mapping[str, str]
               ) -> list[tuple[str, float]]:
    """(doc id, score) in the order shown; a result's copies (near-duplicate documents
    grouped under it) follow it, as they do when a user opens the group."""
    return [(names[r.display_path], r.score) if c is None else (names[c.display_path], c.score)
            for r in results for c in (None, *r.copies)]


def paired_difference(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """Mean of the per-query differences b - a, and its standard error: two rankings
    scored on the same queries differ by more than chance only when the mean is well
    outside a couple of standard errors."""
    d = np.asarray(b, dtype=np.float64) - np.asarray(a, dtype=np.float64)
    if len(d) == 0:
        return 0.0, 0.0
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0
    return float(d.mean()), se


def score_queries(searcher: Searcher, names: Mapping[str, str],
                  queries: Sequence[Mapping[str, str]], qrels: Qrels, *,
                  per_query: bool = False) -> dict[str, object]:
    """Every search mode, the naive fusions and the floor, over `queries` (doc ids are
    `names[display_path]`); with `per_query`, also each mode's nDCG@10 of every query,
    in the order of `queries` (`per_query_ndcg@10`)."""
    scores = {name: _Scores() for name in (*MODES, *NAIVE_BASELINES)}
    latencies: list[float] = []
    shown = relevant_shown = top_relevant = hidden_relevant = 0
    for q in queries:
        rels = qrels[str(q["_id"])]
        lists: dict[str, list[tuple[str, float]]] = {}
        for mode in MODES:
            started = time.perf_counter()
            results = searcher.search(q["text"], limit=100, mode=mode, floor=False)
            if mode == "hybrid":
                latencies.append((time.perf_counter() - started) * 1000)
            lists[mode] = _documents(results, names)
            scores[mode].add([d for d, _ in lists[mode]], rels)
        for name, alpha in NAIVE_BASELINES.items():
            scores[name].add(naive_fusion(lists["lexical"], lists["dense"], alpha), rels)
        floored = [d for d, _ in _documents(
            searcher.search(q["text"], limit=SHOWN, mode="hybrid"), names)][:SHOWN]
        wanted = {d for d, _ in lists["hybrid"][:SHOWN] if rels.get(d, 0) > 0}
        shown += len(floored)
        relevant_shown += sum(1 for d in floored if rels.get(d, 0) > 0)
        top_relevant += len(wanted)
        hidden_relevant += len(wanted - set(floored))
    report: dict[str, object] = {"queries": len(queries)}
    report.update({mode: scores[mode].means() for mode in MODES})
    if per_query:
        report["per_query_ndcg@10"] = {mode: scores[mode].values["ndcg@10"] for mode in MODES}
    report["baselines"] = {name: scores[name].means() for name in NAIVE_BASELINES}
    report["floor"] = {
        "shown_per_query": round(shown / len(queries), 2) if queries else 0.0,
        "precision": round(relevant_shown / shown, 4) if shown else 0.0,
        "hidden_relevant": round(hidden_relevant / top_relevant, 4) if top_relevant else 0.0,
    }
    report["latency_ms"] = {"p50": round(float(np.percentile(latencies, 50)), 2),
                            "p95": round(float(np.percentile(latencies, 95)), 2)} \
        if latencies else {"p50": 0.0, "p95": 0.0}
    return report


def evaluate_beir(beir_dir: Path, options: Options, *, max_queries: int = 0,
                  progress: Progress | None = None, per_query: bool = False
                  ) -> dict[str, object]:
    """Index the collection in a temporary folder and score every search mode, the naive
    fusions of the lexical and dense lists, and the relevance floor (`per_query`: see
    score_queries)."""
    for needed in ("corpus.jsonl", "queries.jsonl", "qrels/test.tsv"):
        if not (beir_dir / needed).is_file():
            raise DeskfindError(f"{beir_dir} is not a BEIR folder: {needed} is missing")
    corpus = _read_jsonl(beir_dir / "corpus.jsonl")
    qrels = load_qrels(beir_dir / "qrels" / "test.tsv")
    queries = [q for q in _read_jsonl(beir_dir / "queries.jsonl") if str(q["_id"]) in qrels]
    if max_queries:
        queries = queries[:max_queries]
    with tempfile.TemporaryDirectory(prefix="deskfind-eval-") as tmp, \
            scratch_database(options.database) as database:
        docs = Path(tmp) / "docs"
        docs.mkdir()
        names = write_corpus(corpus, docs)
        with Deskfind(replace(options, data_dir=str(Path(tmp) / "data"),
                              database=database)) as df:
            started = time.perf_counter()
            df.index([docs], progress)
            index_seconds = time.perf_counter() - started
            if progress and hasattr(progress, "finish"):
                progress.finish()
            report = score_queries(df.searcher(), names, queries, qrels,
                                   per_query=per_query)
    report = {"collection": beir_dir.name, "docs": len(corpus), **report}
    report["index_seconds"] = round(index_seconds, 1)
    return report


_ROWS = [("lexical", "nDCG@10", "lexical", "ndcg@10"), ("dense", "nDCG@10", "dense", "ndcg@10"),
         ("hybrid", "nDCG@10", "hybrid", "ndcg@10"),
         ("naive CC α=0.5", "nDCG@10", "cc_0.5", "ndcg@10"),
         ("naive CC α=0.7", "nDCG@10", "cc_0.7", "ndcg@10"),
         ("naive RRF k=60", "nDCG@10", "rrf_60", "ndcg@10"),
         ("hybrid", "Recall@100", "hybrid", "recall@100"),
         ("hybrid", "MRR@10", "hybrid", "mrr@10")]


def _cell(report: Mapping[str, Any], method: str, metric: str) -> str:
    table = report[method] if method in report else report["baselines"][method]
    return f"{table[metric]:.4f}"


def format_report(reports: Sequence[Mapping[str, Any]]) -> str:
    """Every collection side by side, one column each."""
    width = max(12, *(len(str(r["collection"])) + 2 for r in reports))
    head = f"{'':<26}" + "".join(f"{str(r['collection']):>{width}}" for r in reports)

    def row(label: str, cells: Sequence[str]) -> str:
        return f"{label:<26}" + "".join(f"{c:>{width}}" for c in cells)

    lines = [head, row("documents / queries", [f"{r['docs']}/{r['queries']}" for r in reports])]
    for label, metric, method, key in _ROWS:
        lines.append(row(f"{label} {metric}", [_cell(r, method, key) for r in reports]))
    floors = [r["floor"] for r in reports]
    lines.append(row(f"floor: shown of top {SHOWN}",
                     [f"{f['shown_per_query']:.1f}" for f in floors]))
    lines.append(row("floor: shown that are relevant",
                     [f"{f['precision']:.3f}" for f in floors]))
    lines.append(row("floor: relevant it hides",
                     [f"{f['hidden_relevant']:.3f}" for f in floors]))
    lines.append(row("hybrid latency p50/p95 ms",
                     [f"{r['latency_ms']['p50']:.0f}/{r['latency_ms']['p95']:.0f}"
                      for r in reports]))
    lines.append(row("indexing s", [f"{r['index_seconds']}" for r in reports]))
    return "\n".join(lines)
