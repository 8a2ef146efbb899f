"""Search results as plain data, for JSON output and the service channel."""

from __future__ import annotations

import base64
import os
from datetime import datetime
from typing import Any

from engine.search import Copy, SearchResult


def _path_json(display_path: str, path: bytes) -> dict[str, object]:
    out: dict[str, object] = {"path": display_path}
    if os.fsencode(display_path) != path:  # not valid UTF-8: give the exact bytes too
        out["path_b64"] = base64.b64encode(path).decode()
    return out


def _modified(mtime_ns: int) -> str:
    return datetime.fromtimestamp(mtime_ns / 1e9).isoformat(timespec="seconds")


def copies_label(count: int) -> str:
    """'+1 copy', '+3 copies': how results say they stand for more files."""
    return f"+{count} {'copy' if count == 1 else 'copies'}"


def copy_json(c: Copy) -> dict[str, object]:
    return {**_path_json(c.display_path, c.path), "title": c.title, "ext": c.ext,
            "score": round(c.score, 6), "modified": _modified(c.mtime_ns)}


def copy_from_json(d: dict[str, Any]) -> Copy:
    """A copy as `copy_json` wrote it."""
    path = base64.b64decode(d["path_b64"]) if "path_b64" in d else os.fsencode(d["path"])
    modified = datetime.fromisoformat(str(d["modified"])).timestamp()
    return Copy(path, str(d["path"]), str(d.get("title") or ""), str(d.get("ext", "")),
                int(modified * 1e9), float(d.get("score", 0.0)))


def result_json(r: SearchResult) -> dict[str, object]:
    out: dict[str, object] = {
        "path": r.display_path, "title": r.title, "ext": r.ext, "score": round(r.score, 6),
        "lexical": round(r.lexical, 6), "dense": round(r.dense, 6),
        "matched_by": r.matched_by, "page": r.page, "ocr": r.ocr,
        "modified": _modified(r.mtime_ns),
        "passage": {"start": r.char_start, "end": r.char_end},
        "snippet": r.snippet.text, "snippet_offset": r.snippet.offset,
        "highlights": [list(s) for s in r.snippet.spans],
        "copies": [copy_json(c) for c in r.copies],
    }
    out.update(_path_json(r.display_path, r.path))
    return out
