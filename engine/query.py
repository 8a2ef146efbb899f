"""The query language: words, "phrases", -exclusions and filters (ext:, path:, from:, to:,
after:, before:)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from engine.errors import QueryError

# Words too common to help BM25; dropped from the keyword side unless the query has
# nothing else.  (The semantic side always sees the full text.)
STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before
being below between both but by can could did do does doing down during each few for
from further had has have having he her here hers herself him himself his how i if in
into is it its itself just me more most my myself no nor not now of off on once only or
other our ours ourselves out over own same she should so some such than that the their
theirs them themselves then there these they this those through to too under until up
very was we were what when where which while who whom why will with would you your yours
yourself yourselves
""".split())

_TOKEN = re.compile(r'-?"[^"]*"?|\S+')
_WORD = re.compile(r"\w+", re.UNICODE)
_FILTER_KEYS = ("ext", "path", "from", "to", "after", "before")
_INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class ParsedQuery:
    """A user query split into what each retrieval side needs."""

    text: str  # the words and phrases, for the embedder
    terms: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    excluded: tuple[str, ...] = ()
    exts: tuple[str, ...] = ()
    paths: tuple[str, ...] = ()
    senders: tuple[str, ...] = ()  # from: fragments of a message's sender
    recipients: tuple[str, ...] = ()  # to: fragments of its To or Cc
    after_ns: int | None = None
    before_ns: int | None = None
    keyword_terms: tuple[str, ...] = field(default=())

    @property
    def has_filters(self) -> bool:
        return bool(self.exts or self.paths or self.senders or self.recipients
                    or self.after_ns is not None
                    or self.before_ns is not None)

    def relaxed(self, *, keep_exclusions: bool = True) -> ParsedQuery:
        """The query with its phrases read as plain words (and, unless kept, without its
        exclusions); filters stay."""
        words = [*self.terms, *(w for p in self.phrases for w in _WORD.findall(p))]
        return replace(self, terms=tuple(words), phrases=(),
                       excluded=self.excluded if keep_exclusions else (),
                       keyword_terms=_keyword_terms(words))

    @property
    def highlight_terms(self) -> tuple[str, ...]:
        """The words to mark in snippets and previews: those that carry the match, never
        stopwords or single letters (unless the query has nothing else)."""
        words = [w for p in self.phrases for w in _WORD.findall(p)]
        terms = tuple(dict.fromkeys(t.lower() for t in (*self.keyword_terms, *words)))
        telling = tuple(t for t in terms if len(t) > 1 and t not in STOPWORDS)
        return telling or terms


def _parse_date(value: str, key: str) -> int:
    """Start of the given UTC day in ns: after: keeps files modified (messages sent)
    from it on, before: keeps those modified before it."""
    try:
        day = date.fromisoformat(value)
    except ValueError as exc:
        raise QueryError(f"{key}: wants a date like 2024-05-31, got '{value}'") from exc
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    # Clamped to SQLite's 64-bit integers: years 1 and 9999 lie beyond any file anyway.
    return max(min(int(moment.timestamp()) * 1_000_000_000, _INT64_MAX), -_INT64_MAX)


# The most exclusions and filters one query may hold: each nests the SQL (and FTS5)
# expression one level deeper, and SQLite refuses past its depth limits.
MAX_EXCLUDED = 64
MAX_FILTERS = 64


def parse_query(raw: str) -> ParsedQuery:
    """Split `raw` into terms, phrases, exclusions and filters.  Raises QueryError."""
    if any("\ud800" <= ch <= "\udfff" for ch in raw):
        raise QueryError("the query is not valid text: it holds bytes that are not UTF-8")
    terms: list[str] = []
    phrases: list[str] = []
    excluded: list[str] = []
    filters: dict[str, list[str]] = {k: [] for k in _FILTER_KEYS}
    for token in _TOKEN.findall(raw):
        # "-word" and '-"phrase"' exclude; "--" or a lone "-" in pasted text do not.
        negative = token.startswith("-") and (token[1:2] == '"' or
                                              bool(_WORD.match(token, 1)))
        body = token[1:] if negative else token
        if body.startswith('"'):
            phrase = body.strip('"').strip()
            if phrase:
                (excluded if negative else phrases).append(phrase)
            continue
        key, sep, value = body.partition(":")
        if sep and key.lower() in _FILTER_KEYS and not negative:
            if not value:
                raise QueryError(f"{key}: needs a value, e.g. {key}:{_example(key)}")
            filters[key.lower()].append(value)
            continue
        words = _WORD.findall(body)
        if negative:
            excluded.extend(words)
        else:
            terms.extend(words)
    if len(excluded) > MAX_EXCLUDED:
        raise QueryError(f"the query excludes {len(excluded)} words; at most {MAX_EXCLUDED} "
                         "can be left out (-word)")
    given = sum(len(values) for values in filters.values())
    if given > MAX_FILTERS:
        raise QueryError(f"the query has {given} filters; at most {MAX_FILTERS} "
                         "(ext:, path:, from:, to:, after:, before:)")
    dates = {key: _parse_date(filters[key][-1], key) if filters[key] else None
             for key in ("after", "before")}  # a bad date is named even without words
    if not terms and not phrases:
        raise QueryError("the query has no words to search for")
    return ParsedQuery(
        text=" ".join([*terms, *phrases]),
        terms=tuple(terms),
        phrases=tuple(phrases),
        excluded=tuple(excluded),
        exts=tuple(e.lower().lstrip(".") for e in filters["ext"] for e in e.split(",") if e),
        paths=tuple(filters["path"]),
        senders=tuple(filters["from"]),
        recipients=tuple(filters["to"]),
        after_ns=dates["after"],
        before_ns=dates["before"],
        keyword_terms=_keyword_terms(terms),
    )


