"""Paired tests against known truths and against statsmodels/scipy."""
from __future__ import annotations

import random

import numpy as np
import pytest
from scipy.stats import binomtest
from statsmodels.stats.contingency_tables import mcnemar
from statsmodels.stats.multitest import multipletests

from evalkit.report.compare import RunScores, compare
from evalkit.report.stats import holm, mcnemar_exact, paired_bootstrap, paired_test


def _pairs(n: int, base_right: int, worse: int, better: int) -> tuple[list[float], list[float]]:
    """Binary scores for n docs: base_right right in the baseline; of those, `worse`
    turn wrong in the candidate, and `better` of the baseline's wrong ones turn right."""
    a = [1.0] * base_right + [0.0] * (n - base_right)
    b = list(a)
    for i in range(worse):
        b[i] = 0.0
    for i in range(better):
        b[base_right + i] = 1.0
    order = list(range(n))
    random.Random(n).shuffle(order)
    return [a[i] for i in order], [b[i] for i in order]


def _one_task(a: list[float], b: list[float], task: str = "t", **kw):
    base = RunScores("base", "m", "r1", {task: dict(enumerate(a))})
    cand = RunScores("cand", "m", "r2", {task: dict(enumerate(b))})
    return compare(base, cand, **kw)


@pytest.mark.parametrize("worse,better", [(0, 0), (0, 5), (5, 0), (30, 0), (45, 15), (50, 20), (7, 9),
                                          (500, 450), (1200, 1100), (3, 2000)])
def test_mcnemar_equals_statsmodels_and_scipy(worse, better):
    ours = mcnemar_exact(worse, better)
    table = [[100, worse], [better, 100]]
    assert ours == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9, abs=1e-300)
    if worse + better:
        assert ours == pytest.approx(binomtest(min(worse, better), worse + better, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_mcnemar_through_paired_test_matches_statsmodels():
    a, b = _pairs(1000, 700, 45, 15)
    res = paired_test(a, b)
    assert res.test == "mcnemar" and (res.worse, res.better) == (45, 15)
    table = [[sum(1 for x, y in zip(a, b) if x == y == 1), 45], [15, sum(1 for x, y in zip(a, b) if x == y == 0)]]
    assert res.p_value == pytest.approx(mcnemar(table, exact=True).pvalue, rel=1e-9)
    assert res.delta == pytest.approx(-0.03)


@pytest.mark.parametrize("seed", range(5))
def test_holm_equals_statsmodels(seed):
    rng = random.Random(seed)
    p = [rng.random() ** 3 for _ in range(rng.randint(1, 30))] + [0.01, 0.01, 1.0]  # ties and a 1
    assert holm(p) == pytest.approx(list(multipletests(p, method="holm")[1]), rel=1e-12)


def test_three_point_drop_on_1000_binary_samples_is_flagged():
    a, b = _pairs(1000, 700, 45, 15)  # 70.0 -> 67.0
    c = _one_task(a, b)
    (t,) = c.tasks
    assert t.test.delta == pytest.approx(-0.03)
    assert t.test.p_value < 0.001
    assert t.verdict == "regression" and c.regressions == [t]
    assert t.test.ci_high < 0 < -t.test.ci_low


def test_three_point_drop_survives_holm_next_to_unchanged_tasks():
    a, b = _pairs(1000, 700, 45, 15)
    same = [float(i % 2) for i in range(300)]
    base = RunScores("base", "m", "r1", {"drop": dict(enumerate(a)), "x": dict(enumerate(same)), "y": dict(enumerate(same))})
    cand = RunScores("cand", "m", "r2", {"drop": dict(enumerate(b)), "x": dict(enumerate(same)), "y": dict(enumerate(same))})
    c = compare(base, cand)
    drop = next(t for t in c.tasks if t.task == "drop")
    assert drop.p_adjusted == pytest.approx(min(1.0, 3 * drop.test.p_value))
    assert [t.task for t in c.regressions] == ["drop"]


def test_half_point_drop_on_100_samples_is_not_flagged():
    rng = np.random.default_rng(7)
    a = rng.uniform(0.2, 0.9, 100)
    b = np.clip(a - 0.005 + rng.normal(0, 0.05, 100), 0, 1)
    b += (a.mean() - 0.005) - b.mean()  # exactly half a point lower on average
    c = _one_task(list(a), list(b))
    (t,) = c.tasks
    assert t.test.test == "bootstrap"
    assert t.test.delta == pytest.approx(-0.005, abs=1e-12)
    assert t.test.p_value > 0.05 and t.verdict == "" and not c.regressions
    assert t.test.ci_low < 0 < t.test.ci_high


def test_one_flip_in_100_binary_samples_is_not_flagged():
    a, b = _pairs(100, 60, 1, 0)
    (t,) = _one_task(a, b).tasks
    assert t.test.p_value == 1.0 and t.verdict == ""


@pytest.mark.parametrize("scores", [[1.0, 0.0, 1.0, 1.0] * 50, [0.3, 0.7, 0.25, 1.0, 0.0] * 40])
def test_identical_runs_give_p_one(scores):
    (t,) = _one_task(scores, list(scores)).tasks
    assert t.test.p_value == 1.0 and t.p_adjusted == 1.0
    assert t.test.delta == 0 and t.test.ci_low == t.test.ci_high == 0
    assert t.worse_ids == t.better_ids == [] and t.verdict == ""


def test_bootstrap_is_seeded_and_finds_a_clear_shift():
    rng = np.random.default_rng(1)
    a = rng.uniform(0, 1, 400)
    b = a - 0.05 + rng.normal(0, 0.02, 400)
    r1, r2 = paired_bootstrap(a, b, 10_000, seed=3), paired_bootstrap(a, b, 10_000, seed=3)
    assert r1 == r2
    assert r1.p_value == pytest.approx(1 / 10_001)
    assert r1.ci_low < r1.delta < r1.ci_high < 0


def test_min_delta_is_in_points():
    a, b = _pairs(1000, 700, 45, 15)  # a significant 3-point drop
    assert _one_task(a, b, min_delta=2.5).regressions
    assert not _one_task(a, b, min_delta=3.5).regressions


def test_improvement_is_not_a_regression():
    a, b = _pairs(1000, 700, 15, 45)
    (t,) = _one_task(a, b).tasks
    assert t.verdict == "improvement"
