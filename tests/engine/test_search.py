"""Hybrid search on stores built through the real indexer, with controlled sides."""

import contextlib

import numpy as np
import pytest

from engine.dense import DenseIndex
from engine.errors import QueryError
from engine.search import Searcher, SearchSettings
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import RandomEmbedder, write_files

VOCAB = [f"w{i}" for i in range(400)]


def _searcher_for(store, tmp_path, files, embedder) -> Searcher:
    """Index `files` through the real indexer and return a searcher over them."""
    write_files(tmp_path / "docs", files)
    report = IndexReport()
    indexer = Indexer(store)
    indexer.scan([bytes(tmp_path / "docs")], report)
    indexer.embed_pending(embedder, report)
    dense = DenseIndex(store, embedder.model_id, embedder.dim, tmp_path / "v.hnsw")
    return Searcher(store, lambda: (embedder, dense))


def _build(store, tmp_path, embedder, n=250):
    rng = np.random.default_rng(0)
    files = {}
    for i in range(n):
        words = " ".join(rng.choice(VOCAB, 60))
        files[f"doc{i}.txt"] = f"doc{i}\n\n{words} common filler text"
    return _searcher_for(store, tmp_path, files, embedder), files


def _mrr(searcher, queries, mode):
    total = 0.0
    for query, want in queries:
        names = [r.display_path.rsplit("/", 1)[1] for r in searcher.search(query, limit=10,
                                                                            mode=mode)]
        total += 1.0 / (names.index(want) + 1) if want in names else 0.0
    return total / len(queries)


def test_hybrid_stays_near_lexical_when_the_semantic_side_is_noise(store, tmp_path):
    searcher, files = _build(store, tmp_path, RandomEmbedder())
    rng = np.random.default_rng(1)
    queries = []
    for i in rng.choice(250, 60, replace=False):
        words = files[f"doc{i}.txt"].split()[1:-3]
        queries.append((" ".join(rng.choice(words, 3, replace=False)), f"doc{i}.txt"))
    lexical = _mrr(searcher, queries, "lexical")
    hybrid = _mrr(searcher, queries, "hybrid")
    assert lexical > 0.5  # the keyword side really is the strong one here
    assert hybrid >= lexical - 0.05, (lexical, hybrid)


# Vocabulary mismatch: each query shares no word with its answer, but every query word
# appears in some distractor, so the keyword side confidently returns the wrong files.
MISMATCH = [
    ("cat napping on a carpet", "The kitten dozed on the warm rug all afternoon.",
     ["The carpet shop opened a second branch downtown.", "A cat food brand changed its "
      "recipe.", "Napping schedules for night shift workers."]),
    ("automobile wont start cold morning", "My car engine refuses to turn over when it "
     "freezes outside.", ["The automobile museum adds a morning tour.", "Start the cold "
     "brew the night before.", "Morning yoga helps you start the day."]),
    ("physician prescribed medication dosage", "The doctor told me to take two pills "
     "every eight hours.", ["Dosage tables for livestock feed supplements.", "The "
     "physician association elects a new board.", "Medication storage in hot climates."]),
    ("purchasing a residence first time", "Tips for people buying their first house or "
     "flat.", ["Residence permits for foreign students.", "Purchasing departments approve "
     "invoices.", "First time at the opera: what to wear."]),
    ("youngsters learning arithmetic", "How children get better at sums and "
     "multiplication tables.", ["Learning a language with flashcards.", "Arithmetic "
     "coding in data compression.", "Youngsters football league fixtures."]),
    ("rainfall forecast weekend", "Expect showers and wet weather on Saturday and "
     "Sunday.", ["Weekend opening hours of the library.", "Rainfall statistics of the "
     "nineteenth century.", "The forecast for quarterly sales."]),
    ("fixing a leaking faucet", "Replace the worn washer to stop the tap dripping.",
     ["Fixing exchange rates was abandoned.", "The faucet catalogue has new finishes.",
      "Leaking memory in long running programs."]),
    ("slumber quality advice", "How to sleep better: dark room, no screens before bed.",
     ["Quality control in the bottling plant.", "Advice columns in weekly magazines.",
      "Slumber party games for birthdays."]),
]


