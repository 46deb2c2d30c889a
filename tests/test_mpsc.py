"""MPSC: the graph ranking on hand-built graphs, parsing of specs and tests, and
the whole loop through the runner with a scripted backend."""
from __future__ import annotations

import numpy as np
import pytest

from evalkit.scoring.aggregators import mpsc
from evalkit.scoring.aggregators.mpsc import Consistency, parse_specs, parse_tests, pick, rank, solution_prior


def test_rank_is_the_closed_form_fixed_point():
    rng = np.random.default_rng(0)
    W = rng.random((6, 6))
    W = W + W.T
    np.fill_diagonal(W, 0)
    y0 = rng.random(6)
    d = 1 / np.sqrt(W.sum(1))
    Wn = d[:, None] * W * d[None, :]
    expected = 0.05 * np.linalg.solve(np.eye(6) - 0.95 * Wn, y0)
    assert rank(W, y0, 0.95, iters=5000, tol=1e-13) == pytest.approx(expected, rel=1e-6)


def test_rank_on_a_hand_built_graph():
    # vertices: s0 s1 s2 | t0 t1. s0 passes both tests, s1 one, s2 none.
    W = np.zeros((5, 5))
    for s, t in ((0, 3), (0, 4), (1, 3)):
        W[s, t] = W[t, s] = 1
    f = rank(W, np.full(5, 0.2), alpha=0.9)
    assert list(np.argsort(-f[:3])) == [0, 1, 2]
    assert f[2] == pytest.approx(0.1 * 0.2)  # an isolated vertex keeps (1 - alpha) * y0


def test_prior_decides_without_edges():
    f = rank(np.zeros((3, 3)), np.array([0.2, 0.5, 0.3]))
    assert int(np.argmax(f)) == 1


def test_minority_solution_consistent_with_tests_and_specs_wins():
    # three identical wrong solutions pass 1 of 3 tests and half the spec; one right one passes all
    c = Consistency(sol_test=np.array([[1, 0, 0]] * 3 + [[1, 1, 1]], dtype=float),
                    sol_spec=np.array([[1 / 3]] * 3 + [[1.0]]),
                    spec_test=np.array([[1, 1, 1]], dtype=float),
                    outputs=[("False", "False", "False")] * 3 + [("False", "True", "True")])
    assert list(solution_prior(c.outputs)) == [0.75, 0.75, 0.75, 0.25]
    best, scores = pick(c)
    assert best == 3 and scores[3] > max(scores[:3])


def test_parse_tests_keeps_well_formed_asserts():
    texts = ["[1, 2]) == 3\nassert f([]) == 0\nassert f([1]) != 2\nassert g(1) == 1\nassert f(1) == 1",
             "```python\nassert f([]) == 0\nassert f(x=1) == 2\n```"]
    assert parse_tests(texts, "f") == ["assert f([1, 2]) == 3", "assert f([]) == 0", "assert f(1) == 1"]
    assert mpsc.test_parts("assert f(1, [2]) == 'a'", "f") == ("(1, [2], )", "'a'")


def test_parse_specs_completes_and_dedups():
    body = "xs, output):\n    assert output >= 0\n\nprint(1)"
    specs = parse_specs([body, body, "```python\ndef postcondition(xs, output):\n    assert output == sum(xs)\n```",
                         "broken(:\n"])
    assert specs == ["def postcondition(xs, output):\n    assert output >= 0\n",
                     "def postcondition(xs, output):\n    assert output == sum(xs)\n"]


CANON = ("    for i, a in enumerate(numbers):\n        for j, b in enumerate(numbers):\n"
         "            if i != j and abs(a - b) < threshold:\n                return True\n    return False\n")


def _answer(req, k):
    if req.doc_id == 1:  # doc 1: no usable tests or specs; every solution is the same
        return {"humaneval": "    return []\n"}.get(req.task, "???")
    if req.task == "humaneval":
        return CANON if k == 3 else "    return False\n"
    if req.task == "humaneval:mpsc_tests":
        return ("[1.0, 2.0, 3.0], 0.5) == False\nassert has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) == True\n"
                "assert has_close_elements([1.0, 1.05], 0.1) == True")
    assert req.task == "humaneval:mpsc_specs"
    return ("numbers, threshold, output):\n    assert output == any(abs(a - b) < threshold "
            "for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)")


