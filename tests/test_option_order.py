"""--permute-options: orders, gold remapping and the robustness metrics.

A gold replay (the remapped gold letter) scores 1.0 in every order, on real BBH
and AGIEval data, in generate and in log-likelihood mode; the option the gold
letter points to is the same text in every order.
"""
from __future__ import annotations

import pytest

from evalkit.core.types import Loglikelihood, SampleRecord
from evalkit.evaluators.generate import DocScorer
from evalkit.evaluators.multiple_choice import _Doc, score_doc
from evalkit.run.context import TaskRun
from evalkit.run.robustness import _permutable
from evalkit.spec.loaders import load_docs
from evalkit.spec.option_order import (
    bbh_options,
    n_options,
    order_metrics,
    orders,
    original_letters,
    permute_doc,
    remap_letters,
)
from evalkit.spec.prompts import PromptBuilder
from evalkit.spec.taskspec import load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_cyclic_shifts_when_k_fits_else_seeded_permutations():
    assert orders(4, 4, 0, 1) == [(0, 1, 2, 3), (1, 2, 3, 0), (2, 3, 0, 1), (3, 0, 1, 2)]
    assert orders(5, 3, 0, 1) == [(0, 1, 2, 3, 4), (1, 2, 3, 4, 0), (2, 3, 4, 0, 1)]
    two = orders(2, 4, 0, 7)
    assert two[0] == (0, 1) and len(two) == 4 and all(sorted(p) == [0, 1] for p in two)
    assert orders(2, 4, 0, 7) == two and orders(3, 6, 1, 7) != orders(3, 6, 2, 7)


def test_remap_round_trip():
    perm = (2, 0, 3, 1)  # position p shows original option perm[p]
    assert remap_letters("A", perm) == "B"  # original A (0) sits at position 1
    assert remap_letters("AC", perm) == "AB"  # C (2) is shown first
    assert original_letters("B", perm) == "A"
    for letters in ("A", "B", "C", "D", "BD"):
        assert original_letters(remap_letters(letters, perm), perm) == letters


def _gold_text(doc, kind, target):
    if kind == "bbh":
        opts = dict(bbh_options(doc.fields["input"]))
        return opts[doc.fields[target].strip()[1]]
    from evalkit.spec.option_order import _AGI_PREFIX

    return sorted(o[m.end():] for o in doc.fields["options"] if (m := _AGI_PREFIX.match(o)) and m.group(1) in doc.fields[target])


@pytest.mark.parametrize("name,k", [("bbh_direct_date_understanding", 4), ("bbh_direct_snarks", 4),
                                    ("bbh_direct_logical_deduction_five_objects", 3), ("agieval_aqua_rat", 4),
                                    ("agieval_lsat_ar", 7), ("agieval_jec_qa_kd", 4)])
def test_gold_replay_scores_one_in_every_order(catalog, data_dir, name, k):
    spec = catalog.tasks[name]
    docs = load_docs(spec.dataset, data_dir, 25)
    kind = "bbh" if spec.extractor == "bbh" else "agieval"
    assert _permutable(TaskRun(spec, docs, PromptBuilder(spec, data_dir)))
    scorer = DocScorer(spec, "first")
    checked = 0
    for doc in docs:
        n = n_options(doc, kind, spec.target)
        if n < 2:
            continue
        for perm in orders(n, k, 3, doc.id):
            pd = permute_doc(doc, kind, spec.target, perm)
            if perm == tuple(range(n)):
                assert pd.fields == doc.fields
            assert _gold_text(pd, kind, spec.target) == _gold_text(doc, kind, spec.target)
            gold = pd.fields[spec.target]
            gold = "".join(gold) if isinstance(gold, list) else gold
            rec = scorer.record(pd, "", [f" {gold}"])
            assert rec.score == 1.0, (perm, gold, rec.extracted, rec.target)
            checked += 1
    assert checked >= 25


def test_loglikelihood_mode_follows_the_content(catalog, data_dir):
    """A scorer that prefers the gold option's text picks it in every order."""
    spec = catalog.tasks["agieval_mc_logiqa_en"]
    docs = load_docs(spec.dataset, data_dir, 10)
    run = TaskRun(spec, docs, PromptBuilder(spec, data_dir))
    assert _permutable(run)
    for doc in docs:
        if n_options(doc, "agieval", spec.target) < 2:
            continue
        gold_text = _gold_text(doc, "agieval", spec.target)[0]
        for perm in orders(4, 4, 0, doc.id):
            d = _Doc(run, permute_doc(doc, "agieval", spec.target, perm))
            lls = [Loglikelihood(0.0 if c.endswith(gold_text) else -5.0, False) for c in d.choices]
            assert score_doc(run, d, lls).score == 1.0


def test_non_letter_tasks_are_not_permuted(catalog, data_dir):
    for name in ("bbh_direct_navigate", "bbh_direct_object_counting", "agieval_math"):
        spec = catalog.tasks[name]
        assert not _permutable(TaskRun(spec, load_docs(spec.dataset, data_dir, 5), PromptBuilder(spec, data_dir)))


def _rec(doc_id, extracted, target, score):
    return SampleRecord("t", doc_id, "", [], target, extracted, score)


def test_order_metrics_by_hand():
    # two docs, two orders of two options; perm of order 1 swaps them.
    perms = {0: [(0, 1), (1, 0)], 1: [(0, 1), (1, 0)]}
    order0 = {0: _rec(0, "(A)", "(A)", 1.0), 1: _rec(1, "(A)", "(B)", 0.0)}
    # doc 0: picks position B = original A again (consistent, right); doc 1: picks A = original B (inconsistent)
    order1 = {0: _rec(0, "(B)", "(B)", 1.0), 1: _rec(1, "(A)", "(A)", 1.0)}
    m = order_metrics([order0, order1], perms, "acc")
    assert m["acc_order_0"] == 0.5 and m["acc_order_1"] == 1.0
    assert m["acc_all_orders"] == 0.5
    assert m["answer_consistency"] == 0.5
    assert m["position_pick_A"] == 0.75 and m["position_pick_B"] == 0.25
    assert m["position_gold_A"] == 0.5 and m["position_gold_B"] == 0.5
