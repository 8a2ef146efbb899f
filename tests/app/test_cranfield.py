"""Relevance on the Cranfield collection, through the real CLI (about two minutes)."""

import json
from pathlib import Path

import pytest

from tests.app.test_cli import deskfind

CRANFIELD = Path(__file__).resolve().parents[3] / "shared" / "eval" / "cranfield"


@pytest.mark.slow
@pytest.mark.skipif(not CRANFIELD.is_dir(), reason="shared/eval/cranfield is not beside the repo")
def test_hybrid_beats_both_sides_and_naive_fusion_on_cranfield(tmp_path):
    out = deskfind("eval", str(CRANFIELD), "--json", data=tmp_path).stdout
    (report,) = json.loads(out)["collections"]
    assert (report["docs"], report["queries"]) == (1400, 225)
    hybrid = report["hybrid"]["ndcg@10"]
    assert hybrid >= 0.46
    assert hybrid >= report["lexical"]["ndcg@10"] and hybrid >= report["dense"]["ndcg@10"]
    for name, baseline in report["baselines"].items():
        assert hybrid >= baseline["ndcg@10"], name
    assert report["hybrid"]["recall@100"] >= report["lexical"]["recall@100"]
