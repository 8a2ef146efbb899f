import json
import math

import pytest

from app.evaluate import mrr_at, naive_fusion, ndcg_at, paired_difference, recall_at
from tests.app.test_cli import deskfind


def test_metrics_match_hand_computed_values():
    rels = {"a": 1, "b": 1}
    assert ndcg_at(["a", "b", "c"], rels) == 1.0
    assert abs(ndcg_at(["c", "a"], rels) - (1 / 1.585) / (1 + 1 / 1.585)) < 1e-3
    assert recall_at(["x", "a"], rels, 100) == 0.5
    assert mrr_at(["x", "y", "b"], rels) == 1 / 3
    assert mrr_at(["x"], rels) == 0.0


def test_paired_difference_is_the_mean_change_per_query_and_its_standard_error():
    fp32 = [0.5, 0.2, 1.0, 0.0]
    int8 = [0.4, 0.3, 1.0, 0.0]  # one query lost 0.1, one gained 0.1, two unchanged
    mean, se = paired_difference(fp32, int8)
    assert mean == pytest.approx(0.0)
    assert se == pytest.approx(math.sqrt(0.02 / 3) / 2)  # sample sd over sqrt(n)
    mean, se = paired_difference([0.1, 0.2], [0.3, 0.4])  # the same gain on every query
    assert mean == pytest.approx(0.2) and se == pytest.approx(0.0)
    assert paired_difference([], []) == (0.0, 0.0)


def _beir(folder, docs, queries, qrels):
    (folder / "qrels").mkdir(parents=True)
    with open(folder / "corpus.jsonl", "w") as fh:
        for i, (title, text) in enumerate(docs):
            fh.write(json.dumps({"_id": f"d{i}", "title": title, "text": text}) + "\n")
    with open(folder / "queries.jsonl", "w") as fh:
        for i, q in enumerate(queries):
            fh.write(json.dumps({"_id": f"q{i}", "text": q}) + "\n")
    with open(folder / "qrels" / "test.tsv", "w") as fh:
        fh.write("query-id\tcorpus-id\tscore\n")
        for q, d in qrels:
            fh.write(f"q{q}\td{d}\t1\n")


# Four documents on unrelated topics; each query below has one answer among them.
FOUR_DOCS = [("Volcanoes", "Magma rises through the crust and erupts as lava."),
             ("Bread", "Yeast ferments sugar and the dough rises in the oven."),
             ("Glaciers", "Compacted snow turns to ice that flows slowly downhill."),
             ("Violins", "The bow makes the strings vibrate over the wooden body.")]


def test_eval_runs_the_real_pipeline_and_prints_one_json_object(tmp_path):
    queries = ["molten rock erupting", "how does dough rise", "rivers of ice"]
    _beir(tmp_path / "beir", FOUR_DOCS, queries, [(0, 0), (1, 1), (2, 2)])
    out = deskfind("eval", str(tmp_path / "beir"), "--json", data=tmp_path / "unused").stdout
    (report,) = json.loads(out)["collections"]
    assert (report["docs"], report["queries"]) == (4, 3)
    for mode in ("lexical", "dense", "hybrid"):
        assert set(report[mode]) == {"ndcg@10", "recall@100", "mrr@10"}
        assert report[mode]["recall@100"] == 1.0
    assert report["dense"]["mrr@10"] == 1.0 and report["hybrid"]["mrr@10"] == 1.0
    assert set(report["baselines"]) == {"cc_0.5", "cc_0.7", "rrf_60"}
    assert report["floor"]["hidden_relevant"] == 0.0  # the floor hides no answer here
    assert report["latency_ms"]["p95"] >= report["latency_ms"]["p50"] > 0
    assert not (tmp_path / "unused").exists()  # eval never touches the user's index


def test_naive_fusion_follows_its_definition():
    lexical = [("a", 10.0), ("b", 5.0)]
    dense = [("b", 0.9), ("c", 0.8)]
    # α 0.5: a = 0.5·1, b = 0.5·0.5 + 0.5·0.9, c = 0.5·0.8
    assert naive_fusion(lexical, dense, 0.5) == ["b", "a", "c"]
    assert naive_fusion(lexical, dense, None)[0] == "b"  # RRF: in both lists
