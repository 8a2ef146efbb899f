"""Grouping ranked items that hold the same text."""

from engine.copies import group_copies
from engine.fingerprint import fingerprint

TEXT_A = " ".join(f"alpha{i} beta{i % 5} gamma" for i in range(80))
TEXT_B = " ".join(f"delta{i} epsilon{i % 3} zeta" for i in range(80))
TEXT_C = " ".join(f"eta{i} theta{i % 4} iota" for i in range(80))


def _prints(**texts):
    return {k: fingerprint(v) for k, v in texts.items()}


def test_copies_join_the_best_ranked_item_of_their_text():
    prints = _prints(a1=TEXT_A, b=TEXT_B, a2=TEXT_A + " one more line", c=TEXT_C)
    groups = group_copies(["a1", "b", "a2", "c"], prints, lambda k: True, limit=10)
    assert groups == [("a1", ["a2"]), ("b", []), ("c", [])]


def test_copies_never_take_a_leaders_place_and_are_found_after_the_limit():
    prints = _prints(a1=TEXT_A, a2=TEXT_A, b=TEXT_B, b2=TEXT_B, c=TEXT_C)
    groups = group_copies(["a1", "a2", "b", "c", "b2"], prints, lambda k: True, limit=2)
    assert groups == [("a1", ["a2"]), ("b", ["b2"])]


def test_a_copy_needs_no_admission_but_a_leader_does():
    prints = _prints(a1=TEXT_A, a2=TEXT_A, b=TEXT_B)
    groups = group_copies(["a1", "a2", "b"], prints, lambda k: k != "a2" and k != "b",
                          limit=5)
    assert groups == [("a1", ["a2"])]


def test_items_without_a_fingerprint_are_never_grouped():
    prints = _prints(a1=TEXT_A)
    groups = group_copies(["a1", "x", "y"], prints, lambda k: True, limit=5)
    assert groups == [("a1", []), ("x", []), ("y", [])]


def test_many_leaders_grow_the_comparison_table():
    texts = {f"d{i}": " ".join(f"doc{i}x{j} word{j}" for j in range(40)) for i in range(30)}
    prints = _prints(**texts)
    prints["copy"] = prints["d29"]
    groups = group_copies([*texts, "copy"], prints, lambda k: True, limit=100)
    assert len(groups) == 30 and groups[-1] == ("d29", ["copy"])
