"""Retrieval metrics against pytrec_eval (the library BEIR and MTEB call) and hand-worked cases."""

from __future__ import annotations

import functools
import math
import random

import pytest

from evalkit.scoring.retrieval_metrics import (
    DEFAULT_KS,
    drop_self_hits,
    evaluate,
    mean_metrics,
    metric_keys,
    rank,
    truncate,
)

pytrec_eval = pytest.importorskip("pytrec_eval", reason="pip install pytrec-eval-terrier")

KS = DEFAULT_KS
# Our key prefix -> pytrec_eval's measure family, as BEIR/MTEB request them.
TREC_NAME = {"ndcg": "ndcg_cut", "map": "map_cut", "recall": "recall", "precision": "P"}


def trec_eval_scores(qrels, run, ks=KS):
    measures = {f"{fam}.{','.join(map(str, ks))}" for fam in TREC_NAME.values()}
    return pytrec_eval.RelevanceEvaluator(qrels, measures).evaluate(run)


def trec_order(doc_scores):
    """trec_eval's comp_sim_docno, written out literally as a comparator."""

    def cmp(a, b):
        if doc_scores[a] != doc_scores[b]:
            return -1 if doc_scores[a] > doc_scores[b] else 1
        return (b > a) - (b < a)  # strcmp(p2->docno, p1->docno)

    return sorted(doc_scores, key=functools.cmp_to_key(cmp))


def brute_mrr(judged, doc_scores, k):
    for i, d in enumerate(trec_order(doc_scores)[:k]):
        if judged.get(d, 0) >= 1:
            return 1.0 / (i + 1)
    return 0.0


def random_case(seed):
    """Qrels and run with ties, graded and negative judgments, gaps on both sides."""
    rng = random.Random(seed)
    pool = [f"d{i}" for i in range(40)] + [str(i) for i in range(1, 25)] + ["D7", "d07", "é1", "a b"]
    qrels, run = {}, {}
    for q in range(60):
        qid = f"q{q}"
        judged = rng.sample(pool, rng.randint(1, 8))
        kind = rng.random()
        if kind < 0.1:
            qrels[qid] = {d: 0 for d in judged}  # judged, none relevant
        else:
            qrels[qid] = {d: rng.choice([0, 1, 1, 2, 3, -1]) for d in judged}
        if kind > 0.9:
            continue  # in the qrels, missing from the run
        levels = [round(rng.uniform(0, 5), rng.choice([0, 1, 6])) for _ in range(4)]
        n_ret = rng.choice([0, 1, 3, 10, 40])
        run[qid] = {d: rng.choice(levels) for d in rng.sample(pool, n_ret)}
    run["not_judged"] = {"d1": 1.0, "d2": 0.5}  # in the run only
    return qrels, run


@pytest.mark.parametrize("seed", range(12))
def test_every_metric_equals_pytrec_eval_on_random_runs(seed):
    qrels, run = random_case(seed)
    ours = evaluate(qrels, run, KS)
    ref = trec_eval_scores(qrels, run)
    assert set(ours) == set(ref)
    for qid, ref_q in ref.items():
        for name, fam in TREC_NAME.items():
            for k in KS:
                assert ours[qid][f"{name}_at_{k}"] == pytest.approx(ref_q[f"{fam}_{k}"], abs=1e-6), (qid, name, k)


@pytest.mark.parametrize("seed", range(12))
def test_mrr_equals_brute_force_and_pytrec_recip_rank_on_truncated_runs(seed):
    qrels, run = random_case(seed)
    ours = evaluate(qrels, run, KS)
    for k in KS:
        cut = {q: {d: docs[d] for d in trec_order(docs)[:k]} for q, docs in run.items()}
        ref = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(cut)
        for qid in ours:
            expected = brute_mrr(qrels[qid], run[qid], k)
            assert ours[qid][f"mrr_at_{k}"] == pytest.approx(expected, abs=1e-12)
            assert ours[qid][f"mrr_at_{k}"] == pytest.approx(ref[qid]["recip_rank"], abs=1e-6)


def test_random_runs_exercise_the_edge_cases():
    """Guards the generator: the comparisons above mean little without these."""
    qrels, run = random_case(0)
    ranked = [trec_order(docs) for docs in run.values()]
    assert any(len(set(docs.values())) < len(docs) for docs in run.values())  # ties
    assert any(set(qrels) - set(run))  # missing from the run
    assert any(docs == {} for docs in run.values())  # empty ranking
    assert any(max(j.values()) <= 0 for j in qrels.values())  # nothing relevant
    assert any(v >= 2 for j in qrels.values() for v in j.values())  # graded
    assert max(len(r) for r in ranked) < max(KS)  # k beyond run length


