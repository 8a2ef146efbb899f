"""Score normalisation, hybrid fusion and passage-to-document aggregation (pure functions).

Fusion follows Bruch, Gai & Ingber, "An Analysis of Fusion Functions for Hybrid
Retrieval" (TOIS 2023): normalise each side with theoretical min-max (the lower bound is
what the scoring function can reach, BM25 ≥ 0 and cosine ≥ −1; the upper bound is the
best score seen for this query) and combine convexly.  Using the theoretical rather than
the observed minimum keeps a side whose scores are all alike (no signal) from being
stretched over the whole [0, 1] range, which is what makes the combination robust when
one side returns noise.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

K = TypeVar("K", bound=Hashable)

BM25_MIN = 0.0
COSINE_MIN = -1.0
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


def fuse(lexical: Mapping[K, float], dense: Mapping[K, float], *, mode: str = "hybrid",
         alpha: float = DEFAULT_ALPHA, method: str = "convex") -> dict[K, Fused]:
    """Combine raw BM25 scores and cosines of the same candidates.

    A candidate absent from `lexical` did not match the keywords (BM25 0).  One absent
    from `dense` has no vector yet; it gets the median normalised dense score, so a
    passage still waiting for its embedding is neither favoured nor buried.
    """
    keys = list(dict.fromkeys([*lexical, *dense]))
    if not keys:
        return {}
    lex = tmm(np.array([lexical.get(k, BM25_MIN) for k in keys]), BM25_MIN)
    has_dense = np.array([k in dense for k in keys])
    den = tmm(np.array([dense.get(k, COSINE_MIN) for k in keys]), COSINE_MIN)
    if has_dense.any() and not has_dense.all():
        den[~has_dense] = float(np.median(den[has_dense]))
    if mode == "lexical":
        scores = lex
    elif mode == "dense":
        scores = den
    elif method == "rrf":
        by_lex = [k for k in sorted(lexical, key=lambda k: -lexical[k])]
        by_den = [k for k in sorted(dense, key=lambda k: -dense[k])]
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
