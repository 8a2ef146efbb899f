"""`deskfind bench` driven as a subprocess: the report's shape and sanity, never its speed."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def bench(*args: str) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "app.cli", "bench", *args],
                          capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # exactly one object on stdout


def _is_share(x: object) -> bool:
    return isinstance(x, float | int) and 0.0 <= x <= 1.0


def test_quick_vector_benchmark_reports_sane_figures():
    report = bench("--quick", "--json", "--only", "vectors")
    assert "embed" not in report and "query" not in report
    v = report["vectors"]
    assert v["n"] == 20_000
    assert _is_share(v["recall@10"]) and v["recall@10"] > 0.5
    assert set(v["filtered_recall@10"]) == {"1%", "10%"}
    assert all(_is_share(x) for x in v["filtered_recall@10"].values())
    assert v["bytes_per_vector"] > 0
    assert 0 < v["p50_ms"] <= v["p95_ms"]
    assert {r["path"] for r in v["runs"]} == {"exact", "hnsw"}
    for run in v["runs"]:
        assert run["build_s"] >= 0 and run["bytes_per_vector"] > 0
        for name in ("1%", "10%"):
            assert _is_share(run["filtered"][name]["recall@10"])


def test_bench_rejects_an_unknown_benchmark():
    proc = subprocess.run([sys.executable, "-m", "app.cli", "bench", "--only", "nope"],
                          capture_output=True, text=True, cwd=REPO, timeout=60)
    assert proc.returncode == 2 and "invalid choice" in proc.stderr


@pytest.mark.slow
def test_quick_embedding_benchmark_reports_every_variant():
    e = bench("--quick", "--json", "--only", "embed")["embed"]  # about a minute on 2 cores
    assert e["texts"] > 0 and e["tokens"] > 0
    for key in ("pipeline_tok_s", "fp32_tok_s", "int8_tok_s", "bare_tok_s", "naive_tok_s"):
        assert e[key] > 0, key
    assert e["precision"] == "fp32"  # the test suite pins auto's choice (conftest)
    assert e["pipeline_tok_s"] == e["fp32_tok_s"]
    assert 0.9 < e["int8_vs_fp32_mean_cosine"] <= 1.0 + 1e-6
    assert e["int8_vs_fp32_min_cosine"] <= e["int8_vs_fp32_mean_cosine"]
    assert "torch_tok_s" in e  # None unless torch and transformers are installed
    assert e["pipeline_vs_bare_ratio"] > 0 and e["pipeline_vs_naive_ratio"] > 0


def test_embedding_benchmark_scores_both_precisions_on_each_collection(tmp_path):
    from app.bench_embed import quality
    from engine.embedder import default_model
    from engine.precision import int8_model
    from tests.app.test_eval import FOUR_DOCS, _beir

    _beir(tmp_path / "tiny", FOUR_DOCS, ["molten rock erupting", "rivers of ice"],
          [(0, 0), (1, 2)])
    report = quality([tmp_path / "tiny"])
    row = report["tiny"]
    assert set(row) == {"fp32", "int8", "int8_minus_fp32", "int8_minus_fp32_se"}
    for precision in ("fp32", "int8"):  # each query's one answer is first, in both
        assert row[precision] == {"dense": 1.0, "hybrid": 1.0}
    assert row["int8_minus_fp32"] == {"dense": 0.0, "hybrid": 0.0}
    assert row["int8_minus_fp32_se"] == {"dense": 0.0, "hybrid": 0.0}  # no query differs
    assert int8_model(default_model()).onnx_path.is_file()  # int8 was really made and used


def test_query_benchmark_times_each_block_on_new_queries_and_states_the_page_cache(tmp_path):
    from app import bench_query

    blocks = bench_query.query_blocks(bench_query.vocabulary(bench_query.VOCABULARY), 30)
    assert list(blocks) == ["during_build", *bench_query.BLOCKS]
    assert len(blocks["during_build"]) == bench_query.DURING_BUILD
    assert all(len(blocks[name]) == 30 for name in bench_query.BLOCKS)
    texts = [t for block in blocks.values() for t in block]
    assert len(set(texts)) == len(texts)  # no query is timed twice

    report = bench_query.run(tmp_path, quick=True, n_chunks=3000)
    conditions = report["conditions"]
    assert 0 < conditions["preloaded_bytes"] <= report["database_bytes"]  # all but -shm
    assert set(report["modes"]) == {*bench_query.BLOCKS}
    for times in report["modes"].values():
        assert 0 < times["p50_ms"] <= times["p95_ms"]
    if sys.platform.startswith("linux"):
        assert _is_share(conditions["page_cache_resident_at_timing"])
        # The last block waits until the whole store is in the page cache.
        assert report["modes"]["hybrid_resident"]["page_cache_resident"] >= 0.99
