"""Aggregators: turn the n samples of one doc into one final answer.

An aggregator gets the per-sample extracted answers and scores plus an
equivalence test from the task's own comparer, and returns the final answer,
its score, and any extra per-doc metrics (maj@k, pass@k...).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from evalkit.registry import aggregators

Equiv = Callable[[Any, Any], bool]


@dataclass
class Aggregate:
    extracted: Any
    score: float
    metrics: dict[str, float] = field(default_factory=dict)  # extra per-doc metrics


@aggregators.register("first")
def first(extracted: Sequence[Any], scores: Sequence[float], equiv: Equiv, metric: str) -> Aggregate:
    """The first sample is the answer; with n > 1 also report the mean over samples."""
    extra = {f"{metric}_mean@{len(scores)}": sum(scores) / len(scores)} if len(scores) > 1 else {}
    return Aggregate(extracted[0], scores[0], extra)


from evalkit.registry import import_submodules  # noqa: E402  (after Aggregate, which plug-ins import)

import_submodules(__name__)
