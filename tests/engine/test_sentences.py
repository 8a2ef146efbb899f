import re

from hypothesis import given
from hypothesis import strategies as st

from engine.sentences import best_sentences
from engine.snippets import sentence_spans


@given(st.one_of(st.text(alphabet=st.sampled_from("ab .!?\n\t"), max_size=200),
                 st.text(max_size=200)))
def test_sentences_cover_every_character_once_in_order(text):
    spans = sentence_spans(text)
    last = 0
    covered = set()
    for a, b in spans:
        assert last <= a < b <= len(text)  # inside the text, ordered, not overlapping
        assert not text[a].isspace() and not text[b - 1].isspace()
        covered.update(range(a, b))
        last = b
    assert {i for i, c in enumerate(text) if not c.isspace()} <= covered


def test_sentences_end_at_punctuation_and_blank_lines():
    text = "First one. Second one?\n\nThird after a gap! v1.2 stays whole"
    assert [text[a:b] for a, b in sentence_spans(text)] == [
        "First one.", "Second one?", "Third after a gap!", "v1.2 stays whole"]
    text = "A line  \n\n  next one. "
    assert [text[a:b] for a, b in sentence_spans(text)] == ["A line", "next one."]


def test_the_sentence_closest_in_meaning_is_chosen(real_embedder):
    passage = ("The meeting moved to Thursday. The printer on the second floor is "
               "jammed again. Lunch will be served at noon.")
    other = "Only one sentence here"
    (span, none) = best_sentences(real_embedder, "paper stuck in the copier", [passage, other])
    assert span is not None and re.search("printer", passage[span[0]:span[1]])
    assert none is None
