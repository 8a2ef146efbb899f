"""The values that cross the client contract (app.client): one type each, with the one
JSON form that the service sends and `deskfind … --json` prints.

A search result is a `Hit` whether the engine ranked it in this process or the service
sent it; an index's state is an `IndexStatus` whoever counted it.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from engine.search import Copy, SearchResult
from engine.snippets import Snippet

Json = dict[str, Any]

# What a client knows about the background service.
SERVICE_RUNNING = "running"  # it answers: searches and status go to it
SERVICE_STOPPED = "stopped"  # none answers; one may be started
SERVICE_UNAVAILABLE = "unavailable"  # starting one failed: index in-process


class Phase(StrEnum):
    """What the service is doing (its status's `phase`)."""

    STARTING = "starting"
    READING = "reading"  # phase 1: text and full-text index
    EMBEDDING = "embedding"  # phase 2: passage vectors
    IDLE = "idle"
    PAUSED = "paused"
    WAITING = "waiting"  # a step failed; retried after a pause


def _path_json(display_path: str, path: bytes) -> Json:
    out: Json = {"path": display_path}
    if os.fsencode(display_path) != path:  # not valid UTF-8: give the exact bytes too
        out["path_b64"] = base64.b64encode(path).decode()
    return out


def _path_from_json(d: Mapping[str, Any]) -> bytes:
    return base64.b64decode(d["path_b64"]) if "path_b64" in d else os.fsencode(d["path"])


def _modified(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9).isoformat(timespec="seconds")


def _mtime_ns(modified: object) -> int:
    return int(datetime.fromisoformat(str(modified)).timestamp() * 1e9)


def copy_to_json(c: Copy) -> Json:
    return {**_path_json(c.display_path, c.path), "title": c.title, "ext": c.ext,
            "score": round(c.score, 6), "modified": _modified(c.mtime_ns)}


def copy_from_json(d: Mapping[str, Any]) -> Copy:
    """A copy as `copy_to_json` wrote it."""
    return Copy(_path_from_json(d), str(d["path"]), str(d.get("title") or ""),
                str(d.get("ext", "")), _mtime_ns(d["modified"]), float(d.get("score", 0.0)))


@dataclass(frozen=True)
class Hit(Copy):
    """One search result, from the engine here or from the service: a file as its
    copies are (path, title, score…), with the evidence and the passage that matched."""

    lexical: float
    dense: float
    matched_by: str  # 'keyword', 'meaning' or 'both'
    page: int | None
    char_start: int  # the best passage's span in the document text
    char_end: int
    snippet: Snippet
    sentence: tuple[int, int] | None = None  # the snippet's sentence closest in meaning
    copies: tuple[Copy, ...] = ()  # other files holding the same text
    ocr: bool = False  # the passage was read off a page image by OCR

    @classmethod
    def from_result(cls, r: SearchResult) -> Hit:
        return cls(r.path, r.display_path, r.title, r.ext, r.mtime_ns, r.score, r.lexical,
                   r.dense, r.matched_by, r.page, r.char_start, r.char_end, r.snippet,
                   copies=r.copies, ocr=r.ocr)

    def to_json(self) -> Json:
        """The result as `deskfind search --json` prints it (the sentence mark is the
        GUI's and not part of it)."""
        return {
            "path": self.display_path, "title": self.title, "ext": self.ext,
            "score": round(self.score, 6), "lexical": round(self.lexical, 6),
            "dense": round(self.dense, 6), "matched_by": self.matched_by, "page": self.page,
            "ocr": self.ocr,
            "modified": _modified(self.mtime_ns),
            "passage": {"start": self.char_start, "end": self.char_end},
            "snippet": self.snippet.text, "snippet_offset": self.snippet.offset,
            "highlights": [list(s) for s in self.snippet.spans],
            "copies": [copy_to_json(c) for c in self.copies],
            **_path_json(self.display_path, self.path),
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Hit:
        passage = d.get("passage") or {}
        spans = tuple((int(a), int(b)) for a, b in d.get("highlights", ()))
        snippet = Snippet(str(d.get("snippet", "")), spans, int(d.get("snippet_offset", 0)))
        page = d.get("page")
        return cls(path=_path_from_json(d), display_path=str(d["path"]),
                   title=str(d.get("title") or ""), ext=str(d.get("ext", "")),
                   mtime_ns=_mtime_ns(d["modified"]), score=float(d.get("score", 0.0)),
                   lexical=float(d.get("lexical", 0.0)), dense=float(d.get("dense", 0.0)),
                   matched_by=str(d.get("matched_by", "")),
                   page=None if page is None else int(page),
                   char_start=int(passage.get("start", 0)),
                   char_end=int(passage.get("end", 0)), snippet=snippet,
                   copies=tuple(copy_from_json(c) for c in d.get("copies", ())),
                   ocr=bool(d.get("ocr", False)))


@dataclass(frozen=True)
class Found:
    """The hits of one search, and what was loosened to find them (None: nothing was)."""

    hits: list[Hit]
    relaxed: str | None = None

    def to_json(self) -> Json:
        return {"relaxed": self.relaxed, "results": [h.to_json() for h in self.hits]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Found:
        relaxed = d.get("relaxed")
        return cls([Hit.from_json(r) for r in d.get("results", ())],
                   None if relaxed is None else str(relaxed))


@dataclass(frozen=True)
class Failure:
    """A file that could not be indexed, and why."""

    path: str
    status: str  # 'failed' or 'skipped'
    reason: str

    def to_json(self) -> Json:
        return {"path": self.path, "status": self.status, "reason": self.reason}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Failure:
        return cls(str(d["path"]), str(d["status"]), str(d["reason"]))


@dataclass(frozen=True)
class WatchState:
    """How the service watches one root: 'inotify', 'polling' or 'offline'."""

    root: str
    mode: str
    note: str = ""


@dataclass(frozen=True)
class IndexStatus:
    """An index's counts and, when a service runs, what it is doing: read in one go.

    One name per count, the same here, in the JSON and on screen: `searchable` files
    (their text is in the full-text index), `passages` and how many are `embedded`."""

    data_dir: str
    roots: tuple[str, ...]
    files: int
    searchable: int
    failed: int
    skipped: int
    passages: int
    embedded: int
    failures: tuple[Failure, ...] = ()
    not_embedded: Mapping[str, int] = field(default_factory=dict)  # on purpose, by reason
    service: str = SERVICE_STOPPED
    service_note: str = ""  # why the service could not start (the GUI's to know)
    phase: Phase | None = None  # the service's; None when none runs
    current_file: str = ""
    queue: int = 0
    paused: bool = False
    embedding_paused: str = ""  # why the service holds embedding back (on battery)
    vector_index: str = ""  # "building" while its graph is built, "graph", "exact", ""
    watch: tuple[WatchState, ...] = ()

    @property
    def left_out(self) -> int:
        """Passages left unembedded on purpose (generated text)."""
        return sum(self.not_embedded.values())

    @property
    def background_busy(self) -> bool:
        """The service has files queued or passages left to embed."""
        return self.service == SERVICE_RUNNING and (self.queue > 0 or self.to_embed > 0)

    @property
    def to_embed(self) -> int:
        """Passages still waiting for a vector (not those left out on purpose)."""
        return max(0, self.passages - self.embedded - self.left_out)

    def to_json(self) -> Json:
        return {
            "data_dir": self.data_dir, "service": self.service == SERVICE_RUNNING,
            "phase": None if self.phase is None else str(self.phase),
            "current_file": self.current_file, "queue": self.queue, "paused": self.paused,
            "embedding_paused": self.embedding_paused, "vector_index": self.vector_index,
            "roots": list(self.roots),
            "files": self.files, "searchable": self.searchable, "failed": self.failed,
            "skipped": self.skipped, "passages": self.passages, "embedded": self.embedded,
            "not_embedded": dict(self.not_embedded),
            "watch": {w.root: {"mode": w.mode, "note": w.note} for w in self.watch},
            "failures": [f.to_json() for f in self.failures],
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> IndexStatus:
        phase = d.get("phase")
        return cls(
            data_dir=str(d.get("data_dir", "")), roots=tuple(map(str, d.get("roots", ()))),
            files=int(d["files"]), searchable=int(d["searchable"]), failed=int(d["failed"]),
            skipped=int(d["skipped"]), passages=int(d["passages"]),
            embedded=int(d["embedded"]),
            failures=tuple(Failure.from_json(f) for f in d.get("failures", ())),
            not_embedded={str(k): int(n) for k, n in d.get("not_embedded", {}).items()},
            service=SERVICE_RUNNING if d.get("service") else SERVICE_STOPPED,
            phase=None if phase is None else Phase(phase),
            current_file=str(d.get("current_file", "")), queue=int(d.get("queue", 0)),
            paused=bool(d.get("paused", False)),
            embedding_paused=str(d.get("embedding_paused") or ""),
            vector_index=str(d.get("vector_index") or ""),
            watch=tuple(WatchState(root, str(w.get("mode", "")), str(w.get("note", "")))
                        for root, w in sorted(d.get("watch", {}).items())))
