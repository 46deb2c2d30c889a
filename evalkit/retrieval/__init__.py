"""BEIR/MTEB-style retrieval evaluation: load a split, retrieve, score like pytrec_eval.

    data = load_beir(default_data_dir() / "retrieval" / "scifact")
    encoder = Encoder(SentenceTransformerModel(packaged_model_path()), cache_dir="out/emb")
    run = run_retrieval(data, DenseRetriever(encoder))        # or BM25Retriever()
    scores = mean_metrics(evaluate(data.qrels, run))          # {"ndcg_at_10": ..., ...}

Heavy dependencies (sentence-transformers, bm25s, datasets) are imported only
when a model is loaded, an index is built or the hub is used.
"""

from evalkit.retrieval.beir import BeirData, Passage, default_data_dir, load_beir, load_beir_hub
from evalkit.retrieval.bm25 import BM25Retriever
from evalkit.retrieval.dense import (
    DenseRetriever,
    EmbeddingModel,
    Encoder,
    EncodeStats,
    SentenceTransformerModel,
    packaged_model_path,
)
from evalkit.retrieval.metrics import DEFAULT_KS, drop_self_hits, evaluate, mean_metrics, metric_keys
from evalkit.retrieval.retrieve import Retriever, Run, passage_text, run_retrieval

__all__ = [
    "BM25Retriever",
    "BeirData",
    "DEFAULT_KS",
    "DenseRetriever",
    "EmbeddingModel",
    "EncodeStats",
    "Encoder",
    "Passage",
    "Retriever",
    "Run",
    "SentenceTransformerModel",
    "default_data_dir",
    "drop_self_hits",
    "evaluate",
    "load_beir",
    "load_beir_hub",
    "mean_metrics",
    "metric_keys",
    "packaged_model_path",
    "passage_text",
    "run_retrieval",
]
