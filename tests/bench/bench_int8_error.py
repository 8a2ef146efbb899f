"""Where the int8 graph's error comes from, and what splitting outlier channels buys.

    python tests/bench/bench_int8_error.py [--passages 300] [--percentile 99.5]

Measures, in one run on this machine, the cosine between the default model's fp32
vectors and the vectors of int8 variants of its graph (1 - mean cosine: the error):

- `int8`: the graph `engine.precision.quantize_graph` makes (what `auto` may choose);
- `weights only`: the fp32 graph with each weight rounded to int8 per output channel
  and back, so only the weights' rounding is left;
- one row per kind of quantized node (packed QKV, attention output, FFN in, FFN out)
  with only that kind quantized;
- `split s8` / `split u8`: outlier channel splitting (Zhao et al., ICML 2019): every
  input channel whose largest magnitude is above the given percentile of its tensor's
  channels is halved into as many copies as bring it under it, and the weight's row
  is repeated, so the fp32 result is unchanged and the tensor quantized at run time
  has a smaller range.  The largest magnitudes come from the 48 built-in passages
  `auto`'s check embeds, never from the text measured.  s8 and u8 are the weights'
  type: without VNNI, onnxruntime multiplies u8 activations by s8 weights with an
  instruction that saturates 16-bit sums, which repeated rows make more likely.

The measured text is the standard library's docstrings (one passage of up to 180
words each): plain technical English that is none of the eval collections.  Speeds
are real tokens/s of every graph on the same batches, in turns, best of three.
Numbers, not asserts; the JSON states the machine (VNNI or not).
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import logging
import random
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from onnx import ModelProto, NodeProto

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from engine.embedder import ModelSpec, OnnxEmbedder, default_model  # noqa: E402
from engine.precision import (  # noqa: E402
    QUANTIZED_OPS,
    machine_signature,
    quantize_graph,
    sample_texts,
)

_MODULES = ("argparse", "asyncio", "collections", "csv", "dataclasses", "datetime",
            "decimal", "email", "functools", "http.client", "inspect", "itertools",
            "json", "logging", "multiprocessing", "pathlib", "random", "socket",
            "sqlite3", "ssl", "statistics", "subprocess", "tarfile", "textwrap",
            "threading", "typing", "unittest", "urllib.request", "xml.etree.ElementTree",
            "zipfile")
# Node name endings of engine/bert_onnx.py's graph, per kind of quantized input.
_KINDS = {"qkv": "_attention_context", "attention out": "_attention_out",
          "ffn in": "_ffn_in", "ffn out": "_ffn_out"}


def docstring_passages(count: int) -> list[str]:
    """Up to `count` distinct public docstrings of 25+ words, cut at 180, fixed order."""
    found: list[str] = []
    for name in _MODULES:
        module = importlib.import_module(name)
        for member, obj in inspect.getmembers(module):
            doc = inspect.getdoc(obj)
            if doc and not member.startswith("_") and len(doc.split()) > 25:
                found.append(" ".join(doc.split()[:180]))
    passages = list(dict.fromkeys(found))
    random.Random(5).shuffle(passages)
    return passages[:count]


def quantized_inputs(model: ModelProto) -> list[tuple[NodeProto, str, str]]:
    """(node, activation input, weight initializer) of every node int8 quantizes."""
    return [(n, n.input[0], n.input[1]) for n in model.graph.node
            if n.op_type in QUANTIZED_OPS]


def channel_ranges(model: ModelProto, texts: list[str], spec: ModelSpec,
                   work: Path) -> dict[str, np.ndarray]:
    """Largest |x| per channel of every quantized node's input, over `texts`."""
    import onnx
    import onnxruntime

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    names = sorted({x for _, x, _ in quantized_inputs(model)})
    for name in names:
        probe.graph.output.append(
            onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, None))
    path = work / "probe.onnx"
    onnx.save(probe, str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    tokenizer = OnnxEmbedder(spec, threads=1).tokenizer
    ranges: dict[str, np.ndarray] = {}
    for text in texts:
        e = tokenizer.encode(text)
        feed = {key: np.array([values], dtype=np.int64) for key, values in
                (("input_ids", e.ids), ("attention_mask", e.attention_mask),
                 ("token_type_ids", e.type_ids))}
        for name, out in zip(names, session.run(names, feed), strict=True):
            peak = np.abs(out.reshape(-1, out.shape[-1])).max(axis=0)
            ranges[name] = np.maximum(ranges[name], peak) if name in ranges else peak
    return ranges


def split_outlier_channels(model: ModelProto, ranges: dict[str, np.ndarray],
                           percentile: float) -> tuple[ModelProto, int]:
    """The same function with outlier input channels split; (graph, channels added)."""
    import onnx
    from onnx import numpy_helper

    split = onnx.ModelProto()
    split.CopyFrom(model)
    weights = {t.name: t for t in split.graph.initializer}
    nodes = list(split.graph.node)
    del split.graph.node[:]
    added = 0
    for node in nodes:
        if node.op_type in QUANTIZED_OPS:
            x, w = node.input[0], node.input[1]
            peak = ranges[x]
            copies = np.maximum(1, np.ceil(peak / np.percentile(peak, percentile)))
            index = np.concatenate([np.arange(len(peak))] + [
                np.full(int(k) - 1, j) for j, k in enumerate(copies) if k > 1]).astype(np.int64)
            added += len(index) - len(peak)
            weights[w].CopyFrom(numpy_helper.from_array(
                numpy_helper.to_array(weights[w])[index].astype(np.float32), w))
            scale = numpy_helper.from_array((1 / copies).astype(np.float32),
                                            f"{node.name}_split_scale")
            gather = numpy_helper.from_array(index, f"{node.name}_split_index")
            split.graph.initializer.extend([scale, gather])
            scaled, out = f"{x}_scaled_for_{node.name}", f"{x}_split_for_{node.name}"
            split.graph.node.append(onnx.helper.make_node(
                "Mul", [x, scale.name], [scaled], name=f"{node.name}_split_mul"))
            split.graph.node.append(onnx.helper.make_node(
                "Gather", [scaled, gather.name], [out], name=f"{node.name}_split", axis=2))
            node.input[0] = out
        split.graph.node.append(node)
    return split, added


def weights_rounded(model: ModelProto) -> ModelProto:
    """The fp32 graph with its quantized nodes' weights rounded to int8 and back."""
    import onnx
    from onnx import numpy_helper

    rounded = onnx.ModelProto()
    rounded.CopyFrom(model)
    weights = {t.name: t for t in rounded.graph.initializer}
    for _, _, w in quantized_inputs(rounded):
        array = numpy_helper.to_array(weights[w])
        step = np.abs(array).max(axis=0) / 127
        weights[w].CopyFrom(numpy_helper.from_array(
            (np.round(array / step) * step).astype(np.float32), w))
    return rounded


def quantize(source: Path, out: Path, *, unsigned: bool = False,
             nodes: list[str] | None = None) -> None:
    """quantize_graph's settings, with a choice of weight type and of nodes."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    quantize_dynamic(source, out, per_channel=True, op_types_to_quantize=list(QUANTIZED_OPS),
                     weight_type=QuantType.QUInt8 if unsigned else QuantType.QInt8,
                     nodes_to_quantize=nodes,
                     extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})


def main() -> None:
    import onnx

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=300)
    parser.add_argument("--percentile", type=float, default=99.5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger().setLevel(logging.ERROR)  # the quantizer advises pre-processing
    fp32 = default_model(None)
    source = onnx.load(str(fp32.onnx_path))
    texts = docstring_passages(args.passages)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        graphs: dict[str, Path] = {"fp32": fp32.onnx_path, "int8": work / "int8.onnx"}
        quantize_graph(fp32.onnx_path, graphs["int8"])
        graphs["weights only"] = work / "weights.onnx"
        onnx.save(weights_rounded(source), str(graphs["weights only"]))
        for kind, ending in _KINDS.items():
            names = [n.name for n, _, _ in quantized_inputs(source)
                     if n.output[0].endswith(ending)]
            graphs[f"only {kind}"] = work / f"only-{len(graphs)}.onnx"
            quantize(fp32.onnx_path, graphs[f"only {kind}"], nodes=names)
        ranges = channel_ranges(source, sample_texts(), fp32, work)
        split, added = split_outlier_channels(source, ranges, args.percentile)
        onnx.save(split, str(work / "split.onnx"))
        for weight_type in ("s8", "u8"):
            graphs[f"split {weight_type}"] = work / f"split-{weight_type}.onnx"
            quantize(work / "split.onnx", graphs[f"split {weight_type}"],
                     unsigned=weight_type == "u8")
        embedders = {name: OnnxEmbedder(replace(fp32, onnx_path=path), threads=args.threads)
                     for name, path in graphs.items()}
        reference = embedders["fp32"].embed_passages(texts)
        rows: dict[str, dict[str, float]] = {}
        for name, embedder in embedders.items():
            cosines = (embedder.embed_passages(texts) * reference).sum(axis=1)
            rows[name] = {"error": round(1 - float(cosines.mean()), 5),
                          "min_cosine": round(float(cosines.min()), 5)}
        timed = ("fp32", "int8", "split s8", "split u8")
        best = dict.fromkeys(timed, float("inf"))
        for _ in range(3):
            for name in timed:
                started = time.perf_counter()
                embedders[name].embed_passages(texts)
                best[name] = min(best[name], time.perf_counter() - started)
        tokens = embedders["fp32"].count_tokens(texts)
        for name in timed:
            rows[name]["tok_s"] = round(tokens / best[name])
            rows[name]["x_fp32"] = round(best["fp32"] / best[name], 3)
    outliers = {x: round(float(r.max() / np.median(r)), 1) for x, r in sorted(ranges.items())}
    print(json.dumps({
        "machine": machine_signature(), "threads": args.threads,
        "passages": len(texts), "tokens": tokens,
        "split_percentile": args.percentile, "split_channels_added": added,
        "graphs": rows,
        "largest_over_median_channel": outliers,
        "conditions": "one process; errors against this run's fp32 vectors; speeds on the "
                      "same batches in turns, best of 3, after one untimed pass each",
    }, indent=1))


if __name__ == "__main__":
    main()