def test_hybrid_stays_near_dense_when_keywords_mislead(store, tmp_path, real_embedder):
    files = {}
    for i, (_, answer, distractors) in enumerate(MISMATCH):
        files[f"answer{i}.txt"] = answer
        for j, d in enumerate(distractors):
            files[f"distractor{i}_{j}.txt"] = d
    searcher = _searcher_for(store, tmp_path, files, real_embedder)
    queries = [(q, f"answer{i}.txt") for i, (q, _, _) in enumerate(MISMATCH)]
    lexical = _mrr(searcher, queries, "lexical")
    dense_mrr = _mrr(searcher, queries, "dense")
    hybrid = _mrr(searcher, queries, "hybrid")
    assert lexical < 0.2 and dense_mrr > 0.5
    # Harder than noise: the distractors are partly related in meaning too.
    assert hybrid >= dense_mrr - 0.1, (dense_mrr, hybrid)


def test_filters_apply_to_both_sides(store, tmp_path, real_embedder):
    s = _searcher_for(store, tmp_path, {
        "work/report.md": "# Quarterly report\n\nRevenue grew in the northern region.",
        "home/diary.txt": "Revenue from the garage sale paid for new tyres.",
        "home/recipes.md": "# Soup\n\nLeek and potato soup with revenue-free joy.",
    }, real_embedder)

    def names(q, mode="hybrid"):
        return sorted(_shown(s, q, mode))

    for mode in ("hybrid", "dense", "lexical"):
        assert names("revenue ext:txt", mode) == ["diary.txt"]
        assert names("revenue path:work", mode) == ["report.md"]
        assert "diary.txt" not in names("revenue -garage", mode)
    assert names('"northern region" money') == ["report.md"]
    assert names("revenue before:2000-01-01") == []


def test_results_carry_passage_positions_and_highlights(store, tmp_path, real_embedder):
    text = "Intro line.\n\n" + "Background words. " * 100 + "The gearbox overheated badly."
    s = _searcher_for(store, tmp_path, {"log.txt": text}, real_embedder)
    (hit,) = s.search("gearbox", mode="lexical")
    assert text[hit.char_start:hit.char_end].endswith("gearbox overheated badly.")
    a, b = hit.snippet.spans[0]
    assert hit.snippet.text[a:b] == "gearbox" and hit.matched_by == "keyword"


def test_bad_arguments_raise_query_errors(store):
    s = Searcher(store, None)
    with pytest.raises(QueryError, match="unknown mode"):
        s.search("x", mode="fuzzy")
    with pytest.raises(QueryError, match="limit"):
        s.search("x", limit=0)


SENTENCES = [
    "The meeting moved to Thursday afternoon.", "Please restart the print spooler service.",
    "Invoices are due within thirty days.", "The backup finished with warnings.",
    "Our team reviewed the quarterly roadmap.", "The laptop fan is louder than usual.",
    "Customer reported a failed login attempt.", "Deploy the patch to the staging cluster.",
    "The shipment left the warehouse late.", "Reset the router and try again.",
]


def test_exact_codes_are_found_when_meaning_cannot_help(store, tmp_path, real_embedder):
    """LIMIT-shaped queries: identifiers that carry no meaning for an embedding model."""
    rng = np.random.default_rng(5)
    codes = [f"0x{rng.integers(0x10000000, 0xFFFFFFFF):08X}" for _ in range(150)]
    files = {f"ticket{i}.txt": f"Ticket {i}\n\n" + " ".join(rng.choice(SENTENCES, 4)) +
             f" Error code {code} appeared." for i, code in enumerate(codes)}
    searcher = _searcher_for(store, tmp_path, files, real_embedder)
    queries = [(f"error {codes[i]}", f"ticket{i}.txt") for i in range(0, 150, 3)]
    lexical = _mrr(searcher, queries, "lexical")
    hybrid = _mrr(searcher, queries, "hybrid")
    dense_mrr = _mrr(searcher, queries, "dense")
    assert lexical > 0.9 and dense_mrr < lexical
    assert hybrid >= lexical - 0.05, (lexical, hybrid, dense_mrr)


def test_unrelated_documents_are_not_listed(store, tmp_path, real_embedder):
    s = _searcher_for(store, tmp_path, {
        "git.md": "# Getting lost commits back\n\nUse git reflog to find a commit after a "
                  "bad reset.",
        "bread.txt": "Feed the sourdough starter twice a day with flour and water.",
        "run.md": "# Marathon plan\n\nFour easy runs a week and one long run.",
    }, real_embedder)
    assert _shown(s, "undo a git commit") == ["git.md"]
    everything = s.search("undo a git commit", floor=False)
    assert len(everything) == 3  # an evaluation can still ask for the full ranking


def _shown(s, query: str, mode: str = "hybrid") -> list[str]:
    """The file names the searcher shows for `query`, best first."""
    return [r.display_path.rsplit("/", 1)[1] for r in s.search(query, mode=mode)]


