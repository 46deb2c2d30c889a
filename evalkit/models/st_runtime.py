"""Exported encoder graphs for sentence-transformers models: ONNX Runtime and OpenVINO on CPU.

``--model-args backend=...`` of ``st:`` (and ``minilm``) picks what runs the
transformer's forward pass; tokenization, length-sorted batching with dynamic
padding (sentence-transformers' ``encode`` sorts each call's texts by length and
pads every batch to its longest text), pooling and normalization stay
sentence-transformers' own, so only the forward pass changes.

- ``torch``: the model as sentence-transformers loads it.
- ``onnx``: an fp32 ONNX graph in ONNX Runtime; ``onnx_opt`` picks ORT's graph
  optimization level (``basic``, ``extended``, ``all``) or ``fused`` (an
  eager-attention export run through onnxruntime's BERT fusions, then ``all``).
- ``openvino``: the fp32 ONNX graph compiled by OpenVINO with the f32 precision
  hint (on CPUs with AMX, OpenVINO's default would compute in bfloat16).
- ``onnx-int8``: dynamic int8 quantization of the fp32 graph: faster, not exact;
  only when asked for by name.

sentence-transformers' own ``backend="onnx"`` needs optimum-onnx, which pins
transformers < 4.58 (this stack runs transformers 5), so the graph is exported
here with ``torch.onnx.export``. Graphs are written once into
``cache_dir()/models``, keyed by the source model's content hash and every export
setting, into a temporary folder renamed into place: a killed export or two
processes exporting at once never leave a half graph where a load looks.
"""
from __future__ import annotations

import hashlib
import importlib.metadata as md
import json
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from evalkit.core.errors import ConfigError, missing_dependency
from evalkit.core.hashing import file_sha256
from evalkit.core.paths import cache_dir

log = logging.getLogger(__name__)

EXACT = ("torch", "onnx", "openvino")  # fp32: metrics within 1e-4 of torch (tests/test_st_runtime.py)
QUANTIZED = ("onnx-int8",)
BACKENDS = EXACT + QUANTIZED
ONNX_OPTS = ("basic", "extended", "all", "fused")
# torch stays the default: on the 2-core Sapphire Rapids bench machine no exact graph encoded SciFact
# faster (onnx fused tied, openvino ~7% slower; bench/README.md), so none is worth an extra default dependency.
DEFAULT = "torch"
DEFAULT_ONNX_OPT = "fused"  # the fastest ORT variant measured (BERT fusions, then ORT_ENABLE_ALL)
OPSET = 17
EXPORT_FORMAT = 2  # bump when the export code changes what it writes
MANIFEST = "export.json"  # written last inside the temporary folder: its presence marks a whole export
INPUTS = ("input_ids", "attention_mask", "token_type_ids")
_NEEDS = {"onnx": ("onnxruntime", "onnx"), "onnx-int8": ("onnxruntime", "onnx"), "openvino": ("openvino", "onnx")}


def check_backend(backend: str, onnx_opt: str | None) -> None:
    if backend not in BACKENDS:
        raise ConfigError(f"st: unknown backend '{backend}' (known: {', '.join(BACKENDS)}; "
                          "onnx-int8 is quantized, the others are fp32)")
    if onnx_opt is not None and onnx_opt not in ONNX_OPTS:
        raise ConfigError(f"st: unknown onnx_opt '{onnx_opt}' (known: {', '.join(ONNX_OPTS)})")
    if onnx_opt is not None and backend not in ("onnx", "onnx-int8"):
        raise ConfigError(f"st: onnx_opt applies to backend=onnx, not backend={backend}")
    if onnx_opt == "fused" and backend != "onnx":
        raise ConfigError("st: onnx_opt=fused is for backend=onnx (onnx-int8 takes basic, extended or all)")


def missing_for(backend: str) -> str | None:
    """The first package ``backend`` needs that is not installed, or None."""
    import importlib.util

    for mod in _NEEDS.get(backend, ()):
        try:
            if importlib.util.find_spec(mod) is None:
                return mod
        except ModuleNotFoundError:  # an import hook that hides it
            return mod
    return None


def default_backend() -> str:
    """``DEFAULT`` when its packages are installed, else torch (with a note in the log)."""
    missing = missing_for(DEFAULT)
    if missing is not None:
        log.warning("st: encoding with backend=torch: the default backend=%s needs the package '%s' "
                    "(pip install 'evalkit[retrieval-runtimes]')", DEFAULT, missing)
        return "torch"
    return DEFAULT


