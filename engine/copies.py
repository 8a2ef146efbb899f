"""Grouping ranked documents that hold the same text (pure; see engine.fingerprint)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Generic, TypeVar

import numpy as np

from engine.fingerprint import NUM_HASHES, Fingerprint, near_duplicate_rows

K = TypeVar("K", bound=Hashable)


class _Leaders(Generic[K]):
    """The groups so far, with their leaders' signatures stacked for one comparison."""

    def __init__(self) -> None:
        self.groups: list[tuple[K, list[K]]] = []
        self._signatures = np.zeros((8, NUM_HASHES), dtype=np.uint32)
        self._shingles = np.zeros(8, dtype=np.int64)
        self._group_of: list[int] = []  # signature row → group

    def group_of(self, fingerprint: Fingerprint) -> int | None:
        rows = len(self._group_of)
        if not rows:
            return None
        hits = np.flatnonzero(near_duplicate_rows(fingerprint, self._signatures[:rows],
                                                  self._shingles[:rows]))
        return self._group_of[int(hits[0])] if hits.size else None

    def lead(self, item: K, fingerprint: Fingerprint | None) -> None:
        self.groups.append((item, []))
        if fingerprint is None:
            return
        rows = len(self._group_of)
        if rows == len(self._shingles):
            self._signatures = np.concatenate([self._signatures,
                                               np.zeros_like(self._signatures)])
            self._shingles = np.concatenate([self._shingles, np.zeros_like(self._shingles)])
        self._signatures[rows] = fingerprint.signature
        self._shingles[rows] = fingerprint.shingles
        self._group_of.append(len(self.groups) - 1)


def group_copies(ranked: Iterable[K], prints: Mapping[K, Fingerprint],
                 admit: Callable[[K], bool], limit: int) -> list[tuple[K, list[K]]]:
    """Up to `limit` leaders in rank order, each with the items ranked below it that
    hold the same text (its copies, best first).

    A leader is the best-ranked item of its text that `admit` accepts; a copy needs no
    admission, since it holds the text that was admitted.  Once `limit` leaders are
    found the rest of `ranked` is only searched for their copies, so copies never take
    a leader's place.  Items without a fingerprint are never grouped.
    """
    leaders: _Leaders[K] = _Leaders()
    for item in ranked:
        fingerprint = prints.get(item)
        group = leaders.group_of(fingerprint) if fingerprint is not None else None
        if group is not None:
            leaders.groups[group][1].append(item)
        elif len(leaders.groups) < limit and admit(item):
            leaders.lead(item, fingerprint)
    return leaders.groups
