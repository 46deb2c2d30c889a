"""Paired significance tests for comparing two runs on the same docs.

Two runs scored on the same docs are paired samples: the per-doc differences
carry all the information, and most of the doc-to-doc variance cancels. So:

* binary scores (every score 0 or 1) use the exact McNemar test, a two-sided
  binomial test on the discordant pairs (docs one run got right and the other
  wrong); the concordant docs say nothing about which run is better;
* any other score uses a seeded paired bootstrap of the mean difference.

Across tasks, p-values are adjusted with Holm's step-down method, which keeps
the family-wise error rate at alpha without assuming independence.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np

Z95 = 1.959963984540054  # two-sided 95% normal quantile


@dataclass(frozen=True)
class PairedTest:
    """The outcome of one paired test of candidate against baseline."""

    test: str  # "mcnemar" (exact, binary scores) or "bootstrap" (paired, any scores)
    n: int  # number of paired docs
    baseline_mean: float
    candidate_mean: float
    delta: float  # candidate_mean - baseline_mean, on the 0-1 scale
    ci_low: float  # 95% confidence interval of delta
    ci_high: float
    p_value: float  # two-sided, unadjusted
    worse: int  # docs whose score dropped
    better: int  # docs whose score rose


def is_binary(*score_lists: Sequence[float]) -> bool:
    return all(s in (0.0, 1.0) for scores in score_lists for s in scores)


def binom_cdf_half(k: int, n: int) -> float:
    """P(X <= k) for X ~ Binomial(n, 1/2), exactly (big-integer arithmetic, no overflow)."""
    if k < 0:
        return 0.0
    if k >= n:
        return 1.0
    return sum(math.comb(n, i) for i in range(k + 1)) / 2**n


def mcnemar_exact(worse: int, better: int) -> float:
    """Two-sided exact McNemar p-value from the two discordant counts.

    Equal to ``statsmodels.stats.contingency_tables.mcnemar(table, exact=True).pvalue``:
    twice the binomial tail of the smaller count, capped at 1 (1 when there
    are no discordant pairs at all)."""
    return min(1.0, 2.0 * binom_cdf_half(min(worse, better), worse + better))


def mcnemar_test(baseline: Sequence[float], candidate: Sequence[float]) -> PairedTest:
    """Exact McNemar test of paired 0/1 scores, with a Wald interval for the paired difference."""
    n = len(baseline)
    worse = sum(1 for a, b in zip(baseline, candidate) if a > b)
    better = sum(1 for a, b in zip(baseline, candidate) if a < b)
    delta = (better - worse) / n
    se = math.sqrt(max(worse + better - (better - worse) ** 2 / n, 0.0)) / n
    return PairedTest("mcnemar", n, sum(baseline) / n, sum(candidate) / n, delta, delta - Z95 * se,
                      delta + Z95 * se, mcnemar_exact(worse, better), worse, better)


def paired_bootstrap(baseline: Sequence[float], candidate: Sequence[float], resamples: int = 10_000,
                     seed: int = 0) -> PairedTest:
    """Paired bootstrap of the mean difference: a percentile 95% interval and a
    two-sided p-value from the null-centred resampling distribution
    (the share of resampled means at least as far from the observed mean as
    the observed mean is from 0), with the usual +1 correction."""
    a = np.asarray(baseline, dtype=float)
    d = np.asarray(candidate, dtype=float) - a
    n = len(d)
    delta = float(d.mean())
    rng = np.random.default_rng(seed)
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # keep the index matrix around 16 MB
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    extreme = int(np.sum(np.abs(means - delta) >= abs(delta) - 1e-12))
    p = min(1.0, (extreme + 1) / (resamples + 1))
    return PairedTest("bootstrap", n, float(a.mean()), float(a.mean()) + delta, delta, float(lo), float(hi), p,
                      int(np.sum(d < 0)), int(np.sum(d > 0)))


def paired_test(baseline: Sequence[float], candidate: Sequence[float], resamples: int = 10_000,
                seed: int = 0) -> PairedTest:
    """McNemar for binary scores, the paired bootstrap otherwise."""
    if len(baseline) != len(candidate):
        raise ValueError(f"paired scores differ in length: {len(baseline)} vs {len(candidate)}")
    if not baseline:
        raise ValueError("no paired scores to test")
    if is_binary(baseline, candidate):
        return mcnemar_test(baseline, candidate)
    return paired_bootstrap(baseline, candidate, resamples, seed)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in input order; equal to
    ``statsmodels.stats.multitest.multipletests(p, method="holm")[1]``."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, (m - rank) * p_values[i])
        adjusted[i] = min(1.0, running)
    return adjusted