def test_the_floor_drops_one_weak_word_but_keeps_answers(store, tmp_path, real_embedder):
    """The GUI's own case: "long" alone must not bring in a marathon plan."""
    s = _searcher_for(store, tmp_path, {
        "bread.md": "# Sourdough\n\nLet the dough rise for four hours, then bake it hot.",
        "run.md": "# Marathon plan\n\nFour easy runs a week and one long run.",
        "coffee.md": "# Espresso\n\nA sour shot means under-extraction: grind finer.",
    }, real_embedder)
    assert _shown(s, "how long should the dough rise before baking") == ["bread.md"]
    assert len(s.search("how long should the dough rise before baking", floor=False)) == 3


PASTED = ('I would like articles on scheduling, e.g. what makes a "fair share" scheduler '
          '--i.e. one that divides the machine between users.')


def test_quoted_text_that_matches_nothing_is_relaxed_and_says_so(store, tmp_path,
                                                                 real_embedder):
    s = _searcher_for(store, tmp_path, {
        "sched.txt": "Schedulers that divide processor time between users equitably.",
        "paging.txt": "Page replacement algorithms for virtual memory.",
        "draft.txt": "A fair part of the budget went to new machines.",
    }, real_embedder)
    response = s.query(PASTED)
    assert response.results and response.relaxed
    assert '"fair share"' in response.relaxed
    assert response.results[0].display_path.endswith("sched.txt")
    assert s.query(PASTED, strict=True).results == []
    # A phrase that has matches stays strict.
    strict = s.query('"new machines" users')
    assert strict.relaxed is None
    assert [r.display_path.rsplit("/", 1)[1] for r in strict.results] == ["draft.txt"]


def test_exclusions_that_leave_nothing_are_dropped_last(store, tmp_path, real_embedder):
    s = _searcher_for(store, tmp_path, {"a.txt": "Quarterly revenue report draft.",
                                        "b.txt": "Revenue draft for the board."}, real_embedder)
    assert len(s.query("revenue -board").results) == 1  # strict while it finds something
    response = s.query("revenue -draft", mode="lexical")
    assert len(response.results) == 2 and "-draft" in response.relaxed
    assert s.query("revenue -draft", mode="lexical", strict=True).results == []


@pytest.mark.parametrize("query", ["x after:9999-12-31", "x before:0001-01-01",
                                   "caf\udce9 au lait", "-", '""', "ext:"])
def test_bad_queries_raise_query_errors_never_other_exceptions(store, query):
    s = Searcher(store, None)
    with contextlib.suppress(QueryError):  # anything else fails the test
        s.search(query, mode="lexical")


def test_frequent_terms_leave_the_keyword_side_when_over_budget(store):
    from engine.search import SearchSettings
    from engine.store import ChunkInput, FileRecord

    with store.write():
        for i in range(60):
            path = f"/r/{i}.txt".encode()
            fid = store.upsert_file(FileRecord(path, path.decode(), "txt", f"f{i}", 1, 1, None),
                                    "indexed")
            words = "common filler" + (" zebra" if i % 20 == 0 else "")
            store.replace_chunks(fid, "t", [ChunkInput(0, words, 0, len(words))])
    generous = Searcher(store, None)
    tight = Searcher(store, None, SearchSettings(scored_rows_budget=20))
    assert len(generous.search("common zebra", limit=100, mode="lexical")) == 60
    pruned = tight.search("common zebra", limit=100, mode="lexical")
    assert sorted(r.display_path for r in pruned) == ["/r/0.txt", "/r/20.txt", "/r/40.txt"]
    # The dropped word is still highlighted: the user typed it.
    snippet = pruned[0].snippet
    assert {snippet.text[a:b].lower() for a, b in snippet.spans} == {"common", "zebra"}
    counts = store.token_counts(["common", "zebra", "Zebras", "e-mail"])
    assert [min(c.values(), default=0) for c in counts] == [60, 3, 3, 0]


def _manual(tmp_path, store, extra=None):
    """A manual folder as Debian ships it: each page as HTML and as its .rst.txt."""
    from tests.helpers import manual_page_html, manual_page_rst

    files = {}
    for page in ("glob", "fnmatch"):
        files[f"library/{page}.html"] = manual_page_html(page)
        files[f"_sources/library/{page}.rst.txt"] = manual_page_rst(page)
    files.update(extra or {})
    return _searcher_for(store, tmp_path, files, RandomEmbedder())


def _name(path):
    return path.split("/docs/", 1)[1]


