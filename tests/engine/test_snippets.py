from hypothesis import given
from hypothesis import strategies as st

from engine.snippets import best_window, match_spans


def test_stems_match_like_the_index_does():
    text = "Pressure distributions at high pressures were measured."
    spans = match_spans(text, ["pressure", "measure"])
    assert [text[a:b] for a, b in spans] == ["Pressure", "pressures", "measured"]


def test_window_moves_to_where_the_matches_are():
    text = "filler words here. " * 40 + "the turbine blade cracked near the turbine hub." + \
        " more filler." * 40
    snip = best_window(text, ["turbine"], width=120)
    assert "turbine" in snip.text and len(snip.text) <= 120
    assert [snip.text[a:b] for a, b in snip.spans] == ["turbine", "turbine"]
    assert text[snip.offset:snip.offset + len(snip.text)] == snip.text


@given(st.text(max_size=500), st.lists(st.text(min_size=1, max_size=8), max_size=4))
def test_spans_lie_inside_the_window_in_order(text, terms):
    snip = best_window(text, terms, width=100)
    assert len(snip.text) <= max(100, 0) or len(text) <= 100
    last = 0
    for a, b in snip.spans:
        assert last <= a < b <= len(snip.text)
        last = b
