"""Search results as plain data, for JSON output and the service channel."""

from __future__ import annotations

import base64
import os
from datetime import datetime

from engine.search import SearchResult


def result_json(r: SearchResult) -> dict[str, object]:
    out: dict[str, object] = {
        "path": r.display_path, "title": r.title, "ext": r.ext, "score": round(r.score, 6),
        "lexical": round(r.lexical, 6), "dense": round(r.dense, 6),
        "matched_by": r.matched_by, "page": r.page,
        "modified": datetime.fromtimestamp(r.mtime_ns / 1e9).isoformat(timespec="seconds"),
        "passage": {"start": r.char_start, "end": r.char_end},
        "snippet": r.snippet.text, "snippet_offset": r.snippet.offset,
        "highlights": [list(s) for s in r.snippet.spans],
    }
    if os.fsencode(r.display_path) != r.path:  # not valid UTF-8: give the exact bytes too
        out["path_b64"] = base64.b64encode(r.path).decode()
    return out
