"""Score normalisation, hybrid fusion and passage-to-document aggregation (pure functions).

Hybrid search combines the two sides convexly, `α·dense + (1−α)·lexical`, after putting
each on a [0, 1] scale whose ends mean the same thing for every query (the theoretical
min-max idea of Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
Retrieval", TOIS 2023, with theoretical bounds at both ends):

- lexical: BM25 / the BM25 of an ideal passage that holds every query token once
  (`ideal_bm25`), clipped to 1.  A passage matching one word of three scores about a
  third, where dividing by the best observed score would call it perfect.
- dense: the cosine itself, negatives clipped to 0 (no evidence).  Measured on our tests,
  the theoretical floor of −1 squeezes real cosines (0.1–0.7 for MiniLM) into a narrow
  band that keyword matches on the wrong documents outvote.

α adapts per query (`query_alpha`): when the best keyword match covers the whole query,
α is the configured weight; the less of the query any passage matches, the more the
ranking leans on meaning.  Noise on either side therefore stays small in absolute terms
and cannot outvote real evidence on the other.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)

BM25_MIN = 0.0
COSINE_FLOOR = 0.0
# Bruch et al. find the best convex weight toward the dense side at 0.6–0.8 across
# collections; the middle of that range is our default.
DEFAULT_ALPHA = 0.7
RRF_K = 60
MODES = ("hybrid", "lexical", "dense")
FUSIONS = ("convex", "rrf")


def tmm(scores: np.ndarray, theoretical_min: float) -> np.ndarray:
    """Theoretical min-max: (s − min_theory) / (max_observed − min_theory), in [0, 1]."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.size == 0:
        return scores
    top = float(scores.max())
    if top <= theoretical_min:
        return np.zeros_like(scores)
    return np.clip((scores - theoretical_min) / (top - theoretical_min), 0.0, 1.0)


def convex(lexical: np.ndarray, dense: np.ndarray, alpha: float) -> np.ndarray:
    """α·dense + (1−α)·lexical on normalised scores."""
    return alpha * np.asarray(dense) + (1.0 - alpha) * np.asarray(lexical)


def rrf(rankings: Sequence[Sequence[K]], k: int = RRF_K) -> dict[K, float]:
    """Reciprocal rank fusion: Σ 1 / (k + rank) over the rankings that hold an item."""
    fused: dict[K, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return fused


@dataclass(frozen=True)
class Fused:
    """A passage's fused score and the normalised contribution of each side."""

    score: float
    lexical: float
    dense: float


def ideal_bm25(doc_counts: Sequence[int], n_docs: int) -> float:
    """BM25 of an average-length passage holding each query token once: Σ idf.

    With term frequency 1 and average length, BM25's saturation term is exactly 1, so
    the score is the sum of the tokens' idf (FTS5's formula, floored at 1e-6 as FTS5
    does).  It is the score of a passage that fully matches the query, which makes it a
    query-specific upper reference: a passage matching one word of three lands near a
    third of it, whereas dividing by the best observed score would call it perfect.
    """
    total = 0.0
    for n in doc_counts:
        idf = float(np.log((n_docs - n + 0.5) / (n + 0.5))) if n_docs else 0.0
        total += max(idf, 1e-6)
    return total


def normalise_lexical(scores: np.ndarray, ideal: float | None) -> np.ndarray:
    """BM25 on [0, 1]: against the ideal passage when known, else the best seen (TMM)."""
    if ideal and ideal > 0:
        return np.clip(np.asarray(scores, dtype=np.float64) / ideal, 0.0, 1.0)
    return tmm(scores, BM25_MIN)


def normalise_dense(cosines: np.ndarray) -> np.ndarray:
    """Cosine on [0, 1]: negative similarity is no evidence."""
    return np.clip(np.asarray(cosines, dtype=np.float64), COSINE_FLOOR, 1.0)


def query_alpha(alpha: float, coverage: float) -> float:
    """The dense weight for one query: `alpha` at full keyword coverage, 1 at none."""
    coverage = min(max(coverage, 0.0), 1.0)
    return 1.0 - (1.0 - alpha) * coverage


def fuse(lexical: Mapping[K, float], dense: Mapping[K, float], *, mode: str = "hybrid",
         alpha: float = DEFAULT_ALPHA, method: str = "convex",
         ideal: float | None = None) -> dict[K, Fused]:
    """Combine raw BM25 scores and cosines of the same candidates.

    A candidate absent from `lexical` did not match the keywords (BM25 0).  One absent
    from `dense` has no vector yet; it gets the median normalised dense score, so a
    passage still waiting for its embedding is neither favoured nor buried.
    """
    keys = list(dict.fromkeys([*lexical, *dense]))
    if not keys:
        return {}
    lex = normalise_lexical(np.array([lexical.get(k, BM25_MIN) for k in keys]), ideal)
    has_dense = np.array([k in dense for k in keys])
    den = normalise_dense(np.array([dense.get(k, COSINE_FLOOR) for k in keys]))
    if has_dense.any() and not has_dense.all():
        den[~has_dense] = float(np.median(den[has_dense]))
    if mode == "lexical":  # rank by BM25 itself: clipping at the ideal would tie the best
        scores = tmm(np.array([lexical.get(k, BM25_MIN) for k in keys]), BM25_MIN)
    elif mode == "dense":
        scores = den
    elif method == "rrf":
        by_lex = sorted(lexical, key=lambda k: -lexical[k])
        by_den = sorted(dense, key=lambda k: -dense[k])
        table = rrf([by_lex, by_den])
        scores = np.array([table.get(k, 0.0) for k in keys])
    else:
        scores = convex(lex, den, alpha)
    return {k: Fused(float(s), float(lx), float(d))
            for k, s, lx, d in zip(keys, scores, lex, den, strict=True)}


def aggregate(scores: Mapping[K, Fused], owner: Mapping[K, int]) -> list[tuple[int, K, Fused]]:
    """Documents ranked by their best passage: (document, best passage, its score)."""
    best: dict[int, tuple[K, Fused]] = {}
    for key, fused in scores.items():
        doc = owner[key]
        if doc not in best or fused.score > best[doc][1].score:
            best[doc] = (key, fused)
    ranked = sorted(best.items(), key=lambda item: (-item[1][1].score, item[0]))
    return [(doc, key, fused) for doc, (key, fused) in ranked]
