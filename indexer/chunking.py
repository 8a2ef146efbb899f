"""Splitting text into overlapping passages that know their character span (pure)."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass

_WORD = re.compile(r"\S+")
_SENTENCE_END = re.compile(r"[.!?;:][\"')\]]*$")

# ~200 words is ~260 WordPiece tokens: a passage fits the 256-token window of
# MiniLM-class encoders with the title in front.  Overlap keeps a sentence cut at a
# boundary whole in one of the two passages.
MAX_WORDS = 180
OVERLAP_WORDS = 40


@dataclass(frozen=True)
class Span:
    start: int
    end: int


def chunk_spans(text: str, max_words: int = MAX_WORDS,
                overlap_words: int = OVERLAP_WORDS) -> list[Span]:
    """Passages of at most `max_words` words, overlapping by about `overlap_words`.

    A passage prefers to end at a sentence end in its last third, so passages read as
    whole sentences where the text allows it.
    """
    if max_words < 1 or not 0 <= overlap_words < max_words:
        raise ValueError("need max_words >= 1 and 0 <= overlap_words < max_words")
    words = [(m.start(), m.end()) for m in _WORD.finditer(text)]
    spans: list[Span] = []
    first = 0
    while first < len(words):
        last = min(first + max_words, len(words))  # exclusive
        if last < len(words):
            floor = first + max(1, (2 * max_words) // 3)
            for i in range(last - 1, floor - 1, -1):
                if _SENTENCE_END.search(text[words[i][0]:words[i][1]]):
                    last = i + 1
                    break
        spans.append(Span(words[first][0], words[last - 1][1]))
        if last >= len(words):
            break
        first = max(first + 1, last - overlap_words)
    return spans


def page_of(offset: int, page_starts: tuple[int, ...]) -> int | None:
    """1-based page holding character `offset`, given where pages 2, 3, … begin."""
    if not page_starts:
        return None
    return bisect.bisect_right(page_starts, offset) + 1
