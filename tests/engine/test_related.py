"""Related files: closest in meaning to a whole file, with the linking passage pair."""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

from engine.dense import DenseIndex
from engine.query import parse_filters
from engine.related import Related, RelatedError, related_files
from indexer.pipeline import Indexer, IndexReport
from tests.helpers import write_files

NOTES = {
    "bees.md": "# Bees in winter\n\nHoney bees do not hibernate. When it turns cold the "
               "colony forms a tight cluster around the queen, and the workers shiver their "
               "flight muscles to make heat, eating stored honey for energy. Beekeepers "
               "leave enough honey in the hive so the colony does not starve before spring.",
    "hive-cold.md": "# How a hive survives the cold months\n\nA honeybee colony stays awake "
                    "through the cold season: the insects huddle into a ball with their queen "
                    "at its centre and vibrate their wing muscles to warm it, burning the "
                    "honey they stored in summer. Keepers must not take too much honey, or "
                    "the bees run out of food before the flowers return.",
    "ants.md": "# Ant colonies\n\nAnts live in colonies with one or more queens. Workers "
               "forage for food, tend the larvae and defend the nest from intruders.",
    "bread.txt": "Sourdough bread needs a lively starter, a long cold rise in the fridge and "
                 "a very hot oven so the crust blisters and the crumb stays open.",
    "taxes.txt": "To file the annual tax return, gather your income statements, receipts for "
                 "deductible expenses and last year's assessment before the deadline.",
    "git.md": "# Undoing a commit\n\nUse git revert to undo a commit that was already pushed; "
              "git reset rewrites history and is only safe on a private branch.",
    "volcano.txt": "Volcanoes erupt when magma rises through the crust; ash clouds can ground "
                   "flights across a continent for days.",
}


@pytest.fixture
def indexed(store, tmp_path, real_embedder):
    root = tmp_path / "notes"
    write_files(root, NOTES)
    shutil.copy(root / "bees.md", root / "bees-copy.md")
    report = IndexReport()
    indexer = Indexer(store)
    indexer.scan([bytes(root)], report)
    indexer.embed_pending(real_embedder, report)
    dense = DenseIndex(store, real_embedder.model_id, real_embedder.dim, tmp_path / "v.hnsw")
    return store, dense, root


@pytest.mark.parametrize("method", ["mean", "best"])
def test_a_notes_paraphrased_sibling_ranks_first(indexed, method):
    store, dense, root = indexed
    found = related_files(store, dense, bytes(root / "bees.md"), method=method)
    names = [r.display_path.rsplit("/", 1)[1] for r in found]
    assert names[0] == "hive-cold.md"
    assert "bees.md" not in names and "bees-copy.md" not in names  # itself and its copy
    assert set(names) == set(NOTES) - {"bees.md"}
    top = found[0]
    assert "queen" in top.source_text and "queen" in top.target_text
    assert found == sorted(found, key=lambda r: -r.score)


def test_filters_apply_as_in_search(indexed):
    store, dense, root = indexed
    found = related_files(store, dense, bytes(root / "bees.md"),
                          filters=parse_filters("ext:txt"))
    assert {r.display_path.rsplit("/", 1)[1] for r in found} == {
        "bread.txt", "taxes.txt", "volcano.txt"}


def test_a_file_not_indexed_is_an_error(indexed):
    store, dense, root = indexed
    with pytest.raises(RelatedError, match="not indexed"):
        related_files(store, dense, bytes(root / "missing.md"))


def test_copies_of_one_related_file_are_listed_once(indexed):
    store, dense, root = indexed
    found = related_files(store, dense, bytes(root / "hive-cold.md"))
    names = [r.display_path.rsplit("/", 1)[1] for r in found]
    assert names[0] in ("bees.md", "bees-copy.md")
    assert len({"bees.md", "bees-copy.md"} & set(names)) == 1  # the same text, once


def test_a_related_file_crosses_the_service_channel_unchanged(indexed):
    store, dense, root = indexed
    found = related_files(store, dense, bytes(root / "bees.md"))
    rounded = [replace(r, score=round(r.score, 4), pair_cosine=round(r.pair_cosine, 4))
               for r in found]  # to_json rounds the cosines
    assert [Related.from_json(r.to_json()) for r in found] == rounded
    top = found[0]
    text = store.document_text(top.path)
    assert text is not None and top.target_text in text[slice(*top.target_span)]


def test_a_file_without_vectors_says_embedding_is_in_progress(store, tmp_path,
                                                              real_embedder):
    root = tmp_path / "notes"
    write_files(root, {"bees.md": NOTES["bees.md"], "ants.md": NOTES["ants.md"]})
    Indexer(store).scan([bytes(root)], IndexReport())  # phase 1 only
    dense = DenseIndex(store, real_embedder.model_id, real_embedder.dim, tmp_path / "v.hnsw")
    with pytest.raises(RelatedError, match="no vectors yet: embedding in progress"):
        related_files(store, dense, bytes(root / "bees.md"))
