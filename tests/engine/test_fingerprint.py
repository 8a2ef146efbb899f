"""Document fingerprints: near-duplicate texts are recognised, different pages are not."""

from hypothesis import given
from hypothesis import strategies as st

from engine.fingerprint import (
    Fingerprint,
    containment,
    fingerprint,
    near_duplicates,
    resemblance,
    words,
)
from indexer.extract import extractor_for
from tests.helpers import manual_page_html, manual_page_rst


def _html(page):
    return fingerprint(extractor_for("html")(manual_page_html(page).encode(), "x.html").text)


def _rst(page):
    return fingerprint(extractor_for("txt")(manual_page_rst(page).encode(), "x.rst.txt").text)


def test_a_page_and_its_source_are_near_duplicates():
    html, rst = _html("glob"), _rst("glob")
    assert html is not None and rst is not None
    assert near_duplicates(html, rst)
    assert containment(html, rst) > 0.85


def test_two_pages_of_one_manual_are_not_near_duplicates():
    """Same navigation and footer, neighbouring subjects, one shared sentence."""
    for a in (_html("glob"), _rst("glob")):
        for b in (_html("fnmatch"), _rst("fnmatch")):
            assert not near_duplicates(a, b), (resemblance(a, b), containment(a, b))


def test_markup_names_are_not_words():
    assert words("See :func:`os.scandir` and\n.. seealso:: this") == \
        ["see", "os", "scandir", "and", "this"]


def test_a_fragment_of_a_long_text_is_not_its_copy():
    long = " ".join(f"word{i} filler{i % 7}" for i in range(3000))
    part = " ".join(long.split()[:200])
    a, b = fingerprint(long), fingerprint(part)
    assert a is not None and b is not None
    assert not near_duplicates(a, b)


def test_a_text_too_short_has_no_fingerprint():
    assert fingerprint("Untitled") is None
    assert fingerprint("") is None


def test_a_stored_fingerprint_reads_back_and_foreign_bytes_do_not():
    f = fingerprint("the quick brown fox jumps over the lazy dog " * 3 + "and runs away")
    assert f is not None
    back = Fingerprint.from_bytes(f.to_bytes(), f.shingles)
    assert back is not None and resemblance(f, back) == 1.0
    assert Fingerprint.from_bytes(b"something else", 3) is None


_texts = st.lists(st.sampled_from([f"w{i}" for i in range(60)]), min_size=12,
                  max_size=200).map(" ".join)


@given(_texts, _texts)
def test_estimates_are_symmetric_and_bounded(a, b):
    fa, fb = fingerprint(a), fingerprint(b)
    if fa is None or fb is None:
        return
    assert resemblance(fa, fb) == resemblance(fb, fa)
    assert 0.0 <= containment(fa, fb) <= 1.0
    assert near_duplicates(fa, fb) == near_duplicates(fb, fa)
    assert near_duplicates(fa, fa) and resemblance(fa, fa) == 1.0
