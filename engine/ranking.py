"""Score normalisation, hybrid fusion, feedback and passage-to-document aggregation
(pure functions).

Hybrid search combines the two sides convexly, `α·dense + (1−α)·lexical`, with α fixed
at 0.7 (the middle of the 0.6–0.8 that Bruch, Gai & Ingber, "An Analysis of Fusion
Functions for Hybrid Retrieval", TOIS 2023, find best across collections), after
putting each side on [0, 1] by theoretical min-max:

- lexical: BM25 / the best BM25 of the query (BM25's theoretical minimum is 0), or /
  the BM25 of a passage holding the query's three rarest words when no passage scores
  that much (`reference_bm25`).  The scale means "as good a keyword match as this
  collection has for the query" whatever the query's length: a fifty-word request is
  not penalised for matching no passage fully (which the ideal passage as reference
  did), and a short question whose words only occur in the wrong files does not get a
  perfect keyword score for one shared word.  In that case α also leans toward meaning
  in proportion (`query_alpha`); a long request never triggers it.
- dense: the cosine itself, negatives clipped to 0 (no evidence).

The semantic side then gets one round of pseudo-relevance feedback (Rocchio on the
query vector, as Li et al. found robust for dense retrievers, "Pseudo Relevance
Feedback with Deep Language Models and Dense Retrievers: Successes and Pitfalls", TOIS
2023): the query vector moves toward the mean of a few feedback passages and the
candidates are scored again.  Feedback helps only as far as those passages are
relevant, and one side's confident mistake (a wrong document the model likes) would
otherwise pull the query further toward itself, so the feedback passages are the ones
*both* sides rank high: by the smaller of the two scores, each over its side's best
(CombMIN, Fox & Shaw, TREC-2 1994), the fused score breaking ties (`feedback_keys`).

How strong each side's evidence is in absolute terms (keyword coverage of the query,
the raw cosine) is kept apart from the fusion: it decides the relevance floor and the
cues shown to the user, not the order.
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
# Rocchio feedback: the top 3 passages (the depth ANCE-PRF and Li et al. use), weighted
# like the query itself.
FEEDBACK_DEPTH = 3
FEEDBACK_WEIGHT = 1.0
# Matching three informative query words is as strong as keyword evidence gets.
REFERENCE_TERMS = 3
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


def token_idfs(doc_counts: Sequence[int], n_docs: int) -> list[float]:
    """FTS5's idf of each query token (floored at 1e-6 as FTS5 does), largest first."""
    idfs = [max(float(np.log((n_docs - n + 0.5) / (n + 0.5))) if n_docs else 0.0, 1e-6)
            for n in doc_counts]
    return sorted(idfs, reverse=True)


def ideal_bm25(doc_counts: Sequence[int], n_docs: int) -> float:
    """BM25 of an average-length passage holding each query token once: Σ idf.

    With term frequency 1 and average length, BM25's saturation term is exactly 1, so
    the score is the sum of the tokens' idf: the score of a passage that fully matches
    the query.
    """
    return sum(token_idfs(doc_counts, n_docs))


def reference_bm25(doc_counts: Sequence[int], n_docs: int,
                   terms: int = REFERENCE_TERMS) -> float:
    """BM25 of an average passage holding the query's `terms` rarest tokens once.

    The lexical side is normalised by the larger of this and the best BM25 seen: when
    no passage matches even that much (one common word of a short question), the
    keyword side stays weak instead of calling its best match perfect, while a long
    request, whose good matches easily exceed it, is normalised by its best match.
    """
    return sum(token_idfs(doc_counts, n_docs)[:terms])


def keyword_coverage(bm25: float, ideal: float | None) -> float:
    """How much of the query a passage matches, on [0, 1]: its BM25 over the ideal's."""
    if not ideal or ideal <= 0:
        return 0.0
    return float(min(max(bm25 / ideal, 0.0), 1.0))


def query_alpha(alpha: float, strength: float) -> float:
    """The dense weight for one query: `alpha` when the best keyword match reaches the
    reference (`strength` ≥ 1), leaning toward meaning as it falls short, 1 at none."""
    strength = min(max(strength, 0.0), 1.0)
    return 1.0 - (1.0 - alpha) * strength