def test_mpsc_through_the_runner_picks_the_minority_solution(tmp_path, data_dir):
    from fakes import ScriptedBackend

    from evalkit.core.registry import backends
    from evalkit.run.runner import RunConfig, run

    made = []
    backends.replace("scripted_code", lambda target, **kw: made.append(ScriptedBackend(_answer)) or made[-1])
    res = run(RunConfig(model="scripted_code:x", tasks=["humaneval"], limit=2, samples=4, aggregator="mpsc",
                        data_dir=str(data_dir), store=tmp_path / "s.db"))
    r0, r1 = res.records["humaneval"]
    assert r0.scores_all == [0, 0, 0, 1] and r0.metrics["pass@1"] == 0.25
    assert r0.metrics["mpsc_pass@1"] == 1.0 and r0.trace[-1]["mpsc"]["pick"] == 3
    assert len(r0.trace[-1]["mpsc"]["tests"]) == 3 and len(r0.trace[-1]["mpsc"]["specs"]) == 1
    assert r1.metrics["mpsc_pass@1"] == 0.0 and r1.trace[-1]["mpsc"]["tests"] == []
    assert res.results["humaneval"]["mpsc_pass@1"] == 0.5 and res.results["humaneval"]["pass@1"] == 0.125
    calls = made[-1].calls
    assert [{r.task for r in c} for c in calls] == [{"humaneval"}, {"humaneval:mpsc_specs"}, {"humaneval:mpsc_tests"}]
    assert all(len(c) == 2 and c[0].params.n == 4 for c in calls)  # one batch per perspective, all docs


def test_mpsc_on_a_non_code_task_is_refused(tmp_path, data_dir):
    """Refused before any compute (it used to zero every sample with an error, silently)."""
    from fakes import ScriptedBackend

    from evalkit.core.errors import ConfigError
    from evalkit.core.registry import backends
    from evalkit.run.runner import RunConfig, run

    backends.replace("scripted_code", lambda target, **kw: ScriptedBackend(lambda r, k: "So the answer is Yes."))
    with pytest.raises(ConfigError, match="mpsc needs a code task"):
        run(RunConfig(model="scripted_code:x", tasks=["bbh_navigate"], limit=1, samples=2, aggregator="mpsc",
                      data_dir=str(data_dir), store=tmp_path / "s.db"))


def test_sandbox_programs_give_the_edge_weights():
    from evalkit.sandbox import run_many

    prompt = "def f(x):\n    \"\"\"Double x.\"\"\"\n"
    tests = ["assert f(1) == 2", "assert f(2) == 4", "assert f(3) == 7"]  # the last test is wrong
    specs = ["def postcondition(x, output):\n    assert output == 2 * x\n",
             "def postcondition(x, output):\n    assert output > 100\n"]
    sols = ["    return 2 * x\n", "    return x + 1\n", "    while True: pass\n"]
    progs = [mpsc.solution_program(prompt, s, "f", tests, specs) for s in sols]
    progs.append(mpsc.spec_test_program(prompt, "f", tests, specs))
    res = run_many(progs, cpu_s=30.0, timeout_s=20.0)  # calls are limited in CPU time: so is the program
    c = mpsc.consistency(3, 2, [r.stdout for r in res[:3]], res[3].stdout)
    assert c.sol_test.tolist() == [[1, 1, 0], [1, 0, 0], [0, 0, 0]]  # the loop times out per call
    assert c.sol_spec.tolist() == [[1, 0], [1 / 3, 0], [0, 0]]
    assert c.spec_test.tolist() == [[1, 1, 0], [0, 0, 0]]
    assert c.outputs[0] == ("2", "4", "6") and c.outputs[2] == ("<TimeoutError>",) * 3
