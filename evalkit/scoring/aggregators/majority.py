"""Self-consistency: majority vote over the n sampled answers of a doc.

Answers are grouped into equivalence classes with the task's own comparer
(for MATH, `0.5` and `\\frac12` vote together). Ties are broken by a fixed
priority: more votes among all n samples first, then a real answer before an
unextractable one (None), then the class whose first sample came earliest.

Besides maj@n, one run yields the whole accuracy-vs-samples curve:
``maj@j`` for every j <= n is the *expected* majority-vote score over all
size-j subsets of the n samples (exact, by counting subsets per class with
generating polynomials, not "the first j samples"), ``pass@j`` is the
unbiased oracle estimate (Codex paper) and ``mean`` is single-sample accuracy.
"""
from __future__ import annotations

from math import comb
from typing import Any, Sequence

from evalkit.scoring.aggregators.base import Aggregate, Equiv
from evalkit.core.registry import aggregators
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


def _priority(groups: list[list[int]], answers: Sequence[Any]) -> list[int]:
    """Class indices from strongest to weakest for breaking ties."""
    return sorted(range(len(groups)), key=lambda c: (-len(groups[c]), answers[groups[c][0]] is None, groups[c][0]))


def _poly_mul(a: list[int], b: list[int], cap: int) -> list[int]:
    out = [0] * (min(len(a) + len(b) - 1, cap + 1))
    for i, x in enumerate(a):
        if x:
            for j, y in enumerate(b):
                if i + j > cap:
                    break
                out[i + j] += x * y
    return out


def expected_majority(sizes: Sequence[int], scores: Sequence[float], rank: Sequence[int], j: int) -> float:
    """E[score of the majority class] over uniform size-j subsets of the samples.

    ``sizes[c]`` samples are in class c, ``rank[c]`` its tie-break rank (0 wins).
    Class c wins a subset holding x of its samples when every other class d
    holds fewer than x, or exactly x and ranks below c. For each c and x the
    number of such subsets is C(sizes[c], x) times the coefficient of z^(j-x)
    in prod_d sum_{y <= cap_d} C(sizes[d], y) z^y.
    """
    n = sum(sizes)
    total = 0
    expected = 0.0
    for c, (size_c, score_c) in enumerate(zip(sizes, scores)):
        for x in range(1, min(size_c, j) + 1):
            poly = [1]
            for d, size_d in enumerate(sizes):
                if d == c:
                    continue
                cap = min(size_d, x if rank[d] > rank[c] else x - 1)
                poly = _poly_mul(poly, [comb(size_d, y) for y in range(cap + 1)], j - x)
            ways = comb(size_c, x) * (poly[j - x] if j - x < len(poly) else 0)
            total += ways
            expected += ways * score_c
    assert total == comb(n, j), "every subset has exactly one winner"
    return expected / comb(n, j)


@aggregators.register("majority")
def majority(extracted: Sequence[Any], scores: Sequence[float], equiv: Equiv, metric: str) -> Aggregate:
    n = len(extracted)
    groups = classes(extracted, equiv)
    order = _priority(groups, extracted)
    rank = [0] * len(groups)
    for r, c in enumerate(order):
        rank[c] = r
    sizes = [len(g) for g in groups]
    class_scores = [max(scores[i] for i in g) for g in groups]
    winner = order[0] if n else None
    correct = sum(1 for s in scores if s >= 1.0)
    metrics = {f"maj@{j}": expected_majority(sizes, class_scores, rank, j) for j in range(1, n + 1)}
    metrics |= {f"pass@{j}": pass_at_k(n, correct, j) for j in range(1, n + 1)}
    metrics["mean"] = sum(scores) / n if n else 0.0
    agg_score = class_scores[winner] if winner is not None else 0.0
    return Aggregate(extracted[groups[winner][0]] if winner is not None else None, agg_score, metrics)
