"""Files closest in meaning to a file as a whole, each with the passage pair that links
them.

Two ways to compare documents through their passage vectors: `mean` searches with the
file's mean passage vector (one search, however long the file), `best` searches with
each passage and ranks a file by its best passage pair (one search per passage, at most
MAX_PROBES of them).  Which ranks better was measured on Cranfield (docs/design.md).
Files holding the same text as the source (engine.fingerprint) are left out: they are
duplicates, which `deskfind duplicates` reports, not related reading; of files that
hold the same text as each other only the closest is listed.
"""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from engine.dense import DenseIndex
from engine.errors import EngineError
from engine.fingerprint import near_duplicates
from engine.ids import ChunkId, FileId
from engine.query import ParsedQuery
from engine.storage import IndexStore

METHODS = ("mean", "best")
MAX_PROBES = 48  # passages of a long file used as searches (evenly spread) by `best`
POOL = 200  # passages fetched per search, enough to fill a page of files


class RelatedError(EngineError):
    """The file is not indexed, or has no vectors yet."""


@dataclass(frozen=True)
class Related:
    """A file related to the source, and the passage pair with the highest cosine."""

    file_id: FileId
    path: bytes
    display_path: str
    title: str
    score: float  # cosine of the method (mean vector or best pair) with this file
    pair_cosine: float
    source_chunk: ChunkId
    source_text: str
    target_chunk: ChunkId
    target_text: str
    page: int | None
    ext: str = ""
    target_span: tuple[int, int] = (0, 0)  # the target passage in its document's text

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "path": self.display_path, "title": self.title, "ext": self.ext,
            "score": round(self.score, 4), "file_id": int(self.file_id),
            "pair": {"cosine": round(self.pair_cosine, 4),
                     "source": self.source_text, "target": self.target_text,
                     "page": self.page, "source_chunk": int(self.source_chunk),
                     "target_chunk": int(self.target_chunk),
                     "target_span": list(self.target_span)}}
        if os.fsencode(self.display_path) != self.path:  # not UTF-8: the exact bytes too
            out["path_b64"] = base64.b64encode(self.path).decode()
        return out

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Related:
        """A related file as `to_json` wrote it (the service's answer)."""
        pair = d["pair"]
        path = base64.b64decode(d["path_b64"]) if "path_b64" in d else os.fsencode(d["path"])
        start, end = pair.get("target_span") or (0, 0)
        return cls(FileId(int(d.get("file_id", 0))), path, str(d["path"]),
                   str(d.get("title") or ""), float(d["score"]), float(pair["cosine"]),
                   ChunkId(int(pair.get("source_chunk", 0))), str(pair["source"]),
                   ChunkId(int(pair.get("target_chunk", 0))), str(pair["target"]),
                   pair.get("page"), str(d.get("ext", "")), (int(start), int(end)))


def related_files(store: IndexStore, index: DenseIndex, path: bytes, *, limit: int = 10,
                  method: str = "mean", filters: ParsedQuery | None = None) -> list[Related]:
    """Up to `limit` files closest in meaning to the file at `path`, best first."""
    if method not in METHODS:
        raise RelatedError(f"unknown method '{method}' (one of {', '.join(METHODS)})")
    state = store.file_state(path)
    if state is None or state.status != "indexed":
        raise RelatedError("not indexed: run `deskfind index` on its folder first")
    own = store.passages_of(state.id)
    ids, rows = index.unit_vectors(own)
    if not len(ids):
        raise RelatedError(_why_no_vectors(store, state.id, len(own)))
    allowed = store.chunk_ids(filters, except_file=state.id)
    scores = _file_scores(store, index, rows, allowed, method)
    scores = _without_copies(store, state.id, scores)
    best = _one_per_text(store, sorted(scores.items(), key=lambda kv: -kv[1]), limit)
    return [_with_pair(store, index, ids, rows, file_id, score) for file_id, score in best]


def _why_no_vectors(store: IndexStore, file_id: FileId, passages: int) -> str:
    if not passages:
        return "it holds no text to compare"
    if sum(store.unembedded(file_id).values()) == passages:
        return "its text is generated (code or data), which is not embedded"
    return "no vectors yet: embedding in progress"


def _file_scores(store: IndexStore, index: DenseIndex, rows: np.ndarray, allowed: np.ndarray,
                 method: str) -> dict[FileId, float]:
    if method == "mean":
        probe = rows.mean(axis=0)
        probes = [probe / max(float(np.linalg.norm(probe)), 1e-12)]
    else:
        picks = np.linspace(0, len(rows) - 1, min(len(rows), MAX_PROBES)).astype(int)
        probes = [rows[i] for i in np.unique(picks)]
    best: dict[ChunkId, float] = {}
    for probe in probes:
        for chunk, score in index.search(probe, POOL, allowed):
            best[chunk] = max(score, best.get(chunk, -1.0))
    owners = store.chunk_owners(list(best))
    scores: dict[FileId, float] = {}
    for chunk, score in best.items():
        file_id = owners.get(chunk)
        if file_id is not None:
            scores[file_id] = max(score, scores.get(file_id, -1.0))
    return scores


def _without_copies(store: IndexStore, source: FileId,
                    scores: dict[FileId, float]) -> dict[FileId, float]:
    prints = store.fingerprints([source, *scores])
    mine = prints.get(source)
    if mine is None:
        return scores
    return {f: s for f, s in scores.items()
            if f not in prints or not near_duplicates(mine, prints[f])}


def _one_per_text(store: IndexStore, ranked: list[tuple[FileId, float]],
                  limit: int) -> list[tuple[FileId, float]]:
    """The first `limit` of `ranked`, each file holding the same text as one already
    taken left out: two copies of one related document are one entry, as in search."""
    prints = store.fingerprints([f for f, _ in ranked[:limit * 4]])
    taken: list[tuple[FileId, float]] = []
    for file_id, score in ranked:
        mine = prints.get(file_id)
        if mine is None or not any(t in prints and near_duplicates(mine, prints[t])
                                   for t, _ in taken):
            taken.append((file_id, score))
        if len(taken) == limit:
            break
    return taken


def _with_pair(store: IndexStore, index: DenseIndex, source_ids: np.ndarray,
               source_rows: np.ndarray, file_id: FileId, score: float) -> Related:
    target_ids, target_rows = index.unit_vectors(store.passages_of(file_id))
    sims = source_rows @ target_rows.T
    i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
    src, tgt = ChunkId(int(source_ids[i])), ChunkId(int(target_ids[j]))
    passages = store.chunk_rows([src, tgt])
    target = passages[tgt]
    return Related(file_id, target.path, target.display_path, target.title, score,
                   float(sims[i, j]), src, passages[src].text, tgt, target.text, target.page,
                   target.ext, (target.char_start, target.char_end))
