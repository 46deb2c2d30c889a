"""Self-consistency: maj@j and pass@j checked against brute-force enumeration of subsets."""
from __future__ import annotations

import itertools
import random
from fractions import Fraction
from math import comb

import pytest

from evalkit.scoring.aggregators.majority import classes, expected_majority, majority
from evalkit.scoring.passk import pass_at_k as pass_at

eq = lambda a, b: a == b  # noqa: E731


def brute_maj(answers, scores, j):
    """Average, over every size-j subset, of the expected score of a j-sample vote:
    the real answers with most votes in the subset tie and one is picked uniformly;
    no answer (None) wins only with strictly more votes. Nothing outside the subset counts."""
    groups = classes(answers, eq)
    cls = {i: c for c, g in enumerate(groups) for i in g}
    none = {c for c, g in enumerate(groups) if answers[g[0]] is None}
    total = Fraction(0)
    subsets = list(itertools.combinations(range(len(answers)), j))
    for sub in subsets:
        counts = {}
        for i in sub:
            counts[cls[i]] = counts.get(cls[i], 0) + 1
        real = {c: k for c, k in counts.items() if c not in none}
        best = max(real.values(), default=0)
        if not real or any(counts[c] > best for c in none & counts.keys()):
            winners = list(none & counts.keys())
        else:
            winners = [c for c, k in real.items() if k == best]
        total += Fraction(sum(Fraction(max(scores[i] for i in groups[c])) for c in winners), len(winners))
    return float(total / len(subsets))


def brute_pass(scores, j):
    subsets = list(itertools.combinations(range(len(scores)), j))
    return sum(any(scores[i] >= 1 for i in s) for s in subsets) / len(subsets)


@pytest.mark.parametrize("seed", range(30))
def test_maj_and_pass_match_brute_force(seed):
    rng = random.Random(seed)
    n = rng.randint(1, 10)
    answers = [rng.choice(["A", "B", "C", "D", None][:rng.randint(2, 5)]) for _ in range(n)]
    scores = [1.0 if a == "A" else 0.0 for a in answers]
    agg = majority(answers, scores, eq, "acc")
    for j in range(1, n + 1):
        assert agg.metrics[f"maj@{j}"] == pytest.approx(brute_maj(answers, scores, j), abs=1e-12)
        assert agg.metrics[f"pass@{j}"] == pytest.approx(brute_pass(scores, j), abs=1e-12)
    if len({a for a in answers}) == 1:
        assert agg.metrics[f"maj@{n}"] == agg.score
    assert agg.metrics["mean"] == pytest.approx(sum(scores) / n)
    assert agg.metrics["maj@1"] == pytest.approx(agg.metrics["mean"])


def test_equivalent_answers_vote_together():
    same = lambda a, b: float(a) == float(b)  # noqa: E731
    agg = majority(["0.5", "1/3", "0.50", ".5"], [1, 0, 1, 1], lambda a, b: a == b or (
        "/" not in a + b and same(a, b)), "acc")
    assert agg.extracted == "0.5" and agg.score == 1


@pytest.mark.parametrize("answers,scores,j,want", [
    (["A", "B"], [1, 0], 2, 0.5),  # a 1-1 tie inside the pair: a coin flip
    (["A", "B", "C"], [1, 0, 0], 3, 1 / 3),  # a three-way tie
    (["A", "B", "C", "D", "A", "B"], [1, 0, 0, 0, 1, 0], 2, 1 / 3),
    (["A", None], [1, 0], 2, 1.0),  # a real answer beats no answer on a tie
    ([None, None, "A"], [0, 0, 1], 3, 0.0),  # but not when it has fewer votes
    ([None, None, "A"], [0, 0, 1], 2, 2 / 3),
])
def test_ties_are_broken_within_the_subset(answers, scores, j, want):
    assert majority(answers, scores, eq, "acc").metrics[f"maj@{j}"] == pytest.approx(want, abs=1e-15)
    assert brute_maj(answers, scores, j) == pytest.approx(want, abs=1e-15)


def test_two_classes_even_j_equals_odd_j_below():
    """With two answers, maj@2k = maj@(2k-1) (the coin flip at a tie keeps the mean):
    the issue's bbh_navigate example, where the old all-n tie-break broke this."""
    rng = random.Random(7)
    for _ in range(50):
        n = rng.randint(2, 12)
        answers = [rng.choice("AB") for _ in range(n)]
        scores = [1.0 if a == "A" else 0.0 for a in answers]
        m = majority(answers, scores, eq, "acc").metrics
        for k in range(1, n // 2 + 1):
            assert m[f"maj@{2 * k}"] == pytest.approx(m[f"maj@{2 * k - 1}"], abs=1e-12)


def test_large_n_is_exact_and_fast():
    answers = ["A"] * 20 + ["B"] * 20 + ["C"] * 20 + [None] * 4
    got = expected_majority([20, 20, 20, 4], [1, 0, 0, 0], 3, 64)
    assert got == pytest.approx(1 / 3)
    assert majority(answers, [1.0] * 20 + [0.0] * 44, eq, "acc").metrics["maj@1"] == pytest.approx(20 / 64)


def test_ties_and_unextractable():
    agg = majority(["B", "A", "A", "B"], [0, 1, 1, 0], eq, "acc")
    assert agg.extracted == "B"  # equal votes: the class seen first wins
    agg = majority([None, "A"], [0, 1], eq, "acc")
    assert agg.extracted == "A"  # a real answer beats no answer on a tie
    agg = majority([None, None, "A"], [0, 0, 1], eq, "acc")
    assert agg.extracted is None and agg.score == 0  # but not when it has fewer votes


def test_pass_at_k_edge_cases():
    assert pass_at(5, 0, 3) == 0.0
    assert pass_at(5, 5, 1) == 1.0
    assert pass_at(10, 3, 1) == pytest.approx(0.3)
    assert pass_at(10, 3, 2) == pytest.approx(1 - comb(7, 2) / comb(10, 2))


def test_self_consistency_through_the_runner(tmp_path, data_dir):
    """--samples 4 on a greedy task samples at 0.7, votes, and reports the curve."""
    from fakes import ScriptedBackend

    from evalkit.core.registry import backends
    from evalkit.run.runner import RunConfig, run

    seen = []

    def answer(req, k):
        seen.append(req.params)
        return "So the answer is " + ("Yes" if (req.doc_id + k) % 4 else "No") + "."

    backends.replace("scripted", lambda target, **kw: ScriptedBackend(answer))
    res = run(RunConfig(model="scripted:x", tasks=["bbh_navigate"], limit=8, samples=4, data_dir=str(data_dir),
                        store=tmp_path / "s.db"))
    assert {p.temperature for p in seen} == {0.7} and {p.n for p in seen} == {4}
    r = res.results["bbh_navigate"]
    assert {"maj@1", "maj@4", "pass@4", "mean"} <= set(r)
    for rec in res.records["bbh_navigate"]:
        assert len(rec.outputs) == 4 and rec.extracted == "Yes"  # three Yes, one No
        assert rec.metrics["maj@4"] == rec.score
    assert r["exact_match"] == r["maj@4"]
