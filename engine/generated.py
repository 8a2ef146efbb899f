"""Text with no meaning to embed: minified code, encoded data, generated indexes (pure).

Such passages stay keyword-searchable but are not embedded: a model reads them as noise,
their vectors crowd real passages out of semantic results, and they cost as much to
embed as prose.  The rule looks at what people's text has and generated text lacks,
in Latin-script (mostly ASCII) passages only; scripts written without spaces (CJK,
Thai) are never judged by it.  Measured on one-passage samples (docs/design.md):

- prose, code and extracted PDF text: lines under ~450 characters, whitespace 13–35 %,
  symbols (neither letter, digit nor space) under 24 %, entropy 4.2–5.0 bits/char;
- minified JavaScript (jquery.min.js, diff.min.js): lines of 4,000–14,000 characters,
  whitespace under 2.5 %;
- a Sphinx search index (searchindex.js): one line, whitespace 6–17 %, symbols 24–28 %;
- base64: whitespace 1.3 % (76-character lines) or none, entropy 6.0 bits/char.
"""

from __future__ import annotations

import math
from collections import Counter

GENERATED = "generated"  # the reason recorded for such passages

MIN_ASCII_SHARE = 0.9  # below this, the passage is in a script the rule does not judge
LONG_LINE = 500  # characters; nobody writes a line this long and this dense by hand
DENSE_SYMBOL_SHARE = 0.2  # symbols at this share on a long line: data, not sentences
DENSE_SPACE_SHARE = 0.06  # whitespace below this on a long line: code with spaces removed
MIN_SPACE_SHARE = 0.03  # below this a passage has no words: minified code, encoded data
MAX_ENTROPY = 5.6  # bits per character; encoded or random data, whatever its spacing
MIN_CHARS = 200  # too short to judge


def char_entropy(text: str) -> float:
    """Shannon entropy of the text's characters, in bits per character."""
    n = len(text)
    if not n:
        return 0.0
    return -sum(c / n * math.log2(c / n) for c in Counter(text).values())


def is_generated(text: str) -> bool:
    """Whether a passage is machine-made text with no meaning to embed."""
    n = len(text)
    if n < MIN_CHARS:
        return False
    if sum(1 for ch in text if ch < "\x80") / n < MIN_ASCII_SHARE:
        return False
    spaces = sum(1 for ch in text if ch.isspace()) / n
    if spaces < MIN_SPACE_SHARE:
        return True
    longest = max(len(line) for line in text.split("\n"))
    if longest >= LONG_LINE:
        symbols = sum(1 for ch in text if not ch.isalnum() and not ch.isspace()) / n
        if spaces < DENSE_SPACE_SHARE or symbols >= DENSE_SYMBOL_SHARE:
            return True
    return char_entropy(text) >= MAX_ENTROPY
