"""Self-consistency: majority vote over the n sampled answers of a doc.

Answers are grouped into equivalence classes with the task's own comparer
(for MATH, `0.5` and `\\frac12` vote together). The doc's reported answer
is the class with most votes among all n samples (a real answer before an
unextractable one (None) on a tie, then the class seen first).

Besides maj@n, one run yields the whole accuracy-vs-samples curve:
``maj@j`` for every j <= n is the *expected* majority-vote score over all
size-j subsets of the n samples of a j-sample vote whose ties are broken
within the subset, uniformly among the tied classes (exact, by counting subsets
with generating polynomials, not "the first j samples"; see docs/extraction.md), ``pass@j`` is the
unbiased oracle estimate (Codex paper) and ``mean`` is single-sample accuracy.
"""
from __future__ import annotations

from fractions import Fraction
from math import comb
from typing import Any, Sequence

from evalkit.core.registry import aggregators
from evalkit.scoring.aggregators.base import Aggregate, Equiv
from evalkit.scoring.passk import pass_at_k


def classes(answers: Sequence[Any], equiv: Equiv) -> list[list[int]]:
    """Sample indices grouped into equivalence classes, in order of first appearance."""
    groups: list[list[int]] = []
    for i, a in enumerate(answers):
        for g in groups:
            rep = answers[g[0]]
            if (a is None) == (rep is None) and (a is None or equiv(rep, a)):
                g.append(i)
                break
        else:
            groups.append([i])
    return groups


def _first_winner(groups: list[list[int]], answers: Sequence[Any]) -> int:
    """The answer reported for all n samples: the most votes, a real answer
    before no answer (None), then the class seen first. Only the reported
    answer uses this order; maj@j never does."""
    return min(range(len(groups)), key=lambda c: (-len(groups[c]), answers[groups[c][0]] is None, groups[c][0]))


def _poly_mul(a: list[list[int]], b: list[list[int]], cap: int) -> list[list[int]]:
    """Product of polynomials in z (outer index, truncated above z^cap) and w (inner index)."""
    out: list[list[int]] = [[] for _ in range(min(len(a) + len(b) - 1, cap + 1))]
    for i, row_a in enumerate(a):
        for k, row_b in enumerate(b):
            if i + k > cap:
                break
            dst = out[i + k]
            for p, x in enumerate(row_a):
                if not x:
                    continue
                for q, y in enumerate(row_b):
                    if y:
                        while len(dst) <= p + q:
                            dst.append(0)
                        dst[p + q] += x * y
    return out


def expected_majority(sizes: Sequence[int], scores: Sequence[float], none_class: int | None, j: int) -> float:
    """E[score of a j-sample majority vote] over the C(n, j) subsets of the n samples.

    In one subset the real classes with the most votes tie; the vote picks one
    of them uniformly at random (the expectation of what a user with j samples
    would do). The no-answer class (``none_class``) wins only with strictly more
    votes than every real class. Nothing outside the subset is consulted.

    Exact: for a real class c holding x of the subset, the subsets in which t
    other real classes also hold exactly x (and the rest fewer, no-answer at
    most x) number C(sizes[c], x) times the coefficient of z^(j-x) w^t in
    prod_d (sum_{y<x} C(sizes[d], y) z^y + C(sizes[d], x) z^x w); c then wins
    with probability 1/(t+1).
    """
    n = sum(sizes)
    if not 1 <= j <= n:
        raise ValueError(f"j={j} outside 1..{n}")
    expected = Fraction(0)
    covered = Fraction(0)
    for c, (size_c, score_c) in enumerate(zip(sizes, scores)):
        for x in range(1, min(size_c, j) + 1):
            poly: list[list[int]] = [[1]]
            for d, size_d in enumerate(sizes):
                if d == c:
                    continue
                if d == none_class or c == none_class:
                    # no-answer loses ties to real answers: it may hold x beside a real
                    # winner; a no-answer winner needs every real class below x
                    cap = x if d == none_class else x - 1
                    factor = [[comb(size_d, y)] for y in range(min(size_d, cap) + 1)]
                else:
                    factor = [[comb(size_d, y)] for y in range(min(size_d, x - 1) + 1)]
                    if size_d >= x:
                        factor.append([0, comb(size_d, x)])
                poly = _poly_mul(poly, factor, j - x)
            row = poly[j - x] if j - x < len(poly) else []
            for t, ways in enumerate(row):
                if ways:
                    share = Fraction(comb(size_c, x) * ways, t + 1)
                    covered += share
                    expected += share * Fraction(score_c)
    assert covered == comb(n, j), "every subset's win is shared out exactly once"
    return float(expected / comb(n, j))


@aggregators.register("majority")
def majority(extracted: Sequence[Any], scores: Sequence[float], equiv: Equiv, metric: str) -> Aggregate:
    n = len(extracted)
    groups = classes(extracted, equiv)
    none_class = next((c for c, g in enumerate(groups) if extracted[g[0]] is None), None)
    sizes = [len(g) for g in groups]
    class_scores = [max(scores[i] for i in g) for g in groups]
    winner = _first_winner(groups, extracted) if n else None
    correct = sum(1 for s in scores if s >= 1.0)
    metrics = {f"maj@{j}": expected_majority(sizes, class_scores, none_class, j) for j in range(1, n + 1)}
    metrics |= {f"pass@{j}": pass_at_k(n, correct, j) for j in range(1, n + 1)}
    metrics["mean"] = sum(scores) / n if n else 0.0
    agg_score = class_scores[winner] if winner is not None else 0.0
    return Aggregate(extracted[groups[winner][0]] if winner is not None else None, agg_score, metrics)
