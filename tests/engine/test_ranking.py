import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from engine.ranking import (
    Fused,
    aggregate,
    agreement_weight,
    feedback_keys,
    fuse,
    ideal_bm25,
    keyword_coverage,
    normalise_dense,
    normalise_lexical,
    rocchio,
    rrf,
    tmm,
)

bm25s = st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=30)
cosines = st.lists(st.floats(-1, 1, allow_nan=False), min_size=1, max_size=30)


@given(bm25s)
def test_tmm_lexical_is_bounded_and_tops_at_one(scores):
    n = tmm(np.array(scores), 0.0)
    assert np.all((n >= 0) & (n <= 1))
    if max(scores) > 0:
        assert np.isclose(n.max(), 1.0)
        assert np.isclose(n[np.argmin(scores)], min(scores) / max(scores))


@given(cosines)
def test_dense_normalisation_keeps_order_and_bounds(scores):
    n = normalise_dense(np.array(scores))
    assert np.all((n >= 0) & (n <= 1))
    order = np.argsort(scores, kind="stable")
    assert np.all(np.diff(n[order]) >= -1e-12)


@given(bm25s, st.floats(0.1, 100))
def test_lexical_normalisation_against_the_best_score_is_bounded(scores, top):
    n = normalise_lexical(np.array(scores), top)
    assert np.all((n >= 0) & (n <= 1))
    assert np.allclose(n, np.minimum(np.array(scores) / top, 1.0))
    assert np.allclose(normalise_lexical(np.array(scores)), tmm(np.array(scores), 0.0))


@given(bm25s, st.floats(1.0, 20.0))
def test_lexical_normalisation_does_not_depend_on_query_length(scores, factor):
    """A query with more words scores every passage higher in BM25; its normalised
    scores are the same as long as the passages compare the same way."""
    base = normalise_lexical(np.array(scores))
    assert np.allclose(normalise_lexical(np.array(scores) * factor), base)


@given(st.floats(0, 100), st.floats(0.1, 100))
def test_keyword_coverage_is_a_share_of_the_ideal(bm25, ideal):
    c = keyword_coverage(bm25, ideal)
    assert 0.0 <= c <= 1.0
    assert np.isclose(c, min(bm25 / ideal, 1.0))
    assert keyword_coverage(bm25, None) == 0.0


@given(st.lists(st.integers(0, 1000), min_size=1, max_size=6), st.integers(1001, 10**6))
def test_ideal_bm25_grows_with_rarer_and_more_terms(counts, n_docs):
    ideal = ideal_bm25(counts, n_docs)
    assert ideal > 0
    assert ideal_bm25([*counts, 1], n_docs) > ideal
    assert ideal_bm25([max(c - 1, 0) for c in counts], n_docs) >= ideal


def _unit(rng, n, dim=16):
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


@given(st.integers(0, 10**6), st.integers(1, 5))
def test_rocchio_moves_the_query_toward_its_feedback(seed, n):
    rng = np.random.default_rng(seed)
    query, feedback = _unit(rng, 1)[0], _unit(rng, n)
    moved = rocchio(query, feedback)
    assert np.isclose(np.linalg.norm(moved), 1.0, atol=1e-5)
    centre = feedback.mean(axis=0)
    assert moved @ centre >= query @ centre - 1e-6
    assert np.array_equal(rocchio(query, feedback[:0]), query)


def test_feedback_comes_from_what_both_sides_rank_high():
    # 1: the model's favourite, no keyword in it; 2: the best keyword match, unrelated
    # in meaning; 3 and 4: good on both sides, though neither side's best.
    fused = {1: Fused(0.70, 0.0, 0.9), 2: Fused(0.45, 1.0, 0.2),
             3: Fused(0.66, 0.6, 0.7), 4: Fused(0.60, 0.7, 0.6)}
    assert feedback_keys(fused, 2) == [4, 3]  # min(0.7, 0.6/0.9) > min(0.6, 0.7/0.9)
    assert feedback_keys(fused, 4)[2:] == [2, 1]  # 2 still has some agreement
    # Without a say for agreement, the fused order decides.
    assert feedback_keys(fused, 4, agreement_weight=0.0) == [1, 3, 4, 2]


def test_feedback_without_keyword_matches_follows_the_fused_order():
    fused = {1: Fused(0.3, 0.0, 0.3), 2: Fused(0.6, 0.0, 0.6), 3: Fused(0.5, 0.0, 0.5)}
    assert feedback_keys(fused, 3) == [2, 3, 1]


def test_agreement_needs_evidence_on_both_sides():
    assert agreement_weight(1.0, 0.6, 0.4) == 1.0
    assert agreement_weight(0.3, 0.6, 0.4) == 0.3  # a weak keyword match has less say
    assert agreement_weight(1.0, 0.35, 0.4) == 0.0  # the model found nothing past chance


def _pairs(draw_lex, draw_den):
    keys = range(min(len(draw_lex), len(draw_den)))
    return ({k: draw_lex[k] for k in keys}, {k: draw_den[k] for k in keys})


def _ranking(fused):
    return sorted(fused, key=lambda k: (-fused[k].score, k))


@given(bm25s, cosines)
def test_alpha_zero_is_lexical_and_alpha_one_is_dense(lex, den):
    lexical, dense = _pairs(lex, den)
    by_lex = fuse(lexical, dense, alpha=0.0)
    by_den = fuse(lexical, dense, alpha=1.0)
    assert _ranking(by_lex) == _ranking(fuse(lexical, dense, mode="lexical"))
    assert _ranking(by_den) == _ranking(fuse(lexical, dense, mode="dense"))


@given(bm25s, cosines, st.floats(0, 1))
def test_fused_scores_are_convex_combinations(lex, den, alpha):
    lexical, dense = _pairs(lex, den)
    for f in fuse(lexical, dense, alpha=alpha).values():
        assert min(f.lexical, f.dense) - 1e-9 <= f.score <= max(f.lexical, f.dense) + 1e-9


@given(bm25s, cosines, st.floats(0, 1))
def test_winning_on_both_sides_wins_the_fusion(lex, den, alpha):
    lexical, dense = _pairs(lex, den)
    best_both = [k for k in lexical if lexical[k] == max(lexical.values())
                 and dense[k] == max(dense.values())]
    fused = fuse(lexical, dense, alpha=alpha)
    for k in best_both:
        assert fused[k].score >= max(f.score for f in fused.values()) - 1e-9


def test_a_passage_without_a_vector_gets_the_median_dense_score():
    fused = fuse({1: 5.0, 2: 5.0, 3: 1.0}, {2: 0.9, 3: 0.1, 4: 0.5})
    assert np.isclose(fused[1].dense, np.median([fused[k].dense for k in (2, 3, 4)]))


def test_rrf_rewards_agreement():
    table = rrf([["a", "b", "c"], ["b", "a", "d"]])
    assert max(table, key=table.get) in {"a", "b"}
    assert table["a"] == table["b"] > table["c"] > 0
    assert "d" in table


def test_rrf_method_is_available_in_fuse():
    fused = fuse({1: 3.0, 2: 1.0}, {2: 0.9, 1: 0.1, 3: 0.5}, method="rrf")
    assert set(fused) == {1, 2, 3}


def test_aggregate_ranks_documents_by_their_best_passage():
    fused = fuse({1: 1.0, 2: 9.0, 3: 5.0}, {}, mode="lexical")
    ranked = aggregate(fused, {1: 100, 2: 100, 3: 200})
    assert [(doc, chunk) for doc, chunk, _ in ranked] == [(100, 2), (200, 3)]
