"""One sample's failure is that sample's error, never the run's.

Evaluators already record the failures they expect on the sample. Anything
else that escapes an evaluator (a RecursionError deep in a parser, a scorer
bug, a MemoryError on one huge output) would lose the whole batch, so
``evaluate_isolated`` re-runs the failing task on halves of its docs until the
docs that fail are alone, and records each of those as an error scored 0 with
the reason. Generations are cached, so the re-runs cost scoring time, not model
time, and only when something failed.

Errors the user must fix (ConfigError, DataError, BackendError, StoreError)
still end the run: they are about the run, not one sample.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Callable

from evalkit.core.errors import EvalkitError, ScoringError
from evalkit.core.types import SampleRecord
from evalkit.run.context import EvalContext, TaskRun

log = logging.getLogger("evalkit")

Evaluator = Callable[[list[TaskRun], EvalContext], dict[str, list[SampleRecord]]]
MAX_REASON = 500  # a failure reason is a line in the samples, not a dump


def _per_sample(exc: BaseException) -> bool:
    """Failures that can belong to one sample (everything but the user-fixable run errors; a
    package missing from the machine is one of those, not a property of a sample)."""
    if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] != "evalkit":
        return False
    return isinstance(exc, Exception) and (isinstance(exc, ScoringError) or not isinstance(exc, EvalkitError))


def reason(exc: BaseException) -> str:
    text = f"{type(exc).__name__}: {exc}"
    return text if len(text) <= MAX_REASON else text[:MAX_REASON] + "…"


def error_record(task: TaskRun, index: int, exc: BaseException) -> SampleRecord:
    """The record of doc ``index`` of ``task`` whose scoring raised ``exc``: score 0, reason kept."""
    doc = task.docs[index]
    prompt = ""
    if task.prompts is not None:
        try:
            prompt = task.prompts.render(doc)
        except Exception:  # the prompt is context for the reader; its absence must not raise again
            prompt = ""
    spec = task.spec
    return SampleRecord(spec.name, doc.id, prompt, [], None, None, 0.0, {spec.metric: 0.0}, error=reason(exc),
                        extra={k: doc.fields.get(k) for k in spec.breakdown})


def evaluate_isolated(evaluate: Evaluator, tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    """``evaluate(tasks, ctx)``, with any per-sample exception confined to the docs that raise it."""
    try:
        return evaluate(tasks, ctx)
    except Exception as exc:
        if not _per_sample(exc) or not any(t.docs for t in tasks):
            raise
        log.warning("evaluating %s raised %s; isolating the failing samples", ", ".join(t.spec.name for t in tasks),
                    reason(exc))
    out: dict[str, list[SampleRecord]] = {}
    for t in tasks:
        out[t.spec.name] = _bisect(evaluate, t, ctx, 0, len(t.docs))
    return out


def _bisect(evaluate: Evaluator, task: TaskRun, ctx: EvalContext, lo: int, hi: int) -> list[SampleRecord]:
    part = replace(task, docs=task.docs[lo:hi])
    try:
        return evaluate([part], ctx).get(task.spec.name, [])
    except Exception as exc:
        if not _per_sample(exc):
            raise
        if hi - lo == 1:
            log.warning("%s doc %s: %s", task.spec.name, task.docs[lo].id, reason(exc))
            return [error_record(task, lo, exc)]
    mid = (lo + hi) // 2
    return _bisect(evaluate, task, ctx, lo, mid) + _bisect(evaluate, task, ctx, mid, hi)
