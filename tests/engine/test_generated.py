"""Which passages are generated text, left unembedded (engine.generated)."""

from __future__ import annotations

import base64
import json
import random

from hypothesis import given
from hypothesis import strategies as st

from engine.generated import char_entropy, is_generated
from indexer.chunking import chunk_spans

CODE = '''def evict(cache, capacity):
    """Drop the least recently used entries until the cache fits."""
    while len(cache) > capacity:
        oldest = min(cache, key=lambda k: cache[k].used_at)
        del cache[oldest]
    return cache


class Ledger:
    def __init__(self, owner: str) -> None:
        self.owner = owner
        self.entries: list[tuple[str, float]] = []

    def add(self, what: str, amount: float) -> None:
        if amount <= 0:
            raise ValueError(f"amount must be positive, got {amount}")
        self.entries.append((what, amount))
'''

PROSE = ("The committee met on Tuesday to discuss the harbour's new timetable. Several "
         "members argued that the ferries should run later in summer, when the evenings "
         "are long and the island's restaurants stay open past ten. Others worried about "
         "the crews, who already work long shifts. ")


def minified_js(size: int, seed: int = 0) -> str:
    """A single line of JavaScript the way minifiers write it."""
    rng = random.Random(seed)
    parts = []
    while sum(map(len, parts)) < size:
        a, b, c = (rng.choice("etnrisoa") + rng.choice("abcdefgh") for _ in range(3))
        parts.append(rng.choice([
            f"function {a}({b},{c}){{return {b}.length>{c}?{b}.slice(0,{c}):{b}}}",
            f"var {a}={b}&&{b}.nodeType===1?{b}.getAttribute(\"data-{c}\"):null;",
            f"{a}.prototype.{b}=function({c}){{this._{c}=({c}||[]).map(String);}};",
            f"if(!{a}||typeof {a}!==\"object\"){{throw new TypeError(\"{b}\")}}",
        ]))
    return "".join(parts)


def _passages(text: str) -> list[str]:
    return [text[s.start:s.end] for s in chunk_spans(text)]


def test_minified_code_base64_and_search_indexes_are_generated():
    assert all(is_generated(p) for p in _passages(minified_js(50_000)))
    blob = base64.encodebytes(random.Random(1).randbytes(30_000)).decode()
    assert all(is_generated(p) for p in _passages(blob))
    assert all(is_generated(p) for p in _passages(blob.replace("\n", "")))
    index = json.dumps({"terms": {f"term{i}": [i, i * 7 % 13, [i % 5, 2]] for i in range(3000)},
                        "titles": [f"Page {i}" for i in range(300)]})
    found = _passages(f"Search.setIndex({index})")
    assert sum(map(is_generated, found)) >= 0.95 * len(found)


def test_prose_code_and_other_scripts_are_not():
    assert not any(is_generated(p) for p in _passages(PROSE * 40))
    assert not is_generated(PROSE * 5)  # a paragraph that is one long line
    assert not any(is_generated(p) for p in _passages(CODE * 10))
    assert not is_generated(json.dumps({f"k{i}": [i, f"value {i}"] for i in range(60)},
                                       indent=2))
    japanese = "索引は検索を速くするためのデータ構造であり、文書の内容を単語ごとに記録する。" * 20
    assert not is_generated(japanese)  # written without spaces, judged by no rule


@given(st.lists(st.sampled_from(["the", "river", "bank", "of", "a", "slow", "green",
                                  "turtle", "sleeps", "under", "bridge."]),
                min_size=40, max_size=400))
def test_spaced_words_on_short_lines_are_never_generated(words):
    lines = [" ".join(words[i:i + 12]) for i in range(0, len(words), 12)]
    assert not is_generated("\n".join(lines))


def test_entropy_of_base64_is_near_six_bits():
    blob = base64.b64encode(random.Random(2).randbytes(30_000)).decode()
    assert 5.9 < char_entropy(blob) <= 6.0
    assert char_entropy(PROSE * 10) < 4.6
