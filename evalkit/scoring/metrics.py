"""Turning per-sample values into task and group metrics, with standard errors.

A task metric is the mean of its per-doc values; its stderr is the sample
standard deviation over sqrt(n), as lm-eval reports it (for 0/1 scores that is
the usual binomial standard error with the n-1 correction).
A group reports both averages: ``macro`` (mean of subtask means, each subtask
weighs the same, as the BBH paper reports) and ``micro`` (mean over every doc).
"""
from __future__ import annotations

import math
from typing import Iterable, Sequence


def mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def stderr(values: Sequence[float]) -> float:
    n = len(values)
    if n < 2:
        return float("nan")
    m = mean(values)
    var = sum((v - m) ** 2 for v in values) / (n - 1)
    return math.sqrt(var / n)


def summarize(values: Sequence[float]) -> tuple[float, float]:
    """(mean, stderr) of per-doc values."""
    return mean(values), stderr(values)


def macro(means: Iterable[float], stderrs: Iterable[float]) -> tuple[float, float]:
    """Unweighted mean of subtask means; subtasks are independent samples, so
    the variances add: se = sqrt(sum se_i^2) / k."""
    ms, ses = list(means), list(stderrs)
    if not ms:
        return float("nan"), float("nan")
    se = math.sqrt(sum(s * s for s in ses)) / len(ms) if all(s == s for s in ses) else float("nan")
    return sum(ms) / len(ms), se
