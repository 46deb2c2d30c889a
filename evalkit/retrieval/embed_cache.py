"""The embedding cache lives in the store package, which owns all SQL; this name stays for importers."""
from evalkit.store.embeddings import EmbeddingCache, text_key

__all__ = ["EmbeddingCache", "text_key"]
