"""Document fingerprints: MinHash signatures over word shingles (pure, no I/O).

A fingerprint estimates how much text two documents share without comparing them:
the Jaccard resemblance of their sets of word shingles (Broder, "On the resemblance
and containment of documents", 1997) is the fraction of signature slots that agree,
and with each set's size that gives containment too, the share of the smaller
document found in the larger.  Containment is what tells a page and its exported or
marked-up copy apart from two pages on the same subject: markup (navigation around
an HTML page, directives in its reStructuredText source) adds shingles to one side
only, which lowers resemblance but leaves the shared text contained.

The signature is a property of the text alone, so grouping search results and
reporting duplicate files can use the same stored value.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass

import numpy as np

NUM_HASHES = 128
SHINGLE_WORDS = 3
# Fewer distinct shingles than this and the text is too short to say anything about
# (a title, a stub): such documents get no fingerprint and are never grouped.
MIN_SHINGLES = 8

# Measured on Debian's python3-doc (3.11): 365 pages as HTML and as their .rst.txt
# source, against the 265,720 pairs of different pages among them (which share the
# site's navigation and footer, and some share whole sections).  See docs/design.md.
RESEMBLANCE_THRESHOLD = 0.5
CONTAINMENT_THRESHOLD = 0.85
MIN_SIZE_RATIO = 0.1

_WORD = re.compile(r"[^\W_]+")
# Lightweight-markup names that never show in the rendered text: reST roles
# (:class:`x`), directive names (.. note::) and field markers (:param x:).  Left in,
# they break every shingle around them, and a page's source stops looking like it.
_MARKUP = re.compile(r":[\w:.+-]+:(?=`)|^[ \t]*\.\. [\w:.+-]+::|^[ \t]*:[\w -]+:", re.M)
_MASK32 = np.uint64(0xFFFFFFFF)
# Fixed, so that fingerprints written by one run compare with those of the next.
_SEEDS = np.random.default_rng(0x5EED_F1A6).integers(
    1, 2**63, size=(2, NUM_HASHES), dtype=np.uint64) | np.uint64(1)
_BLOCK = 4096
_FORMAT = b"mh1"


@dataclass(frozen=True)
class Fingerprint:
    """A MinHash signature and the number of distinct shingles it was taken over."""

    signature: np.ndarray  # uint32, NUM_HASHES slots
    shingles: int

    def to_bytes(self) -> bytes:
        return _FORMAT + self.signature.astype("<u4").tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, shingles: int) -> Fingerprint | None:
        """The fingerprint stored as `data`, or None when it was made another way."""
        if not data.startswith(_FORMAT) or len(data) != len(_FORMAT) + 4 * NUM_HASHES:
            return None
        return cls(np.frombuffer(data[len(_FORMAT):], dtype="<u4").astype(np.uint32),
                   shingles)


def words(text: str) -> list[str]:
    """The text's words, lower-cased; punctuation and markup names are not words."""
    return _WORD.findall(_MARKUP.sub(" ", text).lower())


def shingle_hashes(text: str, size: int = SHINGLE_WORDS) -> np.ndarray:
    """Distinct 64-bit hashes of the text's runs of `size` consecutive words."""
    found = words(text)
    if not found:
        return np.zeros(0, dtype=np.uint64)
    ids = np.fromiter((zlib.crc32(w.encode()) for w in found), dtype=np.uint64,
                      count=len(found))
    n = max(1, len(ids) - size + 1)
    combined = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for k in range(min(size, len(ids))):
            combined = combined * np.uint64(0x100000001B3) + ids[k:k + n]
    return np.unique(combined)


def fingerprint(text: str, shingle_words: int = SHINGLE_WORDS) -> Fingerprint | None:
    """The fingerprint of `text`, or None when it has too few words to have one."""
    hashes = shingle_hashes(text, shingle_words)
    if len(hashes) < MIN_SHINGLES:
        return None
    mins = np.full(NUM_HASHES, np.iinfo(np.uint64).max, dtype=np.uint64)
    a, b = _SEEDS
    with np.errstate(over="ignore"):
        for start in range(0, len(hashes), _BLOCK):
            block = hashes[start:start + _BLOCK, None]
            # Multiply-shift hashing: one cheap universal hash per slot.
            np.minimum(mins, (block * a + b).min(axis=0), out=mins)
    return Fingerprint((mins >> np.uint64(32)).astype(np.uint32), len(hashes))


def resemblance(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard resemblance of the two shingle sets, 0..1."""
    return float(np.count_nonzero(a.signature == b.signature)) / NUM_HASHES


def size_ratio(a: Fingerprint, b: Fingerprint) -> float:
    """The smaller shingle count over the larger, 0..1."""
    return min(a.shingles, b.shingles) / max(1, a.shingles, b.shingles)


def containment(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated share of the smaller document's shingles found in the other, 0..1."""
    j = resemblance(a, b)
    shared = j * (a.shingles + b.shingles) / (1.0 + j)
    return min(1.0, shared / max(1, min(a.shingles, b.shingles)))


def near_duplicates(a: Fingerprint, b: Fingerprint) -> bool:
    """Whether two documents hold the same text, give or take markup and boilerplate."""
    return bool(near_duplicate_rows(a, b.signature[None, :], np.array([b.shingles]))[0])


def near_duplicate_rows(a: Fingerprint, signatures: np.ndarray,
                        shingles: np.ndarray) -> np.ndarray:
    """For each row of `signatures` (with its shingle count), whether that document and
    `a` are near-duplicates: either most shingles are shared (resemblance), or the
    smaller document is nearly all contained in the other and is not a mere fragment
    of it.  See RESEMBLANCE_THRESHOLD for how the numbers were chosen."""
    j = np.count_nonzero(signatures == a.signature, axis=1) / NUM_HASHES
    small = np.minimum(shingles, a.shingles)
    large = np.maximum(np.maximum(shingles, a.shingles), 1)
    contained = np.minimum(1.0, j * (shingles + a.shingles) / (1.0 + j) / np.maximum(small, 1))
    return (j >= RESEMBLANCE_THRESHOLD) | (
        (small / large >= MIN_SIZE_RATIO) & (contained >= CONTAINMENT_THRESHOLD))