def require(backend: str) -> None:
    """A backend whose packages are missing is one ``error:`` line saying how to install them."""
    mod = missing_for(backend)
    if mod is not None:
        raise missing_dependency(ModuleNotFoundError(name=mod), f"st: backend={backend}")


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None


def export_settings(backend: str, onnx_opt: str) -> dict[str, Any]:
    """Everything that can change the bytes of the exported graph (the cache key)."""
    s: dict[str, Any] = {"format": EXPORT_FORMAT, "backend": backend, "opset": OPSET, "torch": _version("torch"),
                         "transformers": _version("transformers")}
    if backend in ("onnx", "onnx-int8"):
        s["onnx_opt"] = onnx_opt
        if onnx_opt == "fused" or backend == "onnx-int8":
            s["onnxruntime"] = _version("onnxruntime")  # its fusion/quantization tools write the graph
    if backend == "onnx-int8":
        s["quantization"] = "dynamic-int8-per-channel-qint8-weights"
    if backend == "openvino":
        s["openvino"] = _version("openvino")
    return s


def graph_dir(source_hash: str, label: str, settings: dict[str, Any], root: Path | None = None) -> Path:
    key = hashlib.sha256(json.dumps({"source": source_hash, **settings}, sort_keys=True).encode()).hexdigest()[:16]
    return (root or cache_dir() / "models") / f"{label}-{settings['backend']}-{key}"


def is_complete(folder: Path) -> bool:
    return (folder / MANIFEST).is_file()


def ensure_graph(target: Path, build: Callable[[Path], str], settings: dict[str, Any]) -> Path:
    """``target`` holding a whole export, built by ``build(tmp) -> graph file name`` if it is not there yet.

    The build writes into a fresh temporary sibling that is renamed into place
    only once the manifest is written; a folder without the manifest (a copy cut
    short, an older layout) is set aside and rebuilt, and a leftover temporary
    folder of a killed export is never looked at (and swept once it is a day old).
    """
    if is_complete(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep(target.parent)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        t0 = time.perf_counter()
        graph = build(tmp)
        manifest = {**settings, "graph": graph, "graph_sha256": file_sha256(tmp / graph),
                    "export_s": round(time.perf_counter() - t0, 2)}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache may be shared
        if target.exists() and not is_complete(target):
            stale = Path(tempfile.mkdtemp(prefix=".stale-", dir=target.parent))
            os.replace(target, stale / "x")
        try:
            os.rename(tmp, target)
        except OSError:  # another process renamed its whole export first
            if not is_complete(target):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for stale in target.parent.glob(".stale-*"):
            shutil.rmtree(stale, ignore_errors=True)
    return target


def _sweep(parent: Path, max_age_s: float = 86400) -> None:
    now = time.time()
    for old in parent.glob(".export-*"):
        try:
            if now - old.stat().st_mtime > max_age_s:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass


def manifest(folder: Path) -> dict[str, Any]:
    return json.loads((folder / MANIFEST).read_text())


# --- building graphs -------------------------------------------------------


def export_onnx(st_path: str, out: Path, *, eager: bool = False) -> Any:
    """The HF model inside a sentence-transformers folder -> ``out/model.onnx`` (fp32,
    dynamic batch and sequence axes), returning the model's config."""
    import warnings

    import torch
    from sentence_transformers import SentenceTransformer

    kwargs = {"attn_implementation": "eager"} if eager else {}
    st = SentenceTransformer(st_path, device="cpu", local_files_only=Path(st_path).is_dir(), model_kwargs=kwargs)
    hf: Any = st[0].model
    hf.eval()
    sample = st.preprocess(["an example sentence", "a second, longer example sentence to trace"])
    names = [n for n in INPUTS if n in sample]

    class _Forward(torch.nn.Module):  # positional inputs in, token embeddings out
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, *args):
            return self.model(**dict(zip(names, args))).last_hidden_state

    axes = {n: {0: "batch", 1: "sequence"} for n in [*names, "token_embeddings"]}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and legacy-exporter notices; the graph is checked by tests
        torch.onnx.export(_Forward(hf), tuple(sample[n] for n in names), str(out / "model.onnx"),
                          input_names=names, output_names=["token_embeddings"], dynamic_axes=axes,
                          opset_version=OPSET, dynamo=False)
    return hf.config


