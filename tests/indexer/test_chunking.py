import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from indexer.chunking import chunk_spans, page_of

words = st.lists(st.sampled_from(["alpha", "beta.", "gamma", "delta!", "x", "\n\n", "é"]),
                 max_size=600)


@given(words, st.integers(1, 50), st.integers(0, 49))
def test_chunks_cover_every_word_in_order_within_the_limit(tokens, max_words, overlap):
    if overlap >= max_words:
        overlap = max_words - 1
    text = " ".join(tokens)
    spans = chunk_spans(text, max_words, overlap)
    all_words = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
    covered = set()
    for s in spans:
        inside = [w for w in all_words if s.start <= w[0] and w[1] <= s.end]
        assert 1 <= len(inside) <= max_words
        covered.update(inside)
    assert covered == set(all_words)
    assert all(a.start < b.start for a, b in zip(spans, spans[1:], strict=False))


def test_chunks_prefer_sentence_ends_and_overlap():
    text = " ".join(f"word{i}." if i % 10 == 9 else f"word{i}" for i in range(400))
    spans = chunk_spans(text, max_words=100, overlap_words=20)
    assert all(text[s.start:s.end].endswith(".") for s in spans[:-1])
    first, second = text[spans[0].start:spans[0].end], text[spans[1].start:spans[1].end]
    assert first.split()[-1] in second.split()


def test_empty_text_has_no_chunks():
    assert chunk_spans("   \n ") == []


def test_bad_limits_are_rejected():
    with pytest.raises(ValueError):
        chunk_spans("a b", max_words=5, overlap_words=5)


def test_pages_are_looked_up_by_offset():
    assert page_of(0, ()) is None
    assert [page_of(o, (10, 20)) for o in (0, 9, 10, 25)] == [1, 1, 2, 3]
