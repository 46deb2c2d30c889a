"""CRITIC loop with a scripted backend: fixes, breaks, one backend batch per round, resume."""
from __future__ import annotations

import json

import pytest
from fakes import ScriptedBackend

from evalkit.core.registry import backends
from evalkit.loops.critic import parse_critique
from evalkit.run.runner import RunConfig, run


def answers(data_dir, n=25):
    lines = (data_dir / "math/math500_test.jsonl").read_text().splitlines()[:n]
    return [json.loads(x)["answer"] for x in lines]


def is_critic(req) -> bool:
    return "\nTool output:\n" in req.prompt and req.prompt.rstrip().endswith("Critique:")


def critic_round(req) -> int:
    """1 + how many earlier critique rounds this chain's solution went through
    (the scripted revisions carry a "[rev N]" tag)."""
    sol = req.prompt.rsplit("\nSolution:\n", 1)[1]
    return 1 + sol.count("[rev")


def run_critic(tmp_path, data_dir, answer, limit, **kw):
    backend = ScriptedBackend(answer)
    backends.replace("scripted", lambda target, **_: backend)
    res = run(RunConfig(model="scripted:x", tasks=["math500"], limit=limit, data_dir=str(data_dir),
                        store=tmp_path / "s.db", options={"critic": True, **kw}))
    return res, backend


def test_parse_critique():
    assert parse_critique("Looks fine. The answer is correct.")[1:] == (True, None)
    crit, verdict, rev = parse_critique("2+2 is 4. The answer is incorrect.\nRevised solution:\n$\\boxed{4}$")
    assert verdict is False and rev == "$\\boxed{4}$" and crit.endswith("incorrect.")
    assert parse_critique("hmm")[1] is None


def test_critic_fixes_a_wrong_answer_and_breaks_a_right_one(tmp_path, data_dir):
    gold = answers(data_dir)

    def answer(req, k):
        if not is_critic(req):  # round 0: doc 3 wrong, doc 5 right
            return f"The answer is $\\boxed{{{'1234' if req.doc_id == 3 else gold[req.doc_id]}}}$."
        r = critic_round(req)
        assert "Final answer extracted:" in req.prompt  # the tool's verdict reached the critic
        if r == 1 and req.doc_id == 3:
            return f"Wrong sum. The answer is incorrect.\nRevised solution:\n[rev 1] So $\\boxed{{{gold[3]}}}$."
        if r == 1 and req.doc_id == 5:
            return "I doubt it. The answer is incorrect.\nRevised solution:\n[rev 1] So $\\boxed{41}$."
        return "Checked. The answer is correct."

    res, backend = run_critic(tmp_path, data_dir, answer, limit=6, max_rounds=3)
    recs = {r.doc_id: r for r in res.records["math500"]}
    fixed, broken = recs[3], recs[5]
    assert fixed.metrics["acc_round_0"] == 0 and fixed.metrics["acc_round_1"] == 1 and fixed.score == 1
    assert broken.metrics["acc_round_0"] == 1 and broken.metrics["acc_round_1"] == 0 and broken.score == 0
    for r in (fixed, broken):  # stopped after round 2's "correct": carried to the last round
        assert r.metrics["acc_round_2"] == r.metrics["acc_round_3"] == r.score
        assert r.metrics["critic_rounds"] == 2
        assert [s["round"] for s in r.trace] == [0, 1, 2] and r.trace[-1]["stop"] == "verdict correct"
    assert fixed.metrics["flip_wrong_to_right"] == 1 and fixed.metrics["flip_right_to_wrong"] == 0
    assert broken.metrics["flip_right_to_wrong"] == 1 and broken.metrics["flip_wrong_to_right"] == 0
    assert recs[0].metrics["critic_rounds"] == 1  # said correct at once

    out = res.results["math500"]
    assert out["acc_round_0"] == pytest.approx(5 / 6) and out["acc_round_1"] == pytest.approx(5 / 6)
    assert out["flip_wrong_to_right"] == pytest.approx(1 / 6) and out["flip_right_to_wrong"] == pytest.approx(1 / 6)
    assert out["exact_match"] == out["acc_round_3"]
    # rounds 0, 1 (all six docs), 2 (docs 3 and 5 only); round 3 has nothing left to do
    assert [len(c) for c in backend.calls] == [6, 6, 2]


def test_one_backend_batch_per_round_and_resume(tmp_path, data_dir):
    """20 docs, every critique revises to a new answer: each round is ONE batch of all 20."""
    def answer(req, k):
        if not is_critic(req):
            return "So $\\boxed{1000}$."
        r = critic_round(req)
        return f"No. The answer is incorrect.\nRevised solution:\n[rev {r}] So $\\boxed{{{1000 + r}}}$."

    res, backend = run_critic(tmp_path, data_dir, answer, limit=20, max_rounds=2)
    assert [len(c) for c in backend.calls] == [20, 20, 20]
    assert {r.doc_id for r in backend.calls[1]} == set(range(20))
    rec = res.records["math500"][0]
    assert rec.extracted == "1002" and len(rec.trace) == 3 and rec.metrics["critic_rounds"] == 2

    again, backend2 = run_critic(tmp_path, data_dir, answer, limit=20, max_rounds=2)  # same store: all cached
    assert backend2.calls == [] and again.results["math500"] == res.results["math500"]


def test_unchanged_answer_stops_the_loop(tmp_path, data_dir):
    def answer(req, k):
        if not is_critic(req):
            return "So $\\boxed{0.5}$."
        return "Hmm. The answer is incorrect.\nRevised solution:\n[rev 1] So $\\boxed{\\frac12}$."

    res, backend = run_critic(tmp_path, data_dir, answer, limit=2, max_rounds=3)
    assert len(backend.calls) == 2
    assert all(r.trace[-1]["stop"] == "answer unchanged" for r in res.records["math500"])


def test_critic_with_samples_aggregates_each_round(tmp_path, data_dir):
    gold = answers(data_dir)

    def answer(req, k):
        if not is_critic(req):  # samples 0,1 wrong, 2 right: majority wrong at round 0
            return f"So $\\boxed{{{gold[req.doc_id] if k == 2 else '777'}}}$."
        if critic_round(req) == 1 and "777" in req.prompt:
            return f"Bad. The answer is incorrect.\nRevised solution:\n[rev 1] So $\\boxed{{{gold[req.doc_id]}}}$."
        return "The answer is correct."

    backend = ScriptedBackend(answer)
    backends.replace("scripted", lambda target, **_: backend)
    res = run(RunConfig(model="scripted:x", tasks=["math500"], limit=2, samples=3, data_dir=str(data_dir),
                        store=tmp_path / "s.db", options={"critic": True, "max_rounds": 1}))
    assert [len(c) for c in backend.calls] == [6, 6]  # a chain per (doc, sample), still one batch per round
    for r in res.records["math500"]:
        assert r.metrics["acc_round_0"] == 0 and r.metrics["acc_round_1"] == 1 and len(r.outputs) == 3
