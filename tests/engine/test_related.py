"""Related files: closest in meaning to a whole file, with the linking passage pair."""

from __future__ import annotations

import shutil

import pytest

from engine.dense import DenseIndex
from engine.query import parse_filters
from engine.related import RelatedError, related_files
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
