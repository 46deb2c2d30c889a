"""BM25 baseline on ``bm25s`` (sparse-matrix BM25, Lucene scoring by default).

Tokenization is bm25s's default: lowercase, scikit-learn's ``\\b\\w\\w+\\b``
token pattern, English stopwords removed, and no stemming unless ``stemmer``
names a Snowball language (that needs the PyStemmer package). Documents are
indexed as title and text joined, as bm25s's own BEIR benchmark does; the
Elasticsearch BM25 of the BEIR paper searches the two as separate fields, so
scores differ from the paper's by a point or two.

Documents that share no term with the query score 0 and are left out of the
run, as a Lucene or Elasticsearch search returns only matching documents: their
order would be arbitrary anyway.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from evalkit.core.types import Passage
from evalkit.models.base import Run, passage_text


@dataclass(frozen=True)
class BM25Retriever:
    k1: float = 1.5
    b: float = 0.75
    method: str = "lucene"  # bm25s's variants: "lucene", "robertson", "atire", "bm25l", "bm25+"
    stopwords: str = "en"
    stemmer: str | None = None  # e.g. "english" (PyStemmer); None keeps whole words
    name: str = "bm25"

    def _tokenize(self, texts: list[str]) -> list[list[str]]:
        import bm25s

        stem = None
        if self.stemmer is not None:
            import Stemmer  # PyStemmer

            stem = Stemmer.Stemmer(self.stemmer).stemWords
        return bm25s.tokenize(texts, stopwords=self.stopwords, stemmer=stem, return_ids=False, show_progress=False)

    def search(self, corpus: Mapping[str, Passage], queries: Mapping[str, str], top_k: int) -> Run:
        import bm25s

        doc_ids, qids = list(corpus), list(queries)
        if not doc_ids or not qids:
            return {qid: {} for qid in qids}
        index = bm25s.BM25(k1=self.k1, b=self.b, method=self.method)
        index.index(self._tokenize([passage_text(corpus[d]) for d in doc_ids]), show_progress=False)
        found, scores = index.retrieve(
            self._tokenize([queries[q] for q in qids]), k=min(top_k, len(doc_ids)), show_progress=False
        )
        return {
            qid: {doc_ids[j]: float(s) for j, s in zip(rows, row_scores) if s > 0}
            for qid, rows, row_scores in zip(qids, found, scores)
        }
