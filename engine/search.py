"""Hybrid search: keyword and semantic candidates, fused, aggregated to documents."""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from engine import ranking
from engine.copies import group_copies
from engine.dense import DenseIndex
from engine.embedder import Embedder
from engine.errors import QueryError, StoreError
from engine.ids import ChunkId, FileId
from engine.query import KeywordMatch, ParsedQuery, parse_query
from engine.snippets import Snippet, best_window
from engine.storage import IndexStore
from engine.store import ChunkRow

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
# The relevance floor: a result is shown when its passage matches at least half of what
# the query's keywords carry (by idf), or when its cosine is above what the model gives
# unrelated texts (Embedder.unrelated_cosine).  Weak evidence on one side alone, such
# as one common word of a question, is not enough.
KEYWORD_FLOOR = 0.5

# A hybrid query runs its semantic side (embedding the query, searching the vectors) on
# this thread while its keyword side runs: onnxruntime, hnswlib and SQLite release the
# GIL, and the dense index reads through a connection of its own (app.context), so on
# two cores the semantic side costs almost no wall time.  One thread for all searchers.
_semantic_thread: ThreadPoolExecutor | None = None
_semantic_thread_lock = threading.Lock()
SemanticSide = tuple[np.ndarray, list[tuple[ChunkId, float]]]  # query vector, candidates


def _in_background(work: Callable[[], SemanticSide]) -> Future[SemanticSide]:
    global _semantic_thread
    with _semantic_thread_lock:
        if _semantic_thread is None:
            _semantic_thread = ThreadPoolExecutor(1, thread_name_prefix="deskfind-query")
    return _semantic_thread.submit(work)


@dataclass(frozen=True)
class Copy:
    """Another file holding the same text as a result (see engine.copies)."""

    path: bytes
    display_path: str
    title: str
    ext: str
    mtime_ns: int
    score: float


@dataclass(frozen=True)
class SearchResult(Copy):
    """One document (a file as its copies are: path, title, score…), with the passage
    that matched best, and its copies."""

    file_id: FileId
    lexical: float  # keyword coverage of the query, 0..1 (BM25 / ideal passage's)
    dense: float  # cosine, clipped at 0
    chunk_id: ChunkId
    page: int | None
    char_start: int
    char_end: int
    snippet: Snippet
    copies: tuple[Copy, ...] = ()
    ocr: bool = False  # the passage's text was read off a page image by OCR

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
class SearchResponse:
    """Results of one query, and what was loosened to find them (None: nothing was)."""

    results: list[SearchResult]
    relaxed: str | None = None


@dataclass(frozen=True)
class SearchSettings:
    alpha: float = ranking.DEFAULT_ALPHA
    fusion: str = "convex"
    min_candidates: int = 100
    feedback_depth: int = ranking.FEEDBACK_DEPTH
    scored_rows_budget: int = SCORED_ROWS_BUDGET


