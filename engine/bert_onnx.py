"""Build a fused fp32 ONNX graph of a BERT sentence encoder from its safetensors checkpoint.

The graph is written with onnxruntime's contrib operators (domain "com.microsoft"):
EmbedLayerNormalization, Attention (packed QKV), SkipLayerNormalization and BiasGelu.
Those run as single fused CPU kernels, which a plain exported graph only gets if
onnxruntime's optimiser happens to recognise the pattern.  No PyTorch or transformers
is needed: the weights are read straight from the safetensors file with numpy.

The graph has the same interface as the bundled int8 model (int64 `input_ids`,
`attention_mask`, `token_type_ids`; float32 `last_hidden_state`), so `OnnxEmbedder`
loads it unchanged.  Padding must be on the right, as `OnnxEmbedder` pads: the
attention mask is reduced to one valid length per row.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from engine.errors import ModelError

if TYPE_CHECKING:
    import onnx

MS_DOMAIN = "com.microsoft"
# Opset 17 with IR version 8 loads in every onnxruntime the project allows (>= 1.17).
ONNX_OPSET = 17
ONNX_IR_VERSION = 8
# protobuf refuses messages over 2 GiB; bigger models would need external data files.
MAX_INLINE_BYTES = 2**31 - 2**26

_SAFETENSORS_DTYPES: dict[str, str] = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1", "U8": "u1", "BOOL": "?",
}
_MAX_HEADER_BYTES = 100 * 2**20
_WORD_EMBEDDINGS = "embeddings.word_embeddings.weight"
# hidden_act -> the contrib op computing gelu(x + bias): BiasGelu is the exact erf form,
# FastGelu the tanh approximation that "gelu_new" and "gelu_pytorch_tanh" name.
_ACTIVATIONS = {"gelu": "BiasGelu", "gelu_new": "FastGelu", "gelu_pytorch_tanh": "FastGelu"}


# --------------------------------------------------------------------------- safetensors

def read_safetensors(path: Path) -> dict[str, np.ndarray]:
    """Tensors of a safetensors file; float types come back as float32.

    float32 tensors are read-only views of a memory map, so a large checkpoint is
    not copied until something actually uses it.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size < 8:
            raise ModelError(f"{path} is not a safetensors file (only {size} bytes)")
        with path.open("rb") as fh:
            (header_len,) = struct.unpack("<Q", fh.read(8))
            if header_len > min(_MAX_HEADER_BYTES, size - 8):
                raise ModelError(f"{path} is not a safetensors file "
                                 f"(header length {header_len} exceeds the file)")
            raw_header = fh.read(header_len)
        data = np.memmap(path, dtype=np.uint8, mode="r")
    except OSError as exc:
        raise ModelError(f"cannot read {path}: {exc}") from exc
    try:
        header = json.loads(raw_header.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ModelError(f"{path} has a damaged safetensors header: {exc}") from exc
    if not isinstance(header, dict):
        raise ModelError(f"{path} has a damaged safetensors header: not a JSON object")
    start = 8 + header_len
    return {name: _tensor_from_entry(path, name, entry, data, start)
            for name, entry in header.items() if name != "__metadata__"}


def _tensor_from_entry(path: Path, name: str, entry: Any, data: np.ndarray,
                       start: int) -> np.ndarray:
    try:
        dtype = np.dtype(_SAFETENSORS_DTYPES[entry["dtype"]])
        shape = tuple(int(d) for d in entry["shape"])
        begin, end = (int(o) for o in entry["data_offsets"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: tensor '{name}' has a bad header entry {entry!r}") from exc
    count = math.prod(shape)
    if min(shape, default=0) < 0 or not 0 <= begin <= end or start + end > data.size \
            or end - begin != count * dtype.itemsize:
        raise ModelError(f"{path}: tensor '{name}' lies outside the file or does not "
                         f"match its shape {list(shape)} (file truncated or damaged?)")
    array = data[start + begin:start + end].view(dtype).reshape(shape)
    if entry["dtype"] == "BF16":  # bfloat16 is the top half of a float32
        return (array.astype(np.uint32) << 16).view(np.float32)
    # asarray drops the memmap subclass, which callers have no use for.
    return np.asarray(array.astype(np.float32, copy=False) if dtype.kind == "f" else array)


# --------------------------------------------------------------------------- config

@dataclass(frozen=True)
class BertConfig:
    """The parts of a Hugging Face BERT config.json that shape the graph."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    hidden_act: str = "gelu"
    layer_norm_eps: float = 1e-12

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BertConfig:
        """Validate a parsed config.json, refusing variants the graph would get wrong."""
        if raw.get("model_type") != "bert":
            raise ModelError(f"model_type '{raw.get('model_type')}' is not supported "
                             "(only 'bert')")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ModelError(f"position_embedding_type '{raw['position_embedding_type']}' "
                             "is not supported (only 'absolute')")
        act = raw.get("hidden_act", "gelu")
        if act not in _ACTIVATIONS:
            raise ModelError(f"hidden_act '{act}' is not supported "
                             f"(only {', '.join(_ACTIVATIONS)})")
        try:
            config = cls(
                vocab_size=int(raw["vocab_size"]), hidden_size=int(raw["hidden_size"]),
                num_hidden_layers=int(raw["num_hidden_layers"]),
                num_attention_heads=int(raw["num_attention_heads"]),
                intermediate_size=int(raw["intermediate_size"]),
                max_position_embeddings=int(raw["max_position_embeddings"]),
                type_vocab_size=int(raw.get("type_vocab_size", 2)), hidden_act=str(act),
                layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(f"BERT config is missing or has a bad value: {exc}") from exc
        sizes = (config.vocab_size, config.hidden_size, config.num_hidden_layers,
                 config.num_attention_heads, config.intermediate_size,
                 config.max_position_embeddings, config.type_vocab_size)
        if min(sizes) < 1:
            raise ModelError(f"BERT config has a size below 1: {sizes}")
        if config.hidden_size % config.num_attention_heads:
            raise ModelError(f"hidden_size {config.hidden_size} is not a multiple of "
                             f"num_attention_heads {config.num_attention_heads}")
        return config

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        try:
            raw = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {path}: {exc}") from exc
        if not isinstance(raw, dict):
            raise ModelError(f"{path} is not a JSON object")
        return cls.from_dict(raw)

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_attention_heads


class _Weights:
    """Checkpoint tensors by their name inside the BERT encoder, shape-checked.

    Checkpoints saved from a task model prefix every name ("bert.", sometimes
    others); the prefix is whatever precedes the word embeddings' name.
    """

    def __init__(self, tensors: Mapping[str, np.ndarray]) -> None:
        anchors = [k for k in tensors if k.endswith(_WORD_EMBEDDINGS)]
        if len(anchors) != 1:
            raise ModelError(f"checkpoint has {len(anchors)} tensors named "
                             f"'*{_WORD_EMBEDDINGS}', expected exactly one")
        self.prefix = anchors[0][: -len(_WORD_EMBEDDINGS)]
        self.tensors = tensors

    def get(self, name: str, *shape: int) -> np.ndarray:
        full = self.prefix + name
        if full not in self.tensors:
            raise ModelError(f"checkpoint has no tensor '{full}'")
        array = self.tensors[full]
        if array.shape != shape or array.dtype.kind != "f":
            raise ModelError(f"tensor '{full}' is {array.dtype}{list(array.shape)}, "
                             f"expected float{list(shape)}")
        return np.asarray(array, dtype=np.float32)

    def linear(self, name: str, n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray]:
        """A torch Linear as (weight transposed to [in, out] for x @ W, bias)."""
        return self.get(f"{name}.weight", n_out, n_in).T, self.get(f"{name}.bias", n_out)

    def layer_norm(self, name: str, size: int) -> tuple[np.ndarray, np.ndarray]:
        return self.get(f"{name}.weight", size), self.get(f"{name}.bias", size)


# --------------------------------------------------------------------------- graph

class _GraphBuilder:
    """Collects nodes and initializers, naming every value after the node making it."""

    def __init__(self) -> None:
        import onnx

        self.onnx = onnx
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self.inline_bytes = 0

    def const(self, name: str, array: np.ndarray) -> str:
        contiguous = np.ascontiguousarray(array, dtype=np.float32)
        self.inline_bytes += contiguous.nbytes
        self.initializers.append(self.onnx.numpy_helper.from_array(contiguous, name))
        return name

    def node(self, op: str, inputs: list[str], name: str, *, n_outputs: int = 1,
             domain: str = "", **attrs: Any) -> list[str]:
        outputs = [name] if n_outputs == 1 else [f"{name}:{i}" for i in range(n_outputs)]
        self.nodes.append(self.onnx.helper.make_node(
            op, inputs, outputs, name=name, domain=domain or None, **attrs))
        return outputs


def _embeddings(g: _GraphBuilder, w: _Weights, c: BertConfig) -> tuple[str, str]:
    """Word + position + token-type lookup and LayerNorm as one EmbedLayerNormalization.

    Its second output is the per-row count of mask ones, the "mask_index" format the
    Attention kernel takes for right-padded batches.
    """
    int32 = g.onnx.TensorProto.INT32
    ids, types, mask = (g.node("Cast", [name], f"{name}_int32", to=int32)[0]
                        for name in ("input_ids", "token_type_ids", "attention_mask"))
    gamma, beta = w.layer_norm("embeddings.LayerNorm", c.hidden_size)
    hidden, mask_index = g.node(
        "EmbedLayerNormalization",
        [ids, types,
         g.const("word_embeddings", w.get(_WORD_EMBEDDINGS, c.vocab_size, c.hidden_size)),
         g.const("position_embeddings", w.get("embeddings.position_embeddings.weight",
                                              c.max_position_embeddings, c.hidden_size)),
         g.const("token_type_embeddings", w.get("embeddings.token_type_embeddings.weight",
                                                c.type_vocab_size, c.hidden_size)),
         g.const("embeddings_ln_gamma", gamma), g.const("embeddings_ln_beta", beta), mask],
        "embeddings", n_outputs=2, domain=MS_DOMAIN, epsilon=c.layer_norm_eps)
    return hidden, mask_index


def _attention_block(g: _GraphBuilder, w: _Weights, c: BertConfig, i: int,
                     hidden: str, mask_index: str) -> str:
    """Self-attention with packed QKV, then output projection + residual + LayerNorm."""
    h, src, tag = c.hidden_size, f"encoder.layer.{i}.attention", f"layer{i}_attention"
    q, k, v = (w.linear(f"{src}.self.{part}", h, h) for part in ("query", "key", "value"))
    context = g.node(
        "Attention",
        [hidden, g.const(f"{tag}_qkv_weight", np.concatenate([q[0], k[0], v[0]], axis=1)),
         g.const(f"{tag}_qkv_bias", np.concatenate([q[1], k[1], v[1]])), mask_index],
        f"{tag}_context", domain=MS_DOMAIN, num_heads=c.num_attention_heads)[0]
    out_w, out_b = w.linear(f"{src}.output.dense", h, h)
    projected = g.node("MatMul", [context, g.const(f"{tag}_out_weight", out_w)],
                       f"{tag}_out")[0]
    return _skip_layer_norm(g, w, c, projected, hidden, out_b,
                            f"{src}.output.LayerNorm", f"{tag}_ln")


def _ffn_block(g: _GraphBuilder, w: _Weights, c: BertConfig, i: int, hidden: str,
               out_name: str) -> str:
    """Intermediate projection + bias + gelu, output projection + residual + LayerNorm."""
    src, tag = f"encoder.layer.{i}", f"layer{i}_ffn"
    in_w, in_b = w.linear(f"{src}.intermediate.dense", c.intermediate_size, c.hidden_size)
    up = g.node("MatMul", [hidden, g.const(f"{tag}_in_weight", in_w)], f"{tag}_in")[0]
    activated = g.node(_ACTIVATIONS[c.hidden_act], [up, g.const(f"{tag}_in_bias", in_b)],
                       f"{tag}_gelu", domain=MS_DOMAIN)[0]
    out_w, out_b = w.linear(f"{src}.output.dense", c.hidden_size, c.intermediate_size)
    down = g.node("MatMul", [activated, g.const(f"{tag}_out_weight", out_w)],
                  f"{tag}_out")[0]
    return _skip_layer_norm(g, w, c, down, hidden, out_b, f"{src}.output.LayerNorm",
                            out_name)


def _skip_layer_norm(g: _GraphBuilder, w: _Weights, c: BertConfig, x: str, skip: str,
                     bias: np.ndarray, ln_name: str, tag: str) -> str:
    """LayerNorm(x + bias + skip): the projection's bias is folded into the fused op."""
    gamma, beta = w.layer_norm(ln_name, c.hidden_size)
    return g.node("SkipLayerNormalization",
                  [x, skip, g.const(f"{tag}_gamma", gamma), g.const(f"{tag}_beta", beta),
                   g.const(f"{tag}_bias", bias)],
                  tag, domain=MS_DOMAIN, epsilon=c.layer_norm_eps)[0]


def bert_onnx_model(tensors: Mapping[str, np.ndarray], config: BertConfig) -> onnx.ModelProto:
    """The fused graph for these weights, in memory."""
    try:
        import onnx
    except ImportError as exc:
        raise ModelError("building an ONNX graph needs the 'onnx' package; "
                         "install it with: pip install onnx") from exc
    g, w = _GraphBuilder(), _Weights(tensors)
    hidden, mask_index = _embeddings(g, w, config)
    last = config.num_hidden_layers - 1
    for i in range(config.num_hidden_layers):
        hidden = _attention_block(g, w, config, i, hidden, mask_index)
        out_name = "last_hidden_state" if i == last else f"layer{i}_ffn_ln"
        hidden = _ffn_block(g, w, config, i, hidden, out_name)
    if g.inline_bytes > MAX_INLINE_BYTES:
        raise ModelError(f"model weights ({g.inline_bytes / 2**30:.1f} GiB) are too large "
                         "for a single-file ONNX graph")
    int64, float32 = onnx.TensorProto.INT64, onnx.TensorProto.FLOAT
    inputs = [onnx.helper.make_tensor_value_info(name, int64, ["batch", "sequence"])
              for name in ("input_ids", "attention_mask", "token_type_ids")]
    output = onnx.helper.make_tensor_value_info(
        "last_hidden_state", float32, ["batch", "sequence", config.hidden_size])
    graph = onnx.helper.make_graph(g.nodes, "bert_fused", inputs, [output], g.initializers)
    model = onnx.helper.make_model(
        graph, producer_name="deskfind.bert_onnx", ir_version=ONNX_IR_VERSION,
        opset_imports=[onnx.helper.make_opsetid("", ONNX_OPSET),
                       onnx.helper.make_opsetid(MS_DOMAIN, 1)])
    onnx.checker.check_model(model)
    return model


def build_bert_onnx(checkpoint_dir: Path, out_path: Path) -> None:
    """Write the fused graph of checkpoint_dir (config.json + model.safetensors) atomically.

    A reader never sees a half-written model: the graph goes to a temporary file in
    the same directory, which then replaces out_path.
    """
    checkpoint_dir, out_path = Path(checkpoint_dir), Path(out_path)
    config = BertConfig.from_file(checkpoint_dir / "config.json")
    model = bert_onnx_model(read_safetensors(checkpoint_dir / "model.safetensors"), config)
    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        with tmp.open("wb") as fh:
            fh.write(model.SerializeToString())
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, out_path)
    except OSError as exc:
        raise ModelError(f"cannot write {out_path}: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- reference

def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7); numpy has no erf."""
    t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741
                                                       + t * (-1.453152027 + t * 1.061405429))))
    return np.sign(x) * (1.0 - poly * np.exp(-x * x))


def _gelu(x: np.ndarray, act: str) -> np.ndarray:
    if act == "gelu":
        return 0.5 * x * (1.0 + _erf(x / math.sqrt(2.0)))
    return 0.5 * x * (1.0 + np.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x**3)))


def _layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def reference_forward(weights: Mapping[str, np.ndarray], config: BertConfig,
                      input_ids: np.ndarray, attention_mask: np.ndarray,
                      token_type_ids: np.ndarray) -> np.ndarray:
    """BERT's last hidden state in plain float64 numpy, to check the fused graph against.

    Deliberately written from the checkpoint's own layout (separate Q, K, V; torch
    [out, in] weights), sharing nothing with the graph builder but the name prefix,
    so a layout mistake in one does not hide in the other.
    """
    w = _Weights(weights)

    def p(name: str) -> np.ndarray:
        return np.asarray(weights[w.prefix + name], dtype=np.float64)

    def linear(x: np.ndarray, name: str) -> np.ndarray:
        return x @ p(f"{name}.weight").T + p(f"{name}.bias")

    def norm(x: np.ndarray, name: str) -> np.ndarray:
        return _layer_norm(x, p(f"{name}.weight"), p(f"{name}.bias"), config.layer_norm_eps)

    def lookup(name: str, rows: np.ndarray) -> np.ndarray:  # rows first: tables are big
        return np.asarray(weights[w.prefix + name][rows], dtype=np.float64)

    batch, seq = input_ids.shape
    x = (lookup(_WORD_EMBEDDINGS, input_ids)
         + lookup("embeddings.position_embeddings.weight", np.arange(seq))
         + lookup("embeddings.token_type_embeddings.weight", token_type_ids))
    x = norm(x, "embeddings.LayerNorm")
    heads, size = config.num_attention_heads, config.head_size
    blocked = np.where(attention_mask[:, None, None, :] > 0, 0.0, -1e9)

    def split(t: np.ndarray) -> np.ndarray:  # [b, s, h*d] -> [b, h, s, d]
        return t.reshape(batch, seq, heads, size).transpose(0, 2, 1, 3)

    for i in range(config.num_hidden_layers):
        a = f"encoder.layer.{i}.attention"
        q, k, v = (split(linear(x, f"{a}.self.{n}")) for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(size) + blocked
        probs = np.exp(scores - scores.max(axis=-1, keepdims=True))
        probs /= probs.sum(axis=-1, keepdims=True)
        context = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, heads * size)
        x = norm(linear(context, f"{a}.output.dense") + x, f"{a}.output.LayerNorm")
        f = f"encoder.layer.{i}"
        up = _gelu(linear(x, f"{f}.intermediate.dense"), config.hidden_act)
        x = norm(linear(up, f"{f}.output.dense") + x, f"{f}.output.LayerNorm")
    return x
