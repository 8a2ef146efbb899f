import sqlite3

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.errors import QueryError
from engine.query import MAX_EXCLUDED, MAX_FILTERS, file_filter_sql, fts_expression, parse_query


@pytest.fixture(scope="module")
def fts():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE VIRTUAL TABLE t USING fts5(text, tokenize='porter unicode61')")
    conn.executemany("INSERT INTO t(text) VALUES (?)",
                     [("error 0x80070005 when copying",), ("a quick brown fox",),
                      ("NOT AND OR NEAR are words too",)])
    return conn


@given(st.text(max_size=60))
def test_any_text_becomes_a_valid_fts_query_or_a_clear_error(fts, raw):
    try:
        q = parse_query(raw)
    except QueryError:
        return
    fts.execute("SELECT rowid FROM t WHERE t MATCH ?", (fts_expression(q),)).fetchall()


def test_exact_codes_and_operator_words_are_literal(fts):
    def hits(raw):
        return [r[0] for r in fts.execute("SELECT rowid FROM t WHERE t MATCH ?",
                                          (fts_expression(parse_query(raw)),))]
    assert hits("error 0x80070005") == [1]
    assert hits('"quick brown"') == [2]
    assert hits('"brown quick"') == []
    assert hits("NEAR AND") == [3]
    assert hits("fox -brown") == []
    assert hits('fox -"slow brown"') == [2]


def test_the_most_exclusions_and_filters_still_run_and_more_are_a_clear_error(fts):
    many_out = " ".join(f"-x{i}" for i in range(MAX_EXCLUDED))
    fts.execute("SELECT rowid FROM t WHERE t MATCH ?",
                (fts_expression(parse_query(f"fox {many_out}")),)).fetchall()
    with pytest.raises(QueryError, match="at most 64 can be left out"):
        parse_query(f"fox {many_out} -one-more")
    many_paths = " ".join(f"path:p{i}" for i in range(MAX_FILTERS))
    sql, params = file_filter_sql(parse_query(f"fox {many_paths}"))
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE files(path TEXT, display_path TEXT, ext TEXT, mtime_ns INT, "
                 "date_ns INT, sender TEXT, recipients TEXT)")
    conn.execute(f"SELECT 1 FROM files f WHERE {sql}", params).fetchall()
    with pytest.raises(QueryError, match="at most 64"):
        parse_query(f"fox {many_paths} ext:pdf")


def test_a_bad_date_is_named_even_in_a_query_without_words():
    with pytest.raises(QueryError, match="wants a date"):
        parse_query("after:notadate")


def test_filters_are_parsed():
    q = parse_query('budget ext:pdf,DOCX path:work after:2024-01-01 before:2024-12-31 -draft')
    assert q.terms == ("budget",) and q.excluded == ("draft",)
    assert q.exts == ("pdf", "docx") and q.paths == ("work",)
    assert q.after_ns is not None and q.before_ns is not None and q.after_ns < q.before_ns
    sql, params = file_filter_sql(q)
    assert sql.count("?") == len(params) == 5


def test_mail_filters_are_parsed_and_match_fragments_of_the_fields():
    q = parse_query("invoice from:Alice@Example.com to:bob")
    assert q.terms == ("invoice",) and q.has_filters
    assert q.senders == ("Alice@Example.com",) and q.recipients == ("bob",)
    sql, params = file_filter_sql(q)
    assert "f.sender" in sql and "f.recipients" in sql
    assert params == ["alice@example.com", "bob"]  # matched ignoring letter case


def test_stopwords_leave_the_keyword_side_but_not_the_semantic_one():
    q = parse_query("what is the effect of heat")
    assert q.keyword_terms == ("effect", "heat")
    assert q.text == "what is the effect of heat"
    assert parse_query("to be or not to be").keyword_terms  # all stopwords: keep them


@pytest.mark.parametrize("raw, message", [
    ("", "no words"), ("   ", "no words"), ("ext:pdf", "no words"), ("-word", "no words"),
    ("x after:yesterday", "date like"), ("x ext:", "needs a value"),
])
def test_bad_queries_say_what_is_wrong(raw, message):
    with pytest.raises(QueryError, match=message):
        parse_query(raw)


def test_dashes_in_pasted_text_are_not_exclusions():
    q = parse_query('types --i.e. classes - and -"draft copy" -old')
    assert q.excluded == ("draft copy", "old")
    assert {"i", "e", "classes"} <= set(q.terms)


def test_relaxed_reads_phrases_as_words_and_keeps_filters():
    q = parse_query('"fair share" scheduler -draft ext:txt')
    loose = q.relaxed()
    assert loose.phrases == () and loose.excluded == ("draft",) and loose.exts == ("txt",)
    assert {"fair", "share", "scheduler"} <= set(loose.keyword_terms)
    assert loose.text == q.text  # the semantic side sees the same text
    assert q.relaxed(keep_exclusions=False).excluded == ()


def test_dates_beyond_any_file_and_non_utf8_bytes_are_clear():
    assert parse_query("x after:9999-12-31").after_ns == 2**63 - 1
    with pytest.raises(QueryError, match="not valid text"):
        parse_query("caf\udce9")


def test_only_words_that_carry_the_match_are_highlighted():
    assert parse_query('"water the tomatoes" a x deeply').highlight_terms == (
        "deeply", "water", "tomatoes")
    assert parse_query("the a").highlight_terms == ("the", "a")  # nothing else to mark
