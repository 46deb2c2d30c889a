"""Extract -> score -> aggregate for one task: how a doc's outputs become a SampleRecord.

Every evaluator and loop builds its records here, so a sample is scored the
same way whether it came from one generate call, a CRITIC round or a tool run.
"""
from __future__ import annotations

import logging
from typing import Any, Callable

from evalkit.core.registry import aggregators, extractors, scorers
from evalkit.core.types import Doc, SampleRecord, Score
from evalkit.scoring.aggregators.base import Aggregate
from evalkit.scoring.extraction import explain
from evalkit.spec.taskspec import TaskSpec

log = logging.getLogger("evalkit")


class DocScorer:
    """Extract -> score -> aggregate for one task, with the registry lookups done once."""

    def __init__(self, spec: TaskSpec, aggregator: str, canonical: Callable[[str, Doc], str] | None = None):
        self.spec = spec
        self.canonical = canonical  # a prompt format's answer labels -> the task's own (--formats)
        self.extract = extractors.get(spec.extractor)
        self.score_fn = scorers.get(spec.scorer)
        self.aggregate = aggregators.get(aggregator)
        self.norm_target = getattr(self.extract, "normalize_target", None)

    def target(self, doc: Doc) -> Any:
        raw = doc.fields.get(self.spec.target)
        return self.norm_target(raw, doc, **self.spec.extractor_args) if self.norm_target else raw

    def score_one(self, text: str, target: Any, doc: Doc) -> Score:
        return self.score_explained(text, target, doc)[0]

    def score_explained(self, text: str, target: Any, doc: Doc) -> tuple[Score, str]:
        """The score and the extraction status (answered / no_answer / hedged)."""
        if self.canonical is not None:
            text = self.canonical(text, doc)
        got = explain(self.extract, text, doc, **self.spec.extractor_args)
        return self.score_fn(got.answer, target, doc, **self.spec.scorer_args), got.status

    def equiv(self, doc: Doc) -> Callable[[Any, Any], bool]:
        """Two extracted answers vote together when the task's scorer would
        accept one as the reference for the other."""
        return lambda a, b: a == b or self.score_fn(a, b, doc, **self.spec.scorer_args).value >= 1.0

    def record(self, doc: Doc, prompt: str, outputs: list[str]) -> SampleRecord:
        """The record of one doc from its raw outputs: each is extracted, scored, then aggregated."""
        return self._record(doc, prompt, outputs, lambda target: [self.score_explained(t, target, doc) for t in outputs])

    def record_extracted(self, doc: Doc, prompt: str, outputs: list[str], extracted: list[Any],
                         trace: list[dict[str, Any]] | None = None,
                         metrics: dict[str, float] | None = None) -> SampleRecord:
        """The record of one doc whose answers a loop already extracted (CRITIC, ToRA, PAL):
        scored and aggregated the same way, with the loop's trace and per-doc ``metrics``."""
        def scored(target: Any) -> list[tuple[Score, str]]:
            return [(self.score_fn(e, target, doc, **self.spec.scorer_args),
                     "answered" if e is not None else "no_answer") for e in extracted]

        return self._record(doc, prompt, outputs, scored, trace or [], metrics or {})

    def _record(self, doc: Doc, prompt: str, outputs: list[str],
                score_all: Callable[[Any], list[tuple[Score, str]]],
                trace: list[dict[str, Any]] | None = None, extra_metrics: dict[str, float] | None = None
                ) -> SampleRecord:
        target = None
        trace, extra_metrics = trace or [], extra_metrics or {}
        try:
            target = self.target(doc)
            explained = score_all(target)
            scored = [sc for sc, _ in explained]
            statuses = [st for _, st in explained]
            agg: Aggregate = self.aggregate([s.extracted for s in scored], [s.value for s in scored],
                                            self.equiv(doc), self.spec.metric)
            metrics = {self.spec.metric: agg.score, **agg.metrics, **extra_metrics}
            return SampleRecord(self.spec.name, doc.id, prompt, outputs, target, agg.extracted, agg.score, metrics,
                                [s.extracted for s in scored], [s.value for s in scored], trace=trace,
                                extra=self.breakdown(doc), extraction_status_all=statuses)
        except Exception as exc:  # one bad sample must not sink the run; it is recorded and counted
            log.warning("scoring %s doc %s failed: %r", self.spec.name, doc.id, exc)
            return SampleRecord(self.spec.name, doc.id, prompt, outputs, _jsonable(target), None, 0.0,
                                {self.spec.metric: 0.0, **extra_metrics}, error=f"{type(exc).__name__}: {exc}",
                                trace=trace, extra=self.breakdown(doc))

    def breakdown(self, doc: Doc) -> dict[str, Any]:
        return {k: doc.fields.get(k) for k in self.spec.breakdown}


def _jsonable(x: Any) -> Any:
    return x if isinstance(x, (str, int, float, bool, type(None), list, dict)) else str(x)
