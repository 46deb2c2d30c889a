"""MPSC as the paper's reference runs it: per-perspective priors, dynamic alpha,
edgeless vertices at 0, tie-expanded pass@k, each test input on its own, and a
crashed solution class that never wins."""
from __future__ import annotations

import math

import numpy as np
import pytest

from evalkit.scoring.aggregators import mpsc
from evalkit.scoring.aggregators.mpsc import Consistency


def test_bleu_by_hand():
    ref, hyp = "a b c d e".split(), "a b c d f".split()
    # precisions 4/5, 3/4, 2/3, 1/2; equal lengths: no brevity penalty
    assert mpsc.bleu(ref, hyp) == pytest.approx((0.8 * 0.75 * (2 / 3) * 0.5) ** 0.25)
    assert mpsc.bleu(ref, ref) == pytest.approx(1.0)
    assert mpsc.bleu(ref, "x y".split()) == 0.0  # no unigram in common
    # "a b" against "a b c d e": 4-gram and 3-gram counts are empty (smoothed 0.1/1), brevity penalty e^(1-5/2)
    want = math.exp(1 - 5 / 2) * math.exp((math.log(1) + math.log(1) + math.log(0.1) + math.log(0.1)) / 4)
    assert mpsc.bleu(ref, "a b".split()) == pytest.approx(want)


def graph(sol_test, sol_spec, spec_test, outputs=None):
    sol_test, sol_spec, spec_test = (np.array(x, dtype=float) for x in (sol_test, sol_spec, spec_test))
    return Consistency(sol_test, sol_spec, spec_test, outputs or [("x",)] * sol_test.shape[0])


def test_priors_are_normalised_per_perspective():
    c = graph([[1, 1], [1, 1], [0, 1]], [[1], [1], [0.5]], [[1, 0]])
    texts = (["return a", "return a", "return b"], ["assert output"], ["f(1) == 1", "f(2) == 3"])
    for prior in mpsc.PRIORS:
        _, y0 = mpsc.build_graph(c, prior, texts)
        if prior != "lexical":  # lexical is a mean similarity, as the reference's MBR prior
            assert [y0[b:e].sum() for b, e in mpsc.groups(c)] == pytest.approx([1, 1, 1])
    _, y0 = mpsc.build_graph(c, "semantic")
    # solutions: class {0,1} size 2, agreement with specs 1, with tests 1 -> 2; class {2}: 1 * 0.5 * 0.5
    assert y0[:3] == pytest.approx(np.array([2, 2, 0.25]) / 4.25)
    _, y0 = mpsc.build_graph(c, "uniform")
    assert list(y0) == pytest.approx([1 / 3] * 3 + [1] + [0.5] * 2)
    with pytest.raises(Exception, match="prior"):
        mpsc.build_graph(c, "bogus")


def test_dynamic_alpha():
    dense = graph([[1, 1], [1, 1]], [[1], [1]], [[1, 1]])
    sparse = graph([[0.1, 0], [0, 0]], [[0], [0]], [[0, 0]])
    for c, want in ((dense, 0.95), (sparse, 0.01)):
        W = mpsc.adjacency(c)
        assert mpsc.dynamic_alpha(W, mpsc.groups(c)) == want


def test_edgeless_solution_scores_zero():
    c = graph([[1, 1], [0, 0]], [[1], [0]], [[1, 1]], outputs=[("1", "2"), ("5", "6")])
    scores = mpsc.solution_scores(c)
    assert scores[1] == 0.0 and scores[0] > 0


def test_a_crashed_class_never_wins():
    # no tests parsed, no specs: three crashed samples form the biggest class, one sample ran
    c = graph(np.zeros((4, 0)), np.zeros((4, 0)), np.zeros((0, 0)),
              outputs=[("<crashed>",)] * 3 + [()])
    best, scores = mpsc.pick(c)
    assert best == 3 and max(scores[:3]) < scores[3]
    # every valid test input raised in solutions 0-2; solution 3 returned values
    c = graph([[0, 0]] * 3 + [[0, 0]], [[0]] * 4, [[0, 0]],
              outputs=[("<NameError>", None)] * 3 + [("1", None)])
    assert mpsc.pick(c)[0] == 3
    # all crashed: the ranking still returns one
    assert mpsc.pick(graph(np.zeros((2, 0)), np.zeros((2, 0)), np.zeros((0, 0)), [("<crashed>",)] * 2))[0] == 0


@pytest.mark.parametrize("k,want", [(1, 0.5), (2, 0.5), (5, 1.0)])
def test_tie_expanded_pass_at_k(k, want):
    scores, passed = [0.5, 0.5, 0.2, 0.2, 0.1], [0, 1, 0, 0, 1]
    assert mpsc.tie_pass_at_k(scores, passed, k) == pytest.approx(want)


def test_tie_pass_at_1_is_the_top_groups_pass_rate():
    assert mpsc.tie_pass_at_k([0.3, 0.3, 0.3, 0.1], [1, 0, 0, 1], 1) == pytest.approx(1 / 3)
    assert mpsc.tie_pass_at_k([0.3, 0.2], [0, 1], 2) == 1.0


def test_a_test_that_raises_does_not_disconnect_the_others():
    from evalkit.sandbox import run_many

    prompt = "def f(x):\n    \"\"\"Double x.\"\"\"\n"
    tests = ["assert f(1) == 2", "assert f(undefined_name) == 3", "assert f(2) == 4"]
    progs = [mpsc.solution_program(prompt, "    return 2 * x\n", "f", tests, []),
             mpsc.spec_test_program(prompt, "f", tests, [])]
    res = run_many(progs, timeout_s=20.0)
    c = mpsc.consistency(3, 0, [res[0].stdout], res[1].stdout)
    assert c.sol_test.tolist() == [[1, 0, 1]] and c.outputs[0] == ("2", None, "4")


def test_separate_specs_and_tests_n(tmp_path, data_dir):
    from fakes import ScriptedBackend
    from test_mpsc import _answer

    from evalkit.core.registry import backends
    from evalkit.run.runner import RunConfig, run

    made = []
    backends.replace("scripted_code", lambda target, **kw: made.append(ScriptedBackend(_answer)) or made[-1])
    res = run(RunConfig(model="scripted_code:x", tasks=["humaneval"], limit=1, samples=5, aggregator="mpsc",
                        data_dir=str(data_dir), store=tmp_path / "s.db",
                        options={"mpsc_specs_n": 2, "mpsc_tests_n": 3, "mpsc_prior": "uniform"}))
    assert [c[0].params.n for c in made[-1].calls] == [5, 2, 3]
    rec = res.records["humaneval"][0]
    assert rec.trace[-1]["mpsc"]["prior"] == "uniform"
    assert {"mpsc_pass@1", "mpsc_pass@2", "mpsc_pass@5"} <= set(rec.metrics)