class Searcher:
    """Runs queries against one store.

    `semantic` makes the embedder and dense index on the first semantic query (loading a
    model costs time a keyword search should not pay); None means keyword search only.
    """

    def __init__(self, store: IndexStore,
                 semantic: Callable[[], tuple[Embedder, DenseIndex]] | None,
                 settings: SearchSettings | None = None) -> None:
        self.store = store
        self._make_semantic = semantic
        self._semantic: tuple[Embedder, DenseIndex] | None = None
        self.settings = settings or SearchSettings()
        self._query_vector: tuple[str, np.ndarray] | None = None

    def semantic(self) -> tuple[Embedder, DenseIndex]:
        if self._semantic is None:
            if self._make_semantic is None:
                raise QueryError("semantic search is not available: no embedding model")
            self._semantic = self._make_semantic()
        return self._semantic

    def search(self, raw: str, *, limit: int = 10, mode: str = "hybrid",
               floor: bool = True) -> list[SearchResult]:
        """Documents for `raw`, best first (see `query`)."""
        return self.query(raw, limit=limit, mode=mode, floor=floor).results

    def query(self, raw: str, *, limit: int = 10, mode: str = "hybrid", floor: bool = True,
              strict: bool = False) -> SearchResponse:
        """Documents for `raw`, best first.

        `floor` drops results with too little evidence (see KEYWORD_FLOOR).  Quote marks
        and dashes are often pasted text rather than syntax, so unless `strict`, a query
        whose phrases leave no result is answered with the phrases read as words, and
        then, if its exclusions still leave nothing, without them; `relaxed` says so.
        Filters always hold.
        """
        if mode not in ranking.MODES:
            raise QueryError(f"unknown mode '{mode}' (choose {', '.join(ranking.MODES)})")
        if limit < 1:
            raise QueryError("limit must be at least 1")
        q = parse_query(raw)
        if mode != "lexical" and self._make_semantic is None:
            mode = "lexical"
        try:
            results = self._run(q, limit, mode, floor)
            if results or strict:
                return SearchResponse(results)
            for loose, what in _relaxations(q):
                results = self._run(loose, limit, mode, floor)
                if results:
                    return SearchResponse(results, what)
            return SearchResponse([])
        except sqlite3.OperationalError as exc:
            raise StoreError(f"search failed: {exc}") from exc

    def _run(self, q: ParsedQuery, limit: int, mode: str, floor: bool) -> list[SearchResult]:
        depth = max(3 * limit, self.settings.min_candidates)
        results, short = self._search(q, limit, mode, depth, floor)
        if short:  # copies used up candidates that other answers could have filled
            results, _ = self._search(q, limit, mode, 2 * depth, floor)
        return results

    def _floor(self, mode: str) -> Callable[[float, float], bool]:
        """Whether (keyword coverage, cosine) is evidence enough to show a result."""
        if mode == "lexical":
            return lambda coverage, cosine: True
        unrelated = self.semantic()[0].unrelated_cosine()
        if mode == "dense":
            return lambda coverage, cosine: cosine > unrelated
        return lambda coverage, cosine: cosine > unrelated or coverage >= KEYWORD_FLOOR

    def _embed_query(self, embedder: Embedder, text: str) -> np.ndarray:
        # A relaxed second pass asks for the same text: embed it once.  Read the cache
        # once: the semantic thread of an earlier query may still be replacing it.
        cached = self._query_vector
        if cached is None or cached[0] != text:
            cached = self._query_vector = (text, embedder.embed_query(text))
        return cached[1]

    def _search(self, q: ParsedQuery, limit: int, mode: str, depth: int,
                floor: bool) -> tuple[list[SearchResult], bool]:
        """Up to `limit` results, each with its copies, and whether copies left the page
        short of `limit` when more candidates would have filled it."""
        allowed = self.store.chunk_ids(q) if mode != "lexical" and q.has_filters else None
        semantic: Future[SemanticSide] | None = None
        if mode == "hybrid":  # runs beside the keyword side, from here to its result
            semantic = _in_background(self._semantic_side(q, depth, allowed))
        # Index statistics of every keyword term and phrase, read once for both the
        # pruning below and the ideal BM25.
        stats = dict(zip(q.keyword_terms + q.phrases, self.store.token_counts(
            q.keyword_terms + q.phrases), strict=True)) if mode != "dense" else {}
        keyword_q = self._affordable(q, stats) if mode != "dense" else q
        token_counts = list(self._query_tokens(keyword_q, stats).values()) if stats else []
        lexical: dict[ChunkId, float] = {}
        dense: dict[ChunkId, float] = {}
        pool: dict[ChunkId, float] = {}
        if mode != "dense":
            # One ranked FTS5 query scores every match anyway; keeping a deeper pool than
            # we fuse lets most semantic candidates find their BM25 score here for free.
            pool = dict(self.store.keyword_search(KeywordMatch.of(keyword_q),
                                                  max(depth, LEXICAL_POOL), q))
            lexical = dict(list(pool.items())[:depth])
        deeper = len(lexical) >= depth  # a deeper search would find more candidates
        if mode == "lexical":
            fused = ranking.fuse(lexical, {}, mode=mode)
        else:
            qvec, found = semantic.result() if semantic \
                else self._semantic_side(q, depth, allowed)()
            index = self.semantic()[1]
            dense = self._admissible(q, dict(found))
            deeper = deeper or len(dense) >= depth
            if mode == "dense":
                fused = ranking.fuse({}, dense, mode=mode)
            else:
                reference = ranking.reference_bm25(token_counts, self.store.passage_count())
                top = max(max(pool.values(), default=0.0), reference)
                searched = len(allowed) if allowed is not None else len(index)
                fused, dense = self._hybrid(lexical, dense, pool, index, qvec, top,
                                            searched)
        # Only the owning file is needed to aggregate; text is fetched for what is shown.
        owner = {c: int(f) for c, f in self.store.chunk_owners(list(fused)).items()}
        ranked = ranking.aggregate({c: f for c, f in fused.items() if c in owner}, owner)
        ideal = ranking.ideal_bm25(token_counts, self.store.passage_count()) \
            if lexical else None
        enough = self._floor(mode) if floor else None
        evidence = {chunk: (ranking.keyword_coverage(lexical.get(chunk, 0.0), ideal),
                            dense.get(chunk, 0.0)) for _, chunk, _ in ranked}
        prints = self.store.fingerprints([FileId(doc) for doc, _, _ in ranked])
        groups = group_copies(
            [chunk for _, chunk, _ in ranked],
            {chunk: prints[FileId(doc)] for doc, chunk, _ in ranked if doc in prints},
            lambda chunk: enough is None or enough(*evidence[chunk]), limit)
        fusion = {chunk: f for _, chunk, f in ranked}
        rows = self.store.chunk_rows([c for lead, copies in groups for c in (lead, *copies)])
        terms = q.highlight_terms
        results = [self._result(rows[lead], fusion[lead], *evidence[lead], terms,
                                tuple(_copy(rows[c], fusion[c]) for c in copies if c in rows))
                   for lead, copies in groups if lead in rows]
        # Grouping left the page short while a deeper search could have found more.
        short = deeper and len(groups) < limit and any(copies for _, copies in groups)
        return results, short

    def _semantic_side(self, q: ParsedQuery, depth: int, allowed: np.ndarray | None
                       ) -> Callable[[], SemanticSide]:
        """The semantic side's work: the query vector and the top `depth` passages by
        cosine among `allowed` (None: all).  It reads only the dense index's connection,
        so it can run beside the keyword side."""
        embedder, index = self.semantic()

        def run() -> SemanticSide:
            qvec = self._embed_query(embedder, q.text)
            return qvec, index.search(qvec, depth, allowed)
        return run

    def _hybrid(self, lexical: dict[ChunkId, float], dense: dict[ChunkId, float],
                pool: dict[ChunkId, float], index: DenseIndex, qvec: np.ndarray,
                top: float, searched: int
                ) -> tuple[dict[ChunkId, ranking.Fused], dict[ChunkId, float]]:
        """Fused scores of the keyword and semantic candidates, each scored on both sides
        (so fusion compares like with like), after one round of Rocchio feedback from
        the passages both sides rank high.  `top` is the BM25 that normalises to 1 (see
        engine.ranking); `searched` is how many passages the semantic side chose from."""
        # A semantic candidate outside the keyword pool scores below the pool's last
        # entry; after normalisation that is close to 0, which is what it gets.
        lexical.update({c: pool[c] for c in dense if c in pool})
        ids, rows = index.unit_vectors(np.array(list(dict.fromkeys([*dense, *lexical])),
                                                np.int64))
        keys = [ChunkId(int(i)) for i in ids]
        cosines = dict(zip(keys, (rows @ qvec).tolist(), strict=True))
        if self.settings.fusion == "rrf":
            return ranking.fuse(lexical, cosines, method="rrf"), cosines
        strength = max(lexical.values(), default=0.0) / top if top > 0 else 0.0
        alpha = ranking.query_alpha(self.settings.alpha, strength)
        fused = ranking.fuse(lexical, cosines, alpha=alpha, lexical_top=top)
        depth = self.settings.feedback_depth
        if depth and keys:
            position = {k: i for i, k in enumerate(keys)}
            chance = self.semantic()[0].unrelated().best_of(searched)
            weight = ranking.agreement_weight(strength, max(cosines.values()), chance)
            feedback = [position[k] for k in ranking.feedback_keys(
                fused, len(fused), agreement_weight=weight) if k in position][:depth]
            moved = ranking.rocchio(qvec, rows[feedback])
            fused = ranking.fuse(lexical, dict(zip(keys, (rows @ moved).tolist(), strict=True)),
                                 alpha=alpha, lexical_top=top)
        return fused, cosines

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

    @staticmethod
    def _query_tokens(q: ParsedQuery, stats: dict[str, dict[str, int]]) -> dict[str, int]:
        """The keyword side's distinct index tokens and their passage counts."""
        tokens: dict[str, int] = {}
        for text in (*q.keyword_terms, *q.phrases):
            tokens.update(stats[text])
        return tokens

    def _admissible(self, q: ParsedQuery, dense: dict[ChunkId, float]) -> dict[ChunkId, float]:
        """Apply "phrases" and -exclusions to semantic candidates, as FTS5 does to its own."""
        ids = list(dense)
        if q.phrases and ids:
            keep = self.store.keyword_scores(KeywordMatch(all_of=q.phrases), ids)
            ids = [c for c in ids if c in keep]
        if q.excluded and ids:
            banned = self.store.keyword_scores(KeywordMatch(any_of=q.excluded), ids)
            ids = [c for c in ids if c not in banned]
        return {c: dense[c] for c in ids}

    @staticmethod
    def _result(row: ChunkRow, fused: ranking.Fused, coverage: float, cosine: float,
                terms: tuple[str, ...], copies: tuple[Copy, ...] = ()) -> SearchResult:
        return SearchResult(
            file_id=row.file_id, path=row.path, display_path=row.display_path,
            title=row.title, ext=row.ext, mtime_ns=row.mtime_ns, score=fused.score,
            lexical=coverage, dense=max(cosine, 0.0), chunk_id=row.id, page=row.page,
            char_start=row.char_start, char_end=row.char_end,
            snippet=best_window(row.text, terms), copies=copies, ocr=row.ocr,
        )


def _copy(row: ChunkRow, fused: ranking.Fused) -> Copy:
    return Copy(row.path, row.display_path, row.title, row.ext, row.mtime_ns, fused.score)


def _relaxations(q: ParsedQuery) -> list[tuple[ParsedQuery, str]]:
    """Looser readings of `q`, in the order to try, each with a line for the user."""
    steps = []
    phrases = ", ".join(f'"{p}"' for p in q.phrases)
    if q.phrases:
        steps.append((q.relaxed(), f"nothing contains {phrases} exactly; "
                                   "showing results for its words"))
    if q.excluded:
        excluded = " ".join(f"-{w}" for w in q.excluded)
        steps.append((q.relaxed(keep_exclusions=False),
                      f"nothing matches with {excluded}"
                      + (f" and {phrases} exactly" if q.phrases else "")
                      + "; showing results without the exclusion"))
    return steps