def _keyword_terms(terms: list[str]) -> tuple[str, ...]:
    return tuple(t for t in terms if t.lower() not in STOPWORDS) or tuple(terms)


def _example(key: str) -> str:
    return {"ext": "pdf", "path": "notes", "from": "alice@example.com", "to": "bob",
            "after": "2024-01-31",
            "before": "2024-12-31"}[key]


def fts_quote(text: str) -> str:
    """Quote `text` as one FTS5 string: it can never be read as syntax."""
    return '"' + text.replace('"', '""') + '"'


@dataclass(frozen=True)
class KeywordMatch:
    """Which passages a keyword search admits: any of `any_of`, every one of `all_of`
    (phrases), none of `none_of`.  Each store turns it into its own match language."""

    any_of: tuple[str, ...] = ()
    all_of: tuple[str, ...] = ()
    none_of: tuple[str, ...] = ()

    @classmethod
    def of(cls, q: ParsedQuery) -> KeywordMatch:
        """The keyword side of a query: its keyword terms, phrases and exclusions."""
        return cls(q.keyword_terms, q.phrases, q.excluded)


def fts_match(m: KeywordMatch) -> str:
    """The FTS5 MATCH expression of `m`."""
    parts = []
    if m.any_of:
        parts.append("(" + " OR ".join(fts_quote(t) for t in m.any_of) + ")")
    parts.extend(fts_quote(p) for p in m.all_of)
    expr = " AND ".join(parts)
    for word in m.none_of:
        expr = f"({expr}) NOT {fts_quote(word)}"
    return expr


def fts_expression(q: ParsedQuery) -> str:
    """The FTS5 MATCH expression: any term, every phrase, none of the exclusions."""
    return fts_match(KeywordMatch.of(q))


@dataclass(frozen=True)
class SqlDialect:
    """How one database spells what a file filter needs."""

    mark: str  # a parameter placeholder
    contains: str  # `{column}` holds the lower-cased fragment given as one parameter
    true: str
    false: str


SQLITE = SqlDialect("?", "instr(lower(coalesce({column}, '')), ?) > 0", "1", "0")


def file_filter_sql(q: ParsedQuery, *, mail: bool = True,
                    dialect: SqlDialect = SQLITE) -> tuple[str, list[object]]:
    """An SQL condition on files `f` for the query's filters ('1' when there are none).

    `mail`: the index has the mail columns (schema 6 on); an older one, opened read-only,
    holds no messages, so from:/to: match nothing and dates are modification times.
    """
    clauses: list[str] = []
    params: list[object] = []
    if q.exts:
        clauses.append(f"f.ext IN ({','.join([dialect.mark] * len(q.exts))})")
        params.extend(q.exts)
    if not mail and (q.senders or q.recipients):
        clauses.append(dialect.false)
    columns = (("f.display_path", q.paths), ("f.sender", q.senders),
               ("f.recipients", q.recipients)) if mail else (("f.display_path", q.paths),)
    for column, fragments in columns:
        for fragment in fragments:
            clauses.append(dialect.contains.format(column=column))
            params.append(fragment.lower())
    # A message is dated by its Date header, not by when its mailbox last changed.
    dated = "coalesce(f.date_ns, f.mtime_ns)" if mail else "f.mtime_ns"
    if q.after_ns is not None:
        clauses.append(f"{dated} >= {dialect.mark}")
        params.append(q.after_ns)
    if q.before_ns is not None:
        clauses.append(f"{dated} < {dialect.mark}")
        params.append(q.before_ns)
    return (" AND ".join(clauses) or dialect.true), params


def parse_filters(raw: str) -> ParsedQuery:
    """Filters alone (`ext:pdf path:notes after:…`), as commands without a query take
    them; anything that is not a filter is a QueryError."""
    placeholder = "filtersonly"  # parse_query wants a word; this one is taken back out
    q = parse_query(f"{placeholder} {raw}")
    if q.terms != (placeholder,) or q.phrases or q.excluded:
        raise QueryError(f"only filters (ext:, path:, after:, before:) here, not words: {raw}")
    return q