def normalise_lexical(scores: np.ndarray, top: float | None = None) -> np.ndarray:
    """BM25 on [0, 1] by theoretical min-max: against the query's best BM25 `top`
    (the best of `scores` when not given)."""
    scores = np.asarray(scores, dtype=np.float64)
    if top is None:
        return tmm(scores, BM25_MIN)
    if top <= BM25_MIN:
        return np.zeros_like(scores)
    return np.clip(scores / top, 0.0, 1.0)


def normalise_dense(cosines: np.ndarray) -> np.ndarray:
    """Cosine on [0, 1]: negative similarity is no evidence."""
    return np.clip(np.asarray(cosines, dtype=np.float64), COSINE_FLOOR, 1.0)


def fuse(lexical: Mapping[K, float], dense: Mapping[K, float], *, mode: str = "hybrid",
         alpha: float = DEFAULT_ALPHA, method: str = "convex",
         lexical_top: float | None = None) -> dict[K, Fused]:
    """Combine raw BM25 scores and cosines of the same candidates.

    `lexical_top` is the query's best BM25 (default: the best in `lexical`).  A
    candidate absent from `lexical` did not match the keywords (BM25 0).  One absent
    from `dense` has no vector yet; it gets the median normalised dense score, so a
    passage still waiting for its embedding is neither favoured nor buried.
    """
    keys = list(dict.fromkeys([*lexical, *dense]))
    if not keys:
        return {}
    raw_lex = np.array([lexical.get(k, BM25_MIN) for k in keys])
    lex = normalise_lexical(raw_lex, lexical_top)
    has_dense = np.array([k in dense for k in keys])
    den = normalise_dense(np.array([dense.get(k, COSINE_FLOOR) for k in keys]))
    if has_dense.any() and not has_dense.all():
        den[~has_dense] = float(np.median(den[has_dense]))
    if mode == "lexical":  # rank by BM25 itself
        scores = tmm(raw_lex, BM25_MIN)
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


def feedback_keys(fused: Mapping[K, Fused], n: int, *, agreement_weight: float = 1.0
                  ) -> list[K]:
    """The `n` candidates to take pseudo-relevance feedback from: those both sides agree on.

    Agreement is the smaller of the keyword score (already over the query's best BM25)
    and the cosine over the best cosine among the candidates (CombMIN).  It has
    `agreement_weight` of the say (see `agreement_weight`), the fused score the rest;
    ties go by the fused score.
    """
    best_dense = max((f.dense for f in fused.values()), default=0.0)
    best_score = max((f.score for f in fused.values()), default=0.0)
    weight = min(max(agreement_weight, 0.0), 1.0)

    def key(f: Fused) -> float:
        agreement = min(f.lexical, f.dense / best_dense) if best_dense > 0 else 0.0
        order = f.score / best_score if best_score > 0 else 0.0
        return weight * agreement + (1.0 - weight) * order

    return sorted(fused, key=lambda k: (-key(fused[k]), -fused[k].score))[:n]


def agreement_weight(keyword_strength: float, best_cosine: float, chance_cosine: float
                     ) -> float:
    """How much both sides' agreement should choose the feedback passages.

    Agreement means something only where both sides hold evidence: the keyword side in
    proportion to its strength (as in `query_alpha`), the semantic side when its best
    candidate beats what the best of as many unrelated passages would reach
    (`chance_cosine`, see engine.calibration.Unrelated.best_of).  Otherwise, as for a
    question whose words sit in the wrong files or a model that cannot read the text,
    the feedback comes from the fused order.
    """
    if best_cosine <= chance_cosine:
        return 0.0
    return min(max(keyword_strength, 0.0), 1.0)


def rocchio(query: np.ndarray, feedback: np.ndarray,
            weight: float = FEEDBACK_WEIGHT) -> np.ndarray:
    """The unit query vector moved toward the mean of the `feedback` rows (unit vectors)."""
    query = np.asarray(query, dtype=np.float32)
    if len(feedback) == 0:
        return query
    moved = query + weight * np.asarray(feedback, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return moved / norm if norm > 1e-12 else query


def aggregate(scores: Mapping[K, Fused], owner: Mapping[K, int]) -> list[tuple[int, K, Fused]]:
    """Documents ranked by their best passage: (document, best passage, its score)."""
    best: dict[int, tuple[K, Fused]] = {}
    for key, fused in scores.items():
        doc = owner[key]
        if doc not in best or fused.score > best[doc][1].score:
            best[doc] = (key, fused)
    ranked = sorted(best.items(), key=lambda item: (-item[1][1].score, item[0]))
    return [(doc, key, fused) for doc, (key, fused) in ranked]
