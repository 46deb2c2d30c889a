"""Aggregators: turn the n samples of one doc into one final answer.

An aggregator gets the per-sample extracted answers and scores plus an
equivalence test from the task's own comparer, and returns the final answer,
its score, and any extra per-doc metrics (maj@k, pass@k...).
"""
from __future__ import annotations

from typing import Any, Sequence

from evalkit.core.registry import aggregators, import_submodules
from evalkit.scoring.aggregators.base import Aggregate, Equiv

__all__ = ["Aggregate", "Equiv"]


@aggregators.register("first")
def first(extracted: Sequence[Any], scores: Sequence[float], equiv: Equiv, metric: str) -> Aggregate:
    """The first sample is the answer; with n > 1 also report the mean over samples."""
    extra = {f"{metric}_mean@{len(scores)}": sum(scores) / len(scores)} if len(scores) > 1 else {}
    return Aggregate(extracted[0], scores[0], extra)


import_submodules(__name__)
