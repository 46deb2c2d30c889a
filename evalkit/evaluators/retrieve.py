"""The one call a runner makes: search a BEIR split with a retriever, get a run.

A retriever is anything with a ``name`` and a batch ``search`` over the whole
corpus and query set; ``DenseRetriever`` (``dense.py``) and ``BM25Retriever``
(``bm25.py``) are the two built in.
"""

from __future__ import annotations

from evalkit.benchmarks.beir import BeirData
from evalkit.models.base import Retriever, Run, passage_text
from evalkit.scoring.retrieval_metrics import drop_self_hits, truncate

__all__ = ["Retriever", "Run", "passage_text", "run_retrieval"]


def run_retrieval(data: BeirData, retriever: Retriever, top_k: int = 1000, exclude_self: bool = False) -> Run:
    """Search every evaluated query of ``data``; the run has an entry for each.

    ``exclude_self`` drops a document whose id equals the query id (MTEB's
    ``ignore_identical_ids``); one extra document is fetched so each query
    still gets ``top_k``.
    """
    if top_k < 1:
        raise ValueError(f"top_k must be positive, got {top_k}")
    queries = {qid: data.queries[qid] for qid in data.query_order}
    run = retriever.search(data.corpus, queries, top_k + 1 if exclude_self else top_k)
    if exclude_self:
        run = truncate(drop_self_hits(run), top_k)
    # A query the retriever found nothing for still counts, as 0, rather than
    # vanishing from the mean (see metrics.py on queries missing from a run).
    return {qid: run.get(qid, {}) for qid in data.query_order}