def test_a_page_and_its_source_come_back_as_one_result_with_one_copy(store, tmp_path):
    searcher = _manual(tmp_path, store)
    for mode in ("lexical", "hybrid"):
        results = searcher.search("recursive pattern directories", limit=10, mode=mode)
        glob = [r for r in results if "glob" in r.display_path]
        assert len(glob) == 1, [_name(r.display_path) for r in results]
        assert len(glob[0].copies) == 1
        assert sorted(_name(p) for p in (glob[0].display_path, glob[0].copies[0].display_path)) \
            == ["_sources/library/glob.rst.txt", "library/glob.html"]
        assert glob[0].copies[0].score <= glob[0].score


def test_two_pages_of_one_manual_stay_apart(store, tmp_path):
    searcher = _manual(tmp_path, store)
    results = searcher.search("pattern matching brackets literal", limit=10, mode="lexical")
    pages = {("glob" if "glob" in r.display_path else "fnmatch") for r in results}
    assert pages == {"glob", "fnmatch"}
    assert len(results) == 2 and all(len(r.copies) == 1 for r in results)


def test_copies_take_no_place_on_the_page(store, tmp_path):
    """Twelve texts, each in five files: a page of ten is ten different texts, though
    the first candidates (three per place on the page) hold only six."""
    rng = np.random.default_rng(7)
    files = {}
    for i in range(12):
        # Each text its own score, so its five copies rank side by side.
        text = f"doc{i} " + "needle " * (i + 1) + " ".join(rng.choice(VOCAB, 80))
        for folder in "abcde":
            files[f"{folder}/doc{i}.txt"] = text
    searcher = _searcher_for(store, tmp_path, files, RandomEmbedder())
    searcher.settings = SearchSettings(min_candidates=10)  # grouping must dig deeper
    results = searcher.search("needle", limit=10, mode="lexical")
    names = [r.display_path.rsplit("/", 1)[1] for r in results]
    assert len(results) == 10 and len(set(names)) == 10
    assert all({c.display_path.rsplit("/", 1)[1] for c in r.copies} ==
               {r.display_path.rsplit("/", 1)[1]} and len(r.copies) == 4 for r in results)




class _Handshake(RandomEmbedder):
    """A query's embedding and its keyword side each wait (at most ten seconds) for the
    other to begin: both find the other begun only if they run at the same time."""

    def __init__(self, fail: bool = False) -> None:
        import threading

        self.embedding_began = threading.Event()
        self.keywords_began = threading.Event()
        self.overlapped: list[bool] = []
        self.waiting = True
        self.fail = fail

    def embed_query(self, text: str) -> np.ndarray:
        self.embedding_began.set()
        if self.waiting:
            self.overlapped.append(self.keywords_began.wait(timeout=10))
            if self.fail:
                raise RuntimeError("the model broke")
        return super().embed_query(text)


def _handshaking(store, tmp_path, embedder):
    """A searcher whose keyword side takes part in the embedder's handshake."""
    searcher, _ = _build(store, tmp_path, embedder, n=40)
    embedder.waiting = False
    embedder.unrelated()  # its calibration embeds texts too: not part of the handshake
    embedder.waiting = True
    keyword_search = store.keyword_search

    def waiting(*args, **kwargs):
        embedder.keywords_began.set()
        if embedder.waiting:
            embedder.overlapped.append(embedder.embedding_began.wait(timeout=10))
        return keyword_search(*args, **kwargs)

    store.keyword_search = waiting
    return searcher


def test_a_hybrid_query_embeds_while_its_keyword_side_runs(store, tmp_path, monkeypatch):
    from concurrent.futures import Future

    import engine.search

    embedder = _Handshake()
    searcher = _handshaking(store, tmp_path, embedder)
    hybrid = searcher.search("w1 w2 w3", limit=8, floor=False)
    assert embedder.overlapped == [True, True]

    def inline(work):  # the semantic side first, then the keyword side, on one thread
        done = Future()
        done.set_result(work())
        return done

    monkeypatch.setattr(engine.search, "_in_background", inline)
    embedder.waiting = False
    searcher._query_vector = None
    one_after_the_other = searcher.search("w1 w2 w3", limit=8, floor=False)
    assert len(hybrid) == 8
    assert [(r.display_path, r.score, r.dense) for r in hybrid] == \
        [(r.display_path, r.score, r.dense) for r in one_after_the_other]


def test_a_failing_semantic_side_fails_the_query_with_its_own_error(store, tmp_path):
    embedder = _Handshake(fail=True)
    searcher = _handshaking(store, tmp_path, embedder)
    with pytest.raises(RuntimeError, match="the model broke"):
        searcher.search("w1 w2", limit=5)
    assert embedder.overlapped == [True, True]
