"""Hybrid search: keyword and semantic candidates, fused, aggregated to documents."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from engine import ranking
from engine.dense import DenseIndex
from engine.embedder import Embedder
from engine.errors import QueryError, StoreError
from engine.ids import ChunkId, FileId
from engine.query import ParsedQuery, file_filter_sql, fts_expression, fts_quote, parse_query
from engine.snippets import Snippet, best_window
from engine.store import ChunkRow, Store

log = logging.getLogger("deskfind.search")

LEXICAL_POOL = 1000
# Ranked FTS5 pays for BM25 on every matching row (about 2 µs each), so a query whose
# terms together match more rows than this drops its most frequent terms from the
# keyword side, keeping at least the rarest one.  Those terms carry the least BM25
# weight (lowest idf); the same idea as Lucene's common-terms query.  Below about ten
# thousand passages this never happens; the semantic side always sees every word.
SCORED_ROWS_BUDGET = 10_000
# Cues shown to the user: a quarter of an ideal keyword match; a cosine that MiniLM-class
# models reach only between texts on the same subject.
KEYWORD_CUE = 0.25
MEANING_CUE = 0.4


@dataclass(frozen=True)
class SearchResult:
    """One document, with the passage that matched best."""

    file_id: FileId
    path: bytes
    display_path: str
    title: str
    ext: str
    mtime_ns: int
    score: float
    lexical: float  # normalised keyword contribution, 0..1
    dense: float  # normalised semantic contribution, 0..1
    chunk_id: ChunkId
    page: int | None
    char_start: int
    char_end: int
    snippet: Snippet

    @property
    def matched_by(self) -> str:
        """'keyword', 'meaning' or 'both': why this result is here, for the user."""
        keyword = self.lexical >= KEYWORD_CUE
        meaning = self.dense >= MEANING_CUE
        if keyword and meaning:
            return "both"
        if keyword or meaning:
            return "keyword" if keyword else "meaning"
        return "keyword" if self.lexical >= self.dense else "meaning"


@dataclass(frozen=True)
class SearchSettings:
    alpha: float = ranking.DEFAULT_ALPHA
    fusion: str = "convex"
    min_candidates: int = 100
    # Results below this fused score are dropped: on the absolute scales of
    # engine.ranking it means neither a fair keyword match nor a related meaning.
    min_score: float = 0.1
    scored_rows_budget: int = SCORED_ROWS_BUDGET


class Searcher:
    """Runs queries against one store.

    `semantic` makes the embedder and dense index on the first semantic query (loading a
    model costs time a keyword search should not pay); None means keyword search only.
    """

    def __init__(self, store: Store,
                 semantic: Callable[[], tuple[Embedder, DenseIndex]] | None,
                 settings: SearchSettings | None = None) -> None:
        self.store = store
        self._make_semantic = semantic
        self._semantic: tuple[Embedder, DenseIndex] | None = None
        self.settings = settings or SearchSettings()

    def semantic(self) -> tuple[Embedder, DenseIndex]:
        if self._semantic is None:
            if self._make_semantic is None:
                raise QueryError("semantic search is not available: no embedding model")
            self._semantic = self._make_semantic()
        return self._semantic

    def search(self, raw: str, *, limit: int = 10, mode: str = "hybrid",
               min_score: float | None = None) -> list[SearchResult]:
        """Documents for `raw`, best first; `min_score` overrides the settings' floor."""
        if mode not in ranking.MODES:
            raise QueryError(f"unknown mode '{mode}' (choose {', '.join(ranking.MODES)})")
        if limit < 1:
            raise QueryError("limit must be at least 1")
        q = parse_query(raw)
        if mode != "lexical" and self._make_semantic is None:
            mode = "lexical"
        depth = max(3 * limit, self.settings.min_candidates)
        try:
            results = self._search(q, limit, mode, depth)
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed: {exc}") from exc
        floor = self.settings.min_score if min_score is None else min_score
        return [r for r in results if r.score >= floor]

    def _search(self, q: ParsedQuery, limit: int, mode: str, depth: int) -> list[SearchResult]:
        where, params = file_filter_sql(q)
        # Index statistics of every keyword term and phrase, read once for both the
        # pruning below and the ideal BM25.
        stats = dict(zip(q.keyword_terms + q.phrases, self.store.token_counts(
            q.keyword_terms + q.phrases), strict=True)) if mode != "dense" else {}
        keyword_q = self._affordable(q, stats) if mode != "dense" else q
        match = fts_expression(keyword_q)
        lexical: dict[ChunkId, float] = {}
        dense: dict[ChunkId, float] = {}
        pool: dict[ChunkId, float] = {}
        if mode != "dense":
            # One ranked FTS5 query scores every match anyway; keeping a deeper pool than
            # we fuse lets most semantic candidates find their BM25 score here for free.
            pool = dict(self.store.fts_search(match, max(depth, LEXICAL_POOL), where, params))
            lexical = dict(list(pool.items())[:depth])
        if mode != "lexical":
            embedder, index = self.semantic()
            qvec = embedder.embed_query(q.text)
            allowed = self.store.chunk_ids_where(where, params) if q.has_filters else None
            dense = self._admissible(q, dict(index.search(qvec, depth, allowed)))
            if mode == "hybrid":
                # Score every candidate on both sides, so fusion compares like with like.
                # A candidate outside the pool scores below the pool's last entry; after
                # normalisation that is close to 0, which is what it gets.
                lexical.update({c: pool[c] for c in dense if c in pool})
                missing_den = [c for c in lexical if c not in dense]
                dense.update(index.cosines(np.array(missing_den, np.int64), qvec))
        ideal = self._ideal_bm25(keyword_q, stats) if lexical else None
        alpha = self.settings.alpha
        if ideal:
            alpha = ranking.query_alpha(alpha, max(lexical.values()) / ideal)
        fused = ranking.fuse(lexical, dense, mode=mode, alpha=alpha,
                             method=self.settings.fusion, ideal=ideal)
        # Only the owning file is needed to aggregate; text is fetched for what is shown.
        owner = {c: int(f) for c, f in self.store.chunk_owners(list(fused)).items()}
        ranked = ranking.aggregate({c: f for c, f in fused.items() if c in owner}, owner)
        terms = q.highlight_terms
        shown = ranked[:limit]
        rows = self.store.chunk_rows([chunk for _, chunk, _ in shown])
        return [self._result(rows[chunk], f, terms) for _, chunk, f in shown if chunk in rows]

    def _affordable(self, q: ParsedQuery, stats: dict[str, dict[str, int]]) -> ParsedQuery:
        """`q` with its most frequent keyword terms dropped while together they would
        match more than SCORED_ROWS_BUDGET passages (see there).  A term matches about
        as many passages as its rarest token (a term like "e-mail" is a phrase)."""
        terms, budget = q.keyword_terms, self.settings.scored_rows_budget
        if len(terms) < 2 or self.store.passage_count() <= budget:
            return q
        counts = [min(stats[t].values(), default=0) for t in terms]
        if sum(counts) <= budget:
            return q
        rarest_first = sorted(range(len(terms)), key=lambda i: counts[i])
        keep, total = [rarest_first[0]], counts[rarest_first[0]]
        for i in rarest_first[1:]:
            if total + counts[i] > budget:
                break
            keep.append(i)
            total += counts[i]
        return replace(q, keyword_terms=tuple(terms[i] for i in sorted(keep)))

    def _ideal_bm25(self, q: ParsedQuery, stats: dict[str, dict[str, int]]) -> float:
        tokens: dict[str, int] = {}
        for text in (*q.keyword_terms, *q.phrases):
            tokens.update(stats[text])
        return ranking.ideal_bm25(list(tokens.values()), self.store.passage_count())

    def _admissible(self, q: ParsedQuery, dense: dict[ChunkId, float]) -> dict[ChunkId, float]:
        """Apply "phrases" and -exclusions to semantic candidates, as FTS5 does to its own."""
        ids = list(dense)
        if q.phrases and ids:
            required = " AND ".join(fts_quote(p) for p in q.phrases)
            keep = self.store.fts_scores(required, ids)
            ids = [c for c in ids if c in keep]
        if q.excluded and ids:
            banned = self.store.fts_scores(" OR ".join(fts_quote(w) for w in q.excluded), ids)
            ids = [c for c in ids if c not in banned]
        return {c: dense[c] for c in ids}

    @staticmethod
    def _result(row: ChunkRow, fused: ranking.Fused, terms: tuple[str, ...]) -> SearchResult:
        return SearchResult(
            file_id=row.file_id, path=row.path, display_path=row.display_path,
            title=row.title, ext=row.ext, mtime_ns=row.mtime_ns, score=fused.score,
            lexical=fused.lexical, dense=fused.dense, chunk_id=row.id, page=row.page,
            char_start=row.char_start, char_end=row.char_end,
            snippet=best_window(row.text, terms),
        )
