"""The int8 variant of the default model's graph, and the per-machine choice of precision.

The int8 graph is the fused fp32 graph with the weights of its MatMul and Attention
nodes quantized by onnxruntime's `quantize_dynamic` (QInt8, per output channel: per
tensor moved MiniLM's vectors to a mean cosine of 0.935 against fp32, per channel
0.995).  It is built once, next to the fp32 graph, with the same sidecar and hash
check.  Whether `auto` uses it is decided when it is built: both graphs embed the same
built-in passages in turns, and int8 is chosen only if it is clearly faster and its
vectors agree with fp32's.  The decision and its numbers are kept beside the graph (a
`.choice.json`), so it is taken once per machine, not on every start.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np

from engine.embedder import (
    ModelSpec,
    OnnxEmbedder,
    build_cached,
    default_graph_path,
    default_model,
    is_built,
    model_from_dir,
    recorded_sha256,
    write_json,
)
from engine.errors import ModelError

log = logging.getLogger("deskfind.embedder")

PRECISIONS = ("auto", "fp32", "int8")
# Bump when the quantization step changes, so int8 graphs (and their choices) are remade.
QUANT_VERSION = 1
QUANTIZED_OPS = ("MatMul", "Attention")
# The gate int8 must pass for `auto` to choose it.  A small speed-up is not worth the
# small loss of agreement, and noise on a busy machine can fake one.
MIN_SPEEDUP = 1.15
MIN_MEAN_COSINE = 0.99
MIN_WORST_COSINE = 0.95
BENCH_ROUNDS = 5  # best of five: one busy moment on a shared machine must not decide


@dataclass(frozen=True)
class Measurement:
    """Both graphs on the same batches: speed in real tokens/s, agreement as cosines."""

    fp32_tok_s: float
    int8_tok_s: float
    mean_cosine: float
    min_cosine: float
    texts: int
    tokens: int


@dataclass(frozen=True)
class PrecisionChoice:
    """What `auto` chose on this machine, and the numbers it chose by."""

    chosen: str  # "fp32" or "int8"
    reason: str
    machine: str
    threads: int
    int8_sha256: str
    measurement: Measurement | None  # None when the int8 graph could not be made

    def to_json(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: object) -> PrecisionChoice | None:
        """The record read back; None for anything not written by `to_json`."""
        if not isinstance(raw, dict):
            return None
        try:
            measured = raw.get("measurement")
            measurement = Measurement(**measured) if isinstance(measured, dict) else None
            values = {f.name: raw[f.name] for f in fields(cls) if f.name != "measurement"}
            choice = cls(**values, measurement=measurement)
        except (KeyError, TypeError):
            return None
        return choice if choice.chosen in ("fp32", "int8") else None

    def summary(self) -> str:
        """One line for `deskfind status`."""
        m = self.measurement
        if m is None:
            return f"{self.chosen} ({self.reason})"
        return (f"{self.chosen} ({self.reason}; int8 {m.int8_tok_s / m.fp32_tok_s:.2f}x "
                f"fp32's {m.fp32_tok_s:,.0f} tokens/s, cosine to fp32 mean "
                f"{m.mean_cosine:.4f}, min {m.min_cosine:.4f}, {self.threads} threads)")


def choose(m: Measurement) -> tuple[str, str]:
    """(precision, why) for a measurement: int8 only when faster enough and faithful."""
    if m.mean_cosine < MIN_MEAN_COSINE:
        return "fp32", f"int8 mean cosine {m.mean_cosine:.4f} < {MIN_MEAN_COSINE}"
    if m.min_cosine < MIN_WORST_COSINE:
        return "fp32", f"int8 min cosine {m.min_cosine:.4f} < {MIN_WORST_COSINE}"
    speedup = m.int8_tok_s / m.fp32_tok_s if m.fp32_tok_s > 0 else 0.0
    if speedup < MIN_SPEEDUP:
        return "fp32", f"int8 only {speedup:.2f}x as fast (needs {MIN_SPEEDUP}x)"
    return "int8", "faster and faithful"


# --------------------------------------------------------------------------- sample text

_SENTENCES = (
    "The boundary layer thickens downstream until the flow separates from the wing.",
    "Heat transfer rates were measured on a flat plate at Mach numbers from two to six.",
    "Call the function with a timeout, and retry only when the error is transient.",
    "The tenant shall give the landlord thirty days' written notice before leaving.",
    "Whisk the eggs with sugar until pale, then fold in the flour a spoonful at a time.",
    "The committee postponed its vote after members asked for an independent audit.",
    "Mitochondria produce most of the chemical energy a cell needs to power itself.",
    "Index the folder once; afterwards only files that changed are read again.",
    "In 1848 revolutions spread across Europe, starting in Sicily and then Paris.",
    "The patient reported chest pain radiating to the left arm for two hours.",
    "A binary search halves the remaining interval at every step of the loop.",
    "Rainfall in the valley has fallen by a third since records began in 1901.",
    "Shock waves form ahead of the blunt body when the stream becomes supersonic.",
    "The quarterly report shows revenue up four percent and costs flat.",
    "Error 0x80070005 means access was denied while the installer wrote the file.",
    "She tuned the violin a quarter tone low, as the old manuscript required.",
    "Each passage keeps its page number and the character offsets of its text.",
    "The river delta shifted west after the dam upstream held back its sediment.",
    "Photosynthesis converts light into sugars in the chloroplasts of leaves.",
    "The proof proceeds by induction on the number of vertices of the graph.",
)
SAMPLE_PASSAGES = 48


def sample_texts(count: int = SAMPLE_PASSAGES) -> list[str]:
    """Fixed passages of 1 to 12 sentences (about 15 to 250 tokens), the same every run."""
    rng = np.random.default_rng(17)
    picks = [rng.choice(len(_SENTENCES), size=int(rng.integers(1, 13))) for _ in range(count)]
    return [" ".join(_SENTENCES[i] for i in pick) for pick in picks]


# --------------------------------------------------------------------------- measuring

def measure(fp32: OnnxEmbedder, int8: OnnxEmbedder, texts: Sequence[str],
            rounds: int = BENCH_ROUNDS) -> Measurement:
    """Both graphs on the same batches in turns, best round each (load from other work
    hits both alike), and the cosines between their vectors for each text."""
    fp32.embed_passages(texts[:8])  # warm the arenas and thread pools
    int8.embed_passages(texts[:8])
    best = {"fp32": float("inf"), "int8": float("inf")}
    vectors: dict[str, np.ndarray] = {}
    for _ in range(rounds):
        for name, embedder in (("fp32", fp32), ("int8", int8)):
            started = time.perf_counter()
            vectors[name] = embedder.embed_passages(texts)
            best[name] = min(best[name], time.perf_counter() - started)
    cosines = (vectors["fp32"] * vectors["int8"]).sum(axis=1)
    tokens = fp32.count_tokens(texts)
    return Measurement(fp32_tok_s=round(tokens / best["fp32"], 1),
                       int8_tok_s=round(tokens / best["int8"], 1),
                       mean_cosine=round(float(cosines.mean()), 5),
                       min_cosine=round(float(cosines.min()), 5),
                       texts=len(texts), tokens=tokens)


def measure_specs(fp32: ModelSpec, int8: ModelSpec, threads: int) -> Measurement:
    return measure(OnnxEmbedder(fp32, threads=threads), OnnxEmbedder(int8, threads=threads),
                   sample_texts())


def machine_signature() -> str:
    """What the choice depends on besides the graphs: CPU, its int8 instructions, the
    core count and the onnxruntime version (a cache folder may be shared by machines)."""
    import onnxruntime

    cpu, flags = platform.processor() or platform.machine(), set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="utf-8") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                cpu = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
                break
    vnni = ",".join(sorted(f for f in flags if "vnni" in f)) or "no-vnni"
    return f"{cpu}; {vnni}; {os.cpu_count()} cpus; onnxruntime {onnxruntime.__version__}"


# --------------------------------------------------------------------------- building

def int8_path(fp32_path: Path) -> Path:
    return fp32_path.with_name(f"{fp32_path.stem}-int8-q{QUANT_VERSION}.onnx")


def choice_path(fp32_path: Path) -> Path:
    return int8_path(fp32_path).with_suffix(".choice.json")


def quantize_graph(fp32_path: Path, out_path: Path) -> None:
    """Write the int8 graph of `fp32_path` atomically (the same bytes every time for the
    same input and onnxruntime)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    tmp = out_path.with_name(f".{out_path.name}.{os.getpid()}.tmp")
    try:
        with _quiet_root_logger():  # it advises pre-processing, which fused graphs skip
            quantize_dynamic(
                fp32_path, tmp, weight_type=QuantType.QInt8, per_channel=True,
                op_types_to_quantize=list(QUANTIZED_OPS),
                # Shape inference knows no contrib ops, so their outputs have no type.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT})
        os.replace(tmp, out_path)
    except Exception as exc:  # onnxruntime's quantizer raises plain RuntimeError & co
        raise ModelError(f"cannot quantize {fp32_path.name} to int8: {exc}") from exc
    finally:
        tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(level)


def int8_model(fp32: ModelSpec) -> ModelSpec:
    """The int8 variant of the default model, quantized on first use."""
    path = int8_path(fp32.onnx_path)
    if not is_built(path):
        log.info("quantizing %s to int8", fp32.onnx_path.name)
        build_cached(path, lambda out: quantize_graph(fp32.onnx_path, out),
                     str(fp32.onnx_path))
    return replace(fp32, model_id=_int8_id(fp32.model_id), onnx_path=path)


def _int8_id(fp32_id: str) -> str:
    base = fp32_id.replace("-fp32-", "-int8-") if "-fp32-" in fp32_id else f"{fp32_id}-int8"
    return f"{base}-q{QUANT_VERSION}"


Measure = Callable[[ModelSpec, ModelSpec, int], Measurement]


def recorded_choice(fp32_path: Path) -> PrecisionChoice | None:
    """The choice kept beside the int8 graph, if it still applies to that graph here.

    A choice without a measurement (the int8 graph could not be made) holds until the
    machine or onnxruntime changes, so a failing quantizer is not retried every start."""
    import json

    try:
        raw = json.loads(choice_path(fp32_path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    choice = PrecisionChoice.from_json(raw)
    if choice is None or choice.machine != machine_signature():
        return None
    if choice.measurement is not None and \
            choice.int8_sha256 != recorded_sha256(int8_path(fp32_path)):
        return None
    return choice


def decide(fp32: ModelSpec, threads: int, measure: Measure = measure_specs) -> PrecisionChoice:
    """Build the int8 graph, measure it against fp32 and record the choice."""
    with _build_lock(fp32.onnx_path):
        found = recorded_choice(fp32.onnx_path)  # another process may just have decided
        if found is not None and is_built(int8_path(fp32.onnx_path)):
            return found
        try:
            int8 = int8_model(fp32)
            measurement = measure(fp32, int8, threads)
        except ModelError as exc:
            log.warning("%s; embedding in fp32", exc)
            choice = PrecisionChoice("fp32", f"int8 unavailable: {exc}", machine_signature(),
                                     threads, "", None)
        else:
            chosen, reason = choose(measurement)
            choice = PrecisionChoice(chosen, reason, machine_signature(), threads,
                                     recorded_sha256(int8.onnx_path) or "", measurement)
        log.info("embedding precision: %s", choice.summary())
        write_json(choice_path(fp32.onnx_path), choice.to_json())
        return choice


@contextlib.contextmanager
def _build_lock(fp32_path: Path) -> Iterator[None]:
    """One process at a time quantizes and measures (two measuring at once would each
    see half the CPU, and might choose differently)."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the last writer's choice is kept
        yield
        return
    lock = fp32_path.with_name(f".{int8_path(fp32_path).name}.lock")
    with lock.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def model_with_precision(precision: str, *, threads: int = 0, cache_dir: Path | None = None,
                         measure: Measure = measure_specs) -> ModelSpec:
    """The default model in `precision`: fp32, int8, or whichever `auto` chose here."""
    if precision not in PRECISIONS:
        raise ModelError(f"unknown embedding precision '{precision}' "
                         f"(choose {', '.join(PRECISIONS)})")
    fp32 = default_model(cache_dir)
    threads = threads or min(4, os.cpu_count() or 1)  # as OnnxEmbedder counts them
    if precision == "fp32":
        return fp32
    if precision == "int8":
        choice = recorded_choice(fp32.onnx_path)
        if choice is not None and choice.chosen == "fp32" and choice.measurement:
            log.warning("embedding in int8 as set, though this machine's check chose fp32 "
                        "(%s)", choice.reason)
        return int8_model(fp32)
    choice = recorded_choice(fp32.onnx_path)
    if choice is None or (choice.chosen == "int8" and not is_built(int8_path(fp32.onnx_path))):
        choice = decide(fp32, threads, measure)
    return int8_model(fp32) if choice.chosen == "int8" else fp32


def index_precision(setting: str, shared: bool) -> str:
    """The precision to embed an index with.  `auto` is each machine's own check, so on
    an index many machines share (a team's PostgreSQL) machines with and without
    VNNI would choose differently: each indexer would drop the others' vectors as
    another model's and embed everything again, and a desktop whose choice differs
    from the indexers' would find no vectors of its model.  There `auto` is fp32, the
    same everywhere; set int8 on every machine to have it."""
    return "fp32" if setting == "auto" and shared else setting


def resolve_model(model_dir: str | None, precision: str = "fp32", threads: int = 0) -> ModelSpec:
    """The user's model directory as it is, else the default model in `precision`."""
    if model_dir:
        return model_from_dir(Path(model_dir).expanduser())
    return model_with_precision(precision, threads=threads)


def precision_status(precision: str, cache_dir: Path | None = None, *,
                     shared: bool = False) -> dict[str, object]:
    """What `precision` means on this machine now, for `deskfind status` (builds and
    measures nothing): {"setting", "precision" (None: not decided yet), "choice", "line"}.
    `shared`: the index is a team's (see index_precision)."""
    if index_precision(precision, shared) != precision:
        return {"setting": precision, "precision": index_precision(precision, shared),
                "choice": None,
                "line": "all-MiniLM-L6-v2 fp32 (auto on a shared index: the same on every "
                        "machine; set int8 on all of them to have it)"}
    choice = recorded_choice(default_graph_path(cache_dir))
    recorded = choice.to_json() if choice else None
    if precision in ("fp32", "int8"):
        line = f"all-MiniLM-L6-v2 {precision} (as set)"
        if choice is not None:
            line += f"; this machine's check chose {choice.summary()}"
        return {"setting": precision, "precision": precision, "choice": recorded,
                "line": line}
    if choice is None:
        return {"setting": precision, "precision": None, "choice": None,
                "line": "all-MiniLM-L6-v2, auto: fp32 or int8 is chosen when the model "
                        "is first used"}
    return {"setting": precision, "precision": choice.chosen, "choice": recorded,
            "line": f"all-MiniLM-L6-v2, auto: {choice.summary()}"}
