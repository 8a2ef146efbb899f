import json
import os
import shutil

import numpy as np
import pytest

from engine.embedder import OnnxEmbedder, default_model, model_from_dir
from engine.errors import ModelError
from engine.precision import resolve_model


def test_default_model_embeds_unit_vectors(real_embedder):
    v = real_embedder.embed_passages(["a cat on a mat", "stock prices fell"])
    assert v.shape == (2, 384) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)


def test_meaning_beats_word_overlap(real_embedder):
    docs = real_embedder.embed_passages([
        "The kitten is asleep on the rug.",
        "Quarterly earnings of the bank fell sharply.",
        "Dogs bark at the postman.",
    ])
    q = real_embedder.embed_query("a small feline resting")
    assert int(np.argmax(docs @ q)) == 0


def test_length_sorted_batches_give_the_same_vectors(real_embedder):
    texts = ["short", "a somewhat longer sentence about rivers and their deltas " * 3,
             "medium length text here", "x " * 300]
    together = real_embedder.embed_passages(texts)
    alone = np.vstack([real_embedder.embed_passages([t]) for t in texts])
    assert np.allclose(together, alone, atol=1e-4)


def test_empty_input_gives_no_rows(real_embedder):
    assert real_embedder.embed_passages([]).shape[0] == 0


def _model_dir(tmp_path):
    spec = default_model()
    d = tmp_path / "model"
    d.mkdir()
    shutil.copy(spec.onnx_path, d / "model.onnx")
    shutil.copy(spec.tokenizer_path, d / "tokenizer.json")
    return d


def test_a_model_directory_loads_with_its_config(tmp_path, real_embedder):
    d = _model_dir(tmp_path)
    (d / "deskfind-model.json").write_text(json.dumps(
        {"id": "mini-copy", "pooling": "mean", "max_length": 128, "query_prefix": "q: "}))
    spec = model_from_dir(d)
    assert (spec.model_id, spec.max_length, spec.query_prefix) == ("mini-copy", 128, "q: ")
    emb = OnnxEmbedder(spec, threads=1)
    same = emb.embed_passages(["rivers and deltas"])
    assert np.allclose(same, real_embedder.embed_passages(["rivers and deltas"]), atol=1e-4)
    assert resolve_model(str(d)).model_id == "mini-copy"


def test_incomplete_or_broken_model_dirs_are_refused(tmp_path):
    d = _model_dir(tmp_path)
    (d / "deskfind-model.json").write_text('{"pooling": "max"}')
    with pytest.raises(ModelError, match="unknown pooling"):
        model_from_dir(d)
    (d / "tokenizer.json").unlink()
    with pytest.raises(ModelError, match="no tokenizer.json"):
        model_from_dir(d)
    (d / "model.onnx").write_bytes(b"not a model")
    shutil.copy(default_model().tokenizer_path, d / "tokenizer.json")
    (d / "deskfind-model.json").unlink()
    with pytest.raises(ModelError, match="cannot load ONNX model"):
        OnnxEmbedder(model_from_dir(d))


def test_a_tampered_default_model_is_refused(monkeypatch, tmp_path):
    import engine.embedder as emb

    monkeypatch.setattr(emb, "DEFAULT_WEIGHTS", (emb.DEFAULT_WEIGHTS[0], "0" * 64))
    with pytest.raises(ModelError, match="pinned sha256"):
        emb.default_model(tmp_path / "cache")
    assert not list((tmp_path / "cache").glob("*.onnx"))


def test_the_built_graph_is_cached_and_rebuilt_when_damaged(tmp_path, real_embedder):
    import engine.embedder as emb

    spec = emb.default_model(tmp_path)
    built = spec.onnx_path.stat().st_mtime_ns
    assert emb.default_model(tmp_path).onnx_path.stat().st_mtime_ns == built  # reused
    with spec.onnx_path.open("r+b") as fh:  # damaged in place: same size, new mtime
        fh.seek(1000)
        fh.write(b"garbage")
    again = emb.default_model(tmp_path)
    vector = OnnxEmbedder(again, threads=1).embed_passages(["rivers and deltas"])
    assert np.allclose(vector, real_embedder.embed_passages(["rivers and deltas"]), atol=1e-5)


def test_a_missing_default_package_says_how_to_install(monkeypatch):
    import engine.embedder as emb

    monkeypatch.setattr(emb, "DEFAULT_PACKAGE", "no_such_package_xyz")
    with pytest.raises(ModelError, match="pip install"):
        emb.default_model()


def test_an_unwritable_cache_falls_back_to_a_private_temporary_folder(tmp_path, monkeypatch):
    import tempfile

    import engine.embedder as emb

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    spec = emb.default_model(blocker / "models")
    assert spec.onnx_path.parent == tmp_path / "tmp" / f"deskfind-{os.getuid()}-models"
    assert spec.onnx_path.is_file()
    assert (spec.onnx_path.parent.stat().st_mode & 0o777) == 0o700
