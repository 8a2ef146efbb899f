"""Groups of indexed files that are byte-identical or hold nearly the same text.

Byte-identical files share a content hash (taken while indexing).  Files whose texts
are near-duplicates by their fingerprints (engine.fingerprint: the same rule that groups
search results) join a group too, so a document and its re-export, or a page and its
source, are found together.  Deskfind never deletes any of them; it only reports.

Comparing every pair of fingerprints costs n² / 2 comparisons of 128 values: done as it
is up to EXACT_PAIRS_UP_TO files.  Above that, files are compared only with those
sharing one of 64 two-value bands of their signature (locality-sensitive hashing):
pairs with resemblance 0.5 or more are found with probability above 0.999 9, but a
small file wholly contained in one ten times its size (resemblance near 0.1) only with
probability 0.47.
"""

from __future__ import annotations

import base64
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.fingerprint import NUM_HASHES, Fingerprint, near_duplicate_rows

EXACT_PAIRS_UP_TO = 3000
BAND_ROWS = 2
MAX_BUCKET = 500  # a band value shared by more files is boilerplate, not a duplicate


@dataclass(frozen=True)
class FileEntry:
    """An indexed file as duplicate detection needs it."""

    id: int
    path: bytes
    display_path: str
    size: int
    mtime_ns: int
    content_hash: str | None


@dataclass(frozen=True)
class DuplicateGroup:
    """Files holding the same bytes (`identical`) or nearly the same text."""

    identical: bool
    files: tuple[FileEntry, ...]  # largest first

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def extra_bytes(self) -> int:
        """The space the copies take beyond one (the largest) file."""
        return self.total_bytes - self.files[0].size

    def to_json(self) -> dict[str, object]:
        return {"kind": "identical" if self.identical else "same text",
                "total_bytes": self.total_bytes, "extra_bytes": self.extra_bytes,
                "files": [_file_json(f) for f in self.files]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DuplicateGroup:
        """A group as `to_json` wrote it (the service's answer)."""
        files = tuple(
            FileEntry(0, base64.b64decode(f["path_b64"]) if "path_b64" in f
                      else os.fsencode(f["path"]), str(f["path"]), int(f["size"]),
                      int(f["mtime_ns"]), None) for f in d["files"])
        return cls(d["kind"] == "identical", files)


def _file_json(f: FileEntry) -> dict[str, object]:
    out: dict[str, object] = {"path": f.display_path, "size": f.size, "mtime_ns": f.mtime_ns}
    if os.fsencode(f.display_path) != f.path:  # not valid UTF-8: the exact bytes too
        out["path_b64"] = base64.b64encode(f.path).decode()
    return out


class _Union:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, i: int, j: int) -> None:
        a, b = self.find(i), self.find(j)
        if a != b:
            self.parent[max(a, b)] = min(a, b)


def duplicate_groups(files: Sequence[FileEntry],
                     prints: Mapping[int, Fingerprint]) -> list[DuplicateGroup]:
    """Groups of two or more files, the most space taken by copies first."""
    union = _Union(len(files))
    by_hash: dict[str, int] = {}
    for i, f in enumerate(files):
        if f.content_hash and f.size:  # empty files are all alike, and take no space
            union.join(by_hash.setdefault(f.content_hash, i), i)
    _join_near_duplicates(files, prints, union)
    members: dict[int, list[int]] = defaultdict(list)
    for i in range(len(files)):
        members[union.find(i)].append(i)
    groups = []
    for rows in members.values():
        if len(rows) < 2:
            continue
        chosen = sorted((files[i] for i in rows), key=lambda f: (-f.size, f.path))
        hashes = {f.content_hash for f in chosen}
        groups.append(DuplicateGroup(len(hashes) == 1 and None not in hashes, tuple(chosen)))
    return sorted(groups, key=lambda g: (-g.extra_bytes, g.files[0].path))


def _join_near_duplicates(files: Sequence[FileEntry], prints: Mapping[int, Fingerprint],
                          union: _Union) -> None:
    rows = [i for i, f in enumerate(files) if f.id in prints]
    if len(rows) < 2:
        return
    signatures = np.stack([prints[files[i].id].signature for i in rows])
    shingles = np.array([prints[files[i].id].shingles for i in rows])
    for k, candidates in _candidates(signatures):
        if not len(candidates):
            continue
        hits = near_duplicate_rows(prints[files[rows[k]].id], signatures[candidates],
                                   shingles[candidates])
        for j in candidates[hits]:
            union.join(rows[k], rows[int(j)])


def _candidates(signatures: np.ndarray) -> list[tuple[int, np.ndarray]]:
    """For each row, the later rows worth comparing it with."""
    n = len(signatures)
    if n <= EXACT_PAIRS_UP_TO:
        return [(k, np.arange(k + 1, n)) for k in range(n - 1)]
    found: list[set[int]] = [set() for _ in range(n)]
    for band in range(0, NUM_HASHES, BAND_ROWS):
        buckets: dict[bytes, list[int]] = defaultdict(list)
        for k, value in enumerate(signatures[:, band:band + BAND_ROWS]):
            buckets[value.tobytes()].append(k)
        for bucket in buckets.values():
            if 1 < len(bucket) <= MAX_BUCKET:
                for a in bucket:
                    found[a].update(b for b in bucket if b > a)
    return [(k, np.array(sorted(c), dtype=np.int64)) for k, c in enumerate(found)]
