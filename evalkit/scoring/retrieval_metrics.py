"""Retrieval metrics that reproduce pytrec_eval (trec_eval 9.x) as BEIR and MTEB call it.

BEIR and MTEB pass ``ndcg_cut.k``, ``map_cut.k``, ``recall.k`` and ``P.k`` to
``pytrec_eval.RelevanceEvaluator`` and compute MRR@k themselves; this module
computes all five in pure Python with trec_eval's semantics, so no C extension
is needed and a test can hold the numbers to pytrec_eval's to 1e-6:

- Ranking: documents sorted by score descending, ties broken by doc id
  descending (trec_eval's ``comp_sim_docno``: ``strcmp(p2->docno, p1->docno)``).
  The run's own order and the insertion order of its dict are ignored.
- Relevance: a judged doc with ``rel >= 1`` is relevant for MAP, recall,
  precision and MRR (trec_eval's default ``relevance_level``). nDCG uses the
  graded value itself as the gain with a ``log2(rank + 1)`` discount (rank
  1-based); judgments <= 0 and unjudged docs have gain 0.
- Queries: only queries that are in both the qrels and the run are scored,
  exactly the keys pytrec_eval returns. A query in the run but not in the qrels
  is ignored; a query in the qrels that is absent from the run is left out
  (not scored as 0), as pytrec_eval leaves it out; a query present in the run
  with no documents, or whose judgments are all non-relevant, is scored 0 on
  every metric. ``mean_metrics`` averages over the queries ``evaluate``
  returned, which is what BEIR's and MTEB's means are taken over.
  ``evalkit.evaluators.retrieve.run_retrieval`` puts every evaluated query in
  the run (empty if nothing was retrieved), so nothing drops out silently.
- MRR@k: reciprocal rank of the first relevant doc within the top k of the same
  ranking. MTEB and BEIR sort with Python's stable sort, so their ties keep the
  run's insertion order; here ties follow trec_eval like every other metric.
  For runs without tied scores the two agree.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> graded relevance
Run = Mapping[str, Mapping[str, float]]  # query id -> doc id -> retrieval score

DEFAULT_KS: tuple[int, ...] = (1, 3, 5, 10, 100, 1000)
METRIC_NAMES: tuple[str, ...] = ("ndcg", "map", "recall", "precision", "mrr")
RELEVANCE_LEVEL = 1  # trec_eval's default: a judgment >= 1 counts as relevant


def metric_keys(ks: Iterable[int] = DEFAULT_KS) -> list[str]:
    """MTEB key names in a stable order: ``ndcg_at_10``, ``map_at_10``, ..."""
    return [f"{name}_at_{k}" for name in METRIC_NAMES for k in ks]


def rank(doc_scores: Mapping[str, float]) -> list[str]:
    """Doc ids in trec_eval order: score descending, then doc id descending."""
    by_id = sorted(doc_scores, reverse=True)
    # Python's sort is stable even with reverse=True, so equal scores keep the
    # descending-id order of the first pass.
    return sorted(by_id, key=lambda d: float(doc_scores[d]), reverse=True)


def _dcg(gains: Iterable[float]) -> float:
    return sum(g / math.log2(i + 2) for i, g in enumerate(gains) if g > 0)


def query_metrics(judged: Mapping[str, int], ranked: list[str], ks: Iterable[int]) -> dict[str, float]:
    """Every metric at every cutoff for one query, given its ranked doc ids."""
    rels = [judged.get(d, 0) for d in ranked]
    hit = [r >= RELEVANCE_LEVEL for r in rels]
    num_rel = sum(1 for r in judged.values() if r >= RELEVANCE_LEVEL)
    ideal = sorted((r for r in judged.values() if r > 0), reverse=True)
    first_hit = next((i for i, h in enumerate(hit) if h), None)
    out: dict[str, float] = {}
    for k in ks:
        top = hit[:k]
        hits = sum(top)
        idcg = _dcg(ideal[:k])
        out[f"ndcg_at_{k}"] = _dcg(rels[:k]) / idcg if idcg > 0 else 0.0
        precisions, seen = 0.0, 0
        for i, h in enumerate(top):
            if h:
                seen += 1
                precisions += seen / (i + 1)
        out[f"map_at_{k}"] = precisions / num_rel if num_rel else 0.0
        out[f"recall_at_{k}"] = hits / num_rel if num_rel else 0.0
        out[f"precision_at_{k}"] = hits / k  # trec_eval divides by k even when fewer were retrieved
        out[f"mrr_at_{k}"] = 1.0 / (first_hit + 1) if first_hit is not None and first_hit < k else 0.0
    return out


def evaluate(qrels: Qrels, run: Run, ks: Iterable[int] = DEFAULT_KS) -> dict[str, dict[str, float]]:
    """Per-query metrics for the queries in both ``qrels`` and ``run`` (see module doc)."""
    ks = tuple(ks)
    if not ks or any(k < 1 for k in ks):
        raise ValueError(f"cutoffs must be positive integers, got {ks}")
    out: dict[str, dict[str, float]] = {}
    for qid, doc_scores in run.items():
        if qid not in qrels:
            continue
        if any(math.isnan(float(s)) for s in doc_scores.values()):
            raise ValueError(f"query {qid!r}: run has NaN scores, so its ranking is undefined")
        out[qid] = query_metrics(qrels[qid], rank(doc_scores), ks)
    return out


def mean_metrics(per_query: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    """Mean of each metric over the queries ``evaluate`` returned."""
    if not per_query:
        raise ValueError("no evaluated queries: the run and the qrels share no query id")
    n = len(per_query)
    keys = next(iter(per_query.values())).keys()
    return {key: math.fsum(m[key] for m in per_query.values()) / n for key in keys}


def drop_self_hits(run: Run) -> dict[str, dict[str, float]]:
    """The run without documents whose id equals the query id.

    MTEB does this (``ignore_identical_ids``) for datasets such as ArguAna and
    Quora, where the query text is itself in the corpus.
    """
    return {qid: {d: s for d, s in docs.items() if d != qid} for qid, docs in run.items()}


def truncate(run: Run, top_k: int) -> dict[str, dict[str, float]]:
    """Each query's ``top_k`` best documents in trec_eval order."""
    return {qid: {d: docs[d] for d in rank(docs)[:top_k]} for qid, docs in run.items()}
