"""Where a passage matched: highlight spans and the best window to show (pure functions)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True)
class Snippet:
    """A window of passage text and the [start, end) spans to highlight inside it."""

    text: str
    spans: tuple[tuple[int, int], ...]
    offset: int  # where `text` starts in the passage


def stem_key(word: str) -> str:
    """A crude stem so 'pressures' highlights for 'pressure' (FTS5 uses Porter)."""
    w = word.lower()
    for suffix in ("ations", "ation", "ings", "ing", "edly", "ies", "ed", "es", "ly", "s"):
        if len(w) - len(suffix) >= 3 and w.endswith(suffix):
            w = w[: -len(suffix)]
            break
    return w[:-1] if len(w) > 3 and w.endswith("e") else w


def match_spans(text: str, terms: Sequence[str]) -> list[tuple[int, int]]:
    """Spans of words in `text` that share a stem with one of `terms`."""
    keys = {stem_key(t) for t in terms if t}
    if not keys:
        return []
    # A regex finds the few words that start like a stem; only those get stemmed.
    starts = "|".join(sorted((re.escape(k) for k in keys), key=len, reverse=True))
    pattern = re.compile(rf"\b(?:{starts})\w*", re.IGNORECASE | re.UNICODE)
    return [(m.start(), m.end()) for m in pattern.finditer(text) if stem_key(m.group()) in keys]


def best_window(text: str, terms: Sequence[str], width: int = 320) -> Snippet:
    """The `width`-character window holding the most matches, cut at word boundaries."""
    spans = match_spans(text, terms)
    if len(text) <= width:
        return Snippet(text, tuple(spans), 0)
    start = 0
    if spans:
        best_count = -1
        for i, (s, _) in enumerate(spans):
            count = sum(1 for a, b in spans[i:] if b <= s + width)
            if count > best_count:
                best_count, start = count, s
        start = max(0, start - width // 5)  # a little context before the first hit
    end = min(len(text), start + width)
    start = max(0, min(start, end - width))
    if start > 0:
        space = text.find(" ", start)
        start = space + 1 if 0 <= space < start + 30 else start
    if end < len(text):
        space = text.rfind(" ", start, end)
        end = space if space > start + width // 2 else end
    inside = tuple((a - start, b - start) for a, b in spans if a >= start and b <= end)
    return Snippet(text[start:end], inside, start)


_SENTENCE = re.compile(r"\S(?:.*?)(?:[.!?](?=\s|$)|(?=\n\s*\n)|$)", re.S)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentences of `text` as [start, end) spans: ends at . ! ? before a space, or at a
    blank line; every non-space character lies in exactly one span, and every span
    starts and ends on one."""
    return [(m.start(), m.start() + len(m.group().rstrip())) for m in _SENTENCE.finditer(text)]