def build_graph(st_path: str, backend: str, onnx_opt: str) -> Callable[[Path], str]:
    def build(tmp: Path) -> str:
        if backend == "onnx" and onnx_opt != "fused":
            export_onnx(st_path, tmp)
            return "model.onnx"
        if backend == "onnx":
            from onnxruntime.transformers.optimizer import optimize_model

            config = export_onnx(st_path, tmp, eager=True)  # BERT attention fusion recognises the eager pattern
            fused = optimize_model(str(tmp / "model.onnx"), model_type="bert", opt_level=1,
                                   num_heads=getattr(config, "num_attention_heads", 0),
                                   hidden_size=getattr(config, "hidden_size", 0))
            fused.save_model_to_file(str(tmp / "model_fused.onnx"))
            (tmp / "model.onnx").unlink()
            return "model_fused.onnx"
        if backend == "onnx-int8":  # quantizes the plain export; onnx_opt applies at session level
            from onnxruntime.quantization import QuantType, quantize_dynamic

            export_onnx(st_path, tmp)
            # per-channel int8 weights: per-tensor ones cost MiniLM ~0.09 cosine on SciFact abstracts
            quantize_dynamic(str(tmp / "model.onnx"), str(tmp / "model_int8.onnx"), weight_type=QuantType.QInt8,
                             per_channel=True)
            (tmp / "model.onnx").unlink()
            return "model_int8.onnx"
        if backend == "openvino":
            import openvino as ov

            export_onnx(st_path, tmp)
            ov.save_model(ov.convert_model(str(tmp / "model.onnx")), str(tmp / "model.xml"), compress_to_fp16=False)
            (tmp / "model.onnx").unlink()
            return "model.xml"
        raise ConfigError(f"st: backend {backend} has no exported graph")

    return build


# --- running graphs --------------------------------------------------------


def default_threads() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def graph_runner(folder: Path, backend: str, onnx_opt: str, threads: int) -> Callable[[dict], Any]:
    """feeds (name -> int64 array) -> token embeddings (batch x sequence x hidden, float32)."""
    graph = str(folder / manifest(folder)["graph"])
    if backend == "openvino":
        import openvino as ov

        compiled = ov.Core().compile_model(graph, "CPU", {"INFERENCE_PRECISION_HINT": "f32",
                                                          "INFERENCE_NUM_THREADS": threads,
                                                          "PERFORMANCE_HINT": "LATENCY"})
        request = compiled.create_infer_request()
        return lambda feeds: request.infer(feeds)[0].copy()
    import onnxruntime as ort

    opts = ort.SessionOptions()
    level = "all" if onnx_opt == "fused" else onnx_opt
    opts.graph_optimization_level = {"basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
                                     "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
                                     "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL}[level]
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(graph, opts, providers=["CPUExecutionProvider"])
    wanted = [i.name for i in session.get_inputs()]
    return lambda feeds: session.run(None, {k: feeds[k] for k in wanted})[0]


def graph_module(run: Callable[[dict], Any], config: Any):
    """A torch module standing in for the HF model inside sentence-transformers' Transformer module."""
    import numpy as np
    import torch

    class GraphModel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.config = config  # read by sentence-transformers (output_hidden_states, dimensions)

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, **_: Any):
            feeds = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(input_ids)
            feeds["token_type_ids"] = token_type_ids
            out = run({k: np.ascontiguousarray(v.numpy(), dtype=np.int64) for k, v in feeds.items()})
            return {"last_hidden_state": torch.from_numpy(np.asarray(out, dtype=np.float32))}

    return GraphModel()


def load(st_path: str, source_hash: str, label: str, backend: str, onnx_opt: str, threads: int):
    """A SentenceTransformer whose forward pass runs the exported graph, and the graph's manifest."""
    from sentence_transformers import SentenceTransformer

    try:
        settings = export_settings(backend, onnx_opt)
        folder = ensure_graph(graph_dir(source_hash, label, settings), build_graph(st_path, backend, onnx_opt),
                              settings)
        run = graph_runner(folder, backend, onnx_opt, threads)
    except ModuleNotFoundError as exc:
        raise missing_dependency(exc, f"st: backend={backend}") from None
    st = SentenceTransformer(st_path, device="cpu", local_files_only=Path(st_path).is_dir())
    transformer: Any = st[0]
    transformer.model = graph_module(run, transformer.model.config)  # the torch weights are freed here
    return st, manifest(folder)
