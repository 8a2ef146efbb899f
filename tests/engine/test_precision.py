"""The int8 graph and the per-machine choice between it and fp32."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine.precision as precision
from engine.embedder import OnnxEmbedder, default_model
from engine.errors import ModelError
from engine.precision import Measurement, PrecisionChoice, choose, model_with_precision


def _measured(*, fp32: float = 6500.0, int8: float = 13000.0, mean: float = 0.995,
              worst: float = 0.98) -> Measurement:
    return Measurement(fp32_tok_s=fp32, int8_tok_s=int8, mean_cosine=mean, min_cosine=worst,
                       texts=48, tokens=4500)


@pytest.fixture
def cache(tmp_path):
    """A cache folder holding a copy of the session's fp32 graph (so it is not rebuilt)."""
    built = default_model()
    folder = tmp_path / "models"
    folder.mkdir(mode=0o700)
    for path in (built.onnx_path, built.onnx_path.with_suffix(".json")):
        shutil.copy2(path, folder / path.name)
    return folder


class FakeMeasure:
    """Stands in for the self-benchmark: returns a set result, counts its calls."""

    def __init__(self, result: Measurement) -> None:
        self.result, self.calls = result, 0

    def __call__(self, fp32, int8, threads) -> Measurement:
        self.calls += 1
        return self.result


def test_int8_is_chosen_when_faster_and_faithful():
    assert choose(_measured())[0] == "int8"


@pytest.mark.parametrize("measured, why", [
    (_measured(int8=6000.0), "as fast"),  # slower than fp32
    (_measured(int8=7000.0), "as fast"),  # faster, but not by enough to be worth it
    (_measured(mean=0.985), "mean cosine"),
    (_measured(worst=0.90), "min cosine"),
])
def test_fp32_is_kept_when_int8_is_slow_or_unfaithful(measured, why):
    chosen, reason = choose(measured)
    assert chosen == "fp32" and why in reason


@given(st.floats(1.0, 1e5), st.floats(0.0, 1e5), st.floats(-1.0, 1.0), st.floats(-1.0, 1.0))
def test_int8_is_never_chosen_below_the_gate(fp32, int8, mean, worst):
    chosen, _ = choose(_measured(fp32=fp32, int8=int8, mean=mean, worst=worst))
    passes = (int8 / fp32 >= precision.MIN_SPEEDUP and mean >= precision.MIN_MEAN_COSINE
              and worst >= precision.MIN_WORST_COSINE)
    assert (chosen == "int8") == passes


def test_auto_on_a_machine_where_int8_is_slower_keeps_fp32_and_records_why(cache):
    slow = FakeMeasure(_measured(int8=5000.0))
    spec = model_with_precision("auto", threads=2, cache_dir=cache, measure=slow)
    assert spec.model_id == default_model(cache).model_id
    recorded = precision.recorded_choice(spec.onnx_path)
    assert recorded is not None and recorded.chosen == "fp32"
    assert recorded.measurement == slow.result
    assert "0.77x" in recorded.summary()
    model_with_precision("auto", threads=2, cache_dir=cache, measure=slow)
    assert slow.calls == 1  # decided once, then read back


def test_auto_where_int8_passes_uses_the_int8_graph_under_its_own_model_id(cache):
    spec = model_with_precision("auto", threads=2, cache_dir=cache,
                                measure=FakeMeasure(_measured()))
    fp32 = default_model(cache)
    assert spec.onnx_path == precision.int8_path(fp32.onnx_path)
    assert spec.model_id != fp32.model_id and "int8" in spec.model_id  # never mixed
    vectors = OnnxEmbedder(spec, threads=2).embed_passages(precision.sample_texts(8))
    reference = OnnxEmbedder(fp32, threads=2).embed_passages(precision.sample_texts(8))
    assert (vectors * reference).sum(axis=1).min() > 0.95


def test_a_choice_made_on_another_machine_is_made_again(cache, monkeypatch):
    first = FakeMeasure(_measured())
    model_with_precision("auto", threads=2, cache_dir=cache, measure=first)
    monkeypatch.setattr(precision, "machine_signature", lambda: "another cpu")
    again = FakeMeasure(_measured(int8=100.0))
    spec = model_with_precision("auto", threads=2, cache_dir=cache, measure=again)
    assert (first.calls, again.calls) == (1, 1)
    assert spec.model_id == default_model(cache).model_id


def test_the_int8_graph_is_deterministic_and_rebuilt_when_damaged(cache):
    fp32 = default_model(cache)
    built = precision.int8_model(fp32).onnx_path
    record = json.loads(built.with_suffix(".json").read_text())
    with built.open("r+b") as fh:  # damaged in place: same size, new mtime
        fh.seek(5000)
        fh.write(b"garbage")
    precision.int8_model(fp32)
    again = json.loads(built.with_suffix(".json").read_text())
    assert again["sha256"] == record["sha256"]  # the same bytes as the first build
    assert again["mtime_ns"] != record["mtime_ns"]


def test_int8_set_explicitly_is_used_even_where_auto_chose_fp32(cache):
    model_with_precision("auto", threads=2, cache_dir=cache,
                         measure=FakeMeasure(_measured(mean=0.9)))
    spec = model_with_precision("int8", cache_dir=cache)
    assert "int8" in spec.model_id


def test_a_failed_quantization_leaves_auto_on_fp32(cache, monkeypatch):
    def broken(fp32_path, out_path):
        raise ModelError("quantizer exploded")

    monkeypatch.setattr(precision, "quantize_graph", broken)
    spec = model_with_precision("auto", threads=2, cache_dir=cache,
                                measure=FakeMeasure(_measured()))
    assert spec.model_id == default_model(cache).model_id
    recorded = precision.recorded_choice(spec.onnx_path)
    assert recorded is not None and "quantizer exploded" in recorded.reason
    with pytest.raises(ModelError, match="quantizer exploded"):
        model_with_precision("int8", cache_dir=cache)


def test_an_unknown_precision_is_refused(cache):
    with pytest.raises(ModelError, match="auto, fp32, int8"):
        model_with_precision("fp16", cache_dir=cache)


def test_a_damaged_choice_record_is_ignored(cache):
    path = precision.choice_path(default_model(cache).onnx_path)
    path.write_text('{"chosen": "int8"')
    assert precision.recorded_choice(default_model(cache).onnx_path) is None
    assert PrecisionChoice.from_json({"chosen": "bf16"}) is None


def test_the_real_measurement_compares_the_same_texts():
    fp32 = OnnxEmbedder(default_model(), threads=1)
    measured = precision.measure(fp32, fp32, precision.sample_texts(6), rounds=1)
    assert measured.texts == 6 and measured.tokens == fp32.count_tokens(
        precision.sample_texts(6))
    assert np.isclose(measured.mean_cosine, 1.0, atol=1e-5)


def test_the_sample_text_is_fixed():
    assert precision.sample_texts() == precision.sample_texts()
    assert len(set(precision.sample_texts())) > 40
