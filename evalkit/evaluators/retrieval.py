"""The ``retrieval`` evaluator: search a BEIR corpus, score each query like MTEB.

A task's ``dataset`` names a BEIR folder in the local mirror (``path:
retrieval/scifact``, ``format: beir``, qrels split in ``options.split``,
default ``test``) or, without a mirror, an ``mteb/<name>`` hub dataset
(``hub``, with ``hub_name: queries`` and ``hub_split: queries`` so the docs
are the hub's queries table; the corpus and qrels come from
``evalkit.benchmarks.beir.load_beir_hub``). The docs of the task are the queries in
``queries.jsonl`` order that are judged in the split (only those are
evaluated, as in BEIR and MTEB), and a record's ``doc_id`` is the query's
0-based index in ``queries.jsonl``, so ``--limit N`` takes the first N judged
queries. (From the hub, the docs are the whole queries table and ``--limit N``
takes its first N rows, of which the judged ones are evaluated.)

The model backend (``st:...``/``minilm``, ``bm25``) supplies a ``Retriever``
through ``backend.retriever(query_prefix, doc_prefix, instruction)``. Task
``options``: ``top_k`` (1000), ``query_prefix``, ``doc_prefix``,
``instruction`` and ``exclude_self`` (drop a document whose id is the query id,
MTEB's ``ignore_identical_ids``).

One SampleRecord per evaluated query: prompt = query text, outputs = top-10 doc
ids, score = ``ndcg_at_10``, metrics = every MTEB key (``ndcg``, ``map``,
``recall``, ``precision``, ``mrr`` at 1, 3, 5, 10, 100, 1000) plus
``skipped``: the number of rows the loader left out of the split (qrels rows
naming a document the corpus lacks, queries with empty text). It is the same
on every record, so results.json shows it as the task's ``skipped`` value.
"""
from __future__ import annotations

import logging
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from evalkit.core.errors import ConfigError, DataError
from evalkit.core.registry import evaluators, loaders
from evalkit.core.types import SampleRecord
from evalkit.run.context import EvalContext, TaskRun
from evalkit.spec.taskspec import DatasetSpec, TaskSpec

log = logging.getLogger("evalkit")

OUTPUT_DOCS = 10  # doc ids kept in a record's outputs
SPEC_OPTIONS = {"top_k", "query_prefix", "doc_prefix", "instruction", "exclude_self"}


@loaders.register("beir")
def load_beir_queries(path: Path, spec: DatasetSpec | None = None) -> list[dict[str, Any]]:
    """The judged queries of a BEIR folder's split, in ``queries.jsonl`` order: the task's docs.

    Each record carries ``query_index``, the query's 0-based line in
    ``queries.jsonl`` (blank lines aside), which becomes its ``doc_id``.
    """
    from evalkit.core.jsonl import read_jsonl

    if not path.is_dir():
        raise DataError(f"{path} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
    split = str(spec.options.get("split", "test")) if spec is not None else "test"
    data = _load_local(str(path), split)
    out = []
    for index, (_, rec) in enumerate(read_jsonl(path / "queries.jsonl")):
        qid = str(rec.get("_id")) if isinstance(rec, dict) else None
        if qid in data.queries:
            out.append({"_id": qid, "text": data.queries[qid], "query_index": index})
    return out


def split_of(spec: TaskSpec) -> str:
    return str(spec.dataset.options.get("split", "test"))


@lru_cache(maxsize=4)
def _load_local(folder: str, split: str):
    from evalkit.benchmarks.beir import load_beir

    return load_beir(folder, split)


def load_split(spec: TaskSpec, root: Path | None):
    """The task's BeirData: the local mirror folder if there is one, else the hub."""
    ds = spec.dataset
    if root is not None and ds.path:
        return _load_local(str(root / ds.path), split_of(spec))
    if ds.hub:
        from evalkit.benchmarks.beir import load_beir_hub

        return load_beir_hub(ds.hub, split_of(spec), revision=ds.options.get("revision"),
                             qrels_config=ds.options.get("qrels_config", "default"))
    raise DataError(f"task {spec.name}: no local BEIR folder and no hub id")


def _retriever(ctx: EvalContext, spec: TaskSpec):
    make = getattr(ctx.backend, "retriever", None)
    if make is None:
        raise ConfigError(
            f"task {spec.name} is a retrieval task: run it with an embedding or BM25 model "
            "(--model minilm, --model st:PATH_OR_HUB_ID, --model bm25), not a generative backend"
        )
    unknown = set(spec.options) - SPEC_OPTIONS
    if unknown:
        raise ConfigError(f"{spec.source_file}: task {spec.name}: unknown retrieval options "
                          f"{', '.join(sorted(unknown))} (known: {', '.join(sorted(SPEC_OPTIONS))})")
    o = spec.options
    return make(query_prefix=o.get("query_prefix", ""), doc_prefix=o.get("doc_prefix", ""),
                instruction=o.get("instruction", ""))


def evaluate_task(task: TaskRun, ctx: EvalContext) -> list[SampleRecord]:
    from evalkit.benchmarks.beir import BeirData
    from evalkit.evaluators.retrieve import run_retrieval
    from evalkit.scoring.retrieval_metrics import evaluate, rank

    spec = task.spec
    retriever = _retriever(ctx, spec)
    full = load_split(spec, ctx.data_root)
    judged = set(full.query_order)
    docs = [d for d in task.docs if str(d.fields.get("_id")) in judged]
    if not docs:
        raise DataError(f"task {spec.name}: none of its {len(task.docs)} queries is judged in split "
                        f"'{split_of(spec)}' (with --limit, raise N)")
    order = [str(d.fields["_id"]) for d in docs]
    data = BeirData(corpus=full.corpus, queries={q: full.queries[q] for q in order},
                    qrels={q: full.qrels[q] for q in order}, query_order=order, skipped=full.skipped)
    if full.skipped:
        log.warning("%s: %d qrels rows or queries skipped (first: %s)", spec.name, len(full.skipped), full.skipped[0])
    top_k = int(spec.options.get("top_k", 1000))
    start = time.monotonic()
    run = run_retrieval(data, retriever, top_k=top_k, exclude_self=bool(spec.options.get("exclude_self", False)))
    per_query = evaluate(data.qrels, run)
    log.info("%s: retrieved %d queries over %d documents in %.1fs", spec.name, len(order), len(data.corpus),
             time.monotonic() - start)
    records = []
    for d, qid in zip(docs, order):
        doc_id = int(d.fields.get("query_index", d.id))  # local: line in queries.jsonl; hub: row of its queries table
        m = per_query[qid]
        top = rank(run[qid])[:OUTPUT_DOCS]
        metrics = {**m, "skipped": float(len(full.skipped))}
        records.append(SampleRecord(
            spec.name, doc_id, data.queries[qid], top, dict(data.qrels[qid]), top[0] if top else None,
            m[spec.metric] if spec.metric in m else m["ndcg_at_10"], metrics,
            trace=[{"query_id": qid, "scores": [run[qid][doc] for doc in top]}]))
    return records


@evaluators.register("retrieval")
def evaluate_retrieval(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    try:
        return {t.spec.name: evaluate_task(t, ctx) for t in tasks}
    finally:
        _load_local.cache_clear()  # corpora can be large; the next run rereads them
