"""Which sentence of a passage is closest in meaning to the query."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.embedder import Embedder
from engine.snippets import sentence_spans

MAX_SENTENCES = 12  # per passage: bounds the cost of one marking request


def best_sentences(embedder: Embedder, query: str,
                   passages: Sequence[str]) -> list[tuple[int, int] | None]:
    """Per passage, the span of its sentence most similar to `query` (None for a
    passage of one sentence, where marking would say nothing)."""
    spans = [sentence_spans(p)[:MAX_SENTENCES] for p in passages]
    texts = [p[a:b] for p, s in zip(passages, spans, strict=True) if len(s) > 1 for a, b in s]
    if not texts:
        return [None] * len(passages)
    sims = embedder.embed_passages(texts) @ np.asarray(embedder.embed_query(query))
    best: list[tuple[int, int] | None] = []
    at = 0
    for s in spans:
        if len(s) > 1:
            best.append(s[int(np.argmax(sims[at:at + len(s)]))])
            at += len(s)
        else:
            best.append(None)
    return best