def test_mean_is_over_the_queries_pytrec_eval_returns():
    qrels, run = random_case(3)
    ref = trec_eval_scores(qrels, run)
    means = mean_metrics(evaluate(qrels, run, KS))
    assert means["ndcg_at_10"] == pytest.approx(sum(r["ndcg_cut_10"] for r in ref.values()) / len(ref), abs=1e-9)
    assert means["recall_at_100"] == pytest.approx(sum(r["recall_100"] for r in ref.values()) / len(ref), abs=1e-9)


# Hand-worked: qrels q1 = {d1: 1, d2: 2, d3: 0}; run ranks d1, d2, d9.
HAND_QRELS = {"q1": {"d1": 1, "d2": 2, "d3": 0}}
HAND_RUN = {"q1": {"d1": 2.0, "d2": 1.0, "d9": 0.5}}
IDCG_2 = 2 + 1 / math.log2(3)


@pytest.mark.parametrize(
    "key, expected",
    [
        ("ndcg_at_1", 1 / 2),  # gain 1 where the ideal has gain 2
        ("ndcg_at_3", (1 + 2 / math.log2(3)) / IDCG_2),
        ("map_at_1", 1 / 2),  # precision 1 at the one relevant doc seen, over 2 relevant
        ("map_at_3", (1 / 1 + 2 / 2) / 2),
        ("recall_at_1", 1 / 2),
        ("recall_at_3", 1.0),
        ("precision_at_1", 1.0),
        ("precision_at_3", 2 / 3),
        ("precision_at_10", 2 / 10),  # divides by k, not by the 3 retrieved
        ("mrr_at_1", 1.0),
    ],
)
def test_hand_computed_values(key, expected):
    assert evaluate(HAND_QRELS, HAND_RUN, (1, 3, 10))["q1"][key] == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize(
    "doc_scores, expected",
    [
        ({"a": 1.0, "b": 1.0, "c": 2.0}, ["c", "b", "a"]),  # ties: doc id descending
        ({"10": 1.0, "9": 1.0}, ["9", "10"]),  # ids compare as strings, not numbers
        ({"x": 0.1, "y": 0.3, "z": 0.2}, ["y", "z", "x"]),
    ],
)
def test_rank_follows_trec_eval(doc_scores, expected):
    assert rank(doc_scores) == expected


def test_tie_breaking_changes_the_score():
    qrels = {"q": {"a": 1}}
    scores = evaluate(qrels, {"q": {"a": 1.0, "b": 1.0}}, (1, 10))["q"]
    assert scores["precision_at_1"] == 0.0  # b outranks a on the tie
    assert scores["mrr_at_10"] == 0.5


def test_query_sets():
    qrels = {"judged": {"d": 1}, "unretrieved": {"d": 1}, "hopeless": {"d": 0}}
    run = {"judged": {"d": 1.0}, "unjudged": {"d": 1.0}, "hopeless": {"d": 1.0}}
    out = evaluate(qrels, run, (10,))
    assert set(out) == {"judged", "hopeless"}
    assert set(out["hopeless"].values()) == {0.0}
    assert mean_metrics(out)["recall_at_10"] == 0.5


def test_keys_are_mteb_names():
    assert set(evaluate(HAND_QRELS, HAND_RUN)["q1"]) == set(metric_keys())
    assert {"ndcg_at_10", "map_at_10", "recall_at_100", "precision_at_10", "mrr_at_10"} <= set(metric_keys())


@pytest.mark.parametrize("ks", [(), (0,), (5, -1)])
def test_bad_cutoffs_are_rejected(ks):
    with pytest.raises(ValueError):
        evaluate(HAND_QRELS, HAND_RUN, ks)


def test_nan_scores_are_rejected():
    with pytest.raises(ValueError, match="NaN"):
        evaluate(HAND_QRELS, {"q1": {"d1": float("nan")}})


def test_mean_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        mean_metrics(evaluate(HAND_QRELS, {"other": {"d1": 1.0}}))


def test_drop_self_hits_and_truncate():
    run = {"q1": {"q1": 9.0, "d1": 1.0, "d2": 2.0}, "q2": {"d1": 1.0}}
    assert drop_self_hits(run) == {"q1": {"d1": 1.0, "d2": 2.0}, "q2": {"d1": 1.0}}
    assert truncate(run, 2) == {"q1": {"q1": 9.0, "d2": 2.0}, "q2": {"d1": 1.0}}
