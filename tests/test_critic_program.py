"""CRITIC as the paper ran it (gsm8k_critic), driven round by round by a scripted
backend, with the real sandbox running each program."""
from __future__ import annotations

import json

import pytest
from fakes import ScriptedBackend

from evalkit.benchmarks.gsm8k import gold_answer
from evalkit.core.registry import backends
from evalkit.loops import rules
from evalkit.loops.critic_program import BETTER, critic_metrics
from evalkit.run.runner import RunConfig, run

TASK = "gsm8k_critic"


def golds(data_dir, n=10):
    return [gold_answer(json.loads(x)["answer"]) for x in (data_dir / "gsm8k/test.jsonl").read_text().splitlines()[:n]]


def go(tmp_path, data_dir, answer, limit, model="scripted:x", output=None, **options):
    backend = ScriptedBackend(answer)
    backends.replace("scripted", lambda target, **_: backend)
    res = run(RunConfig(model=model, tasks=[TASK], limit=limit, data_dir=str(data_dir), store=tmp_path / "s.db",
                        output=output, options=options))
    return res, backend


def kind(req) -> str:
    if req.prompt.endswith(BETTER):
        return "revision"
    if req.prompt.endswith("What's the problem with the above code?\n\n"):
        return "critique"
    assert req.prompt.endswith("# Python code, return answer\n")
    return "initial"


def rnd(req) -> int:
    """Which critic round this request belongs to: each round samples with its own seed."""
    return (req.params.seed - 1234) // 1_000_003


@pytest.mark.parametrize("preds,want", [
    ([1, None, None, 2, None], [1, 1, 1, 2, 2]),
    ([None, 3], [None, 3]),
])
def test_none_carried_forward(preds, want):
    assert rules.carry_forward(preds) == want


@pytest.mark.parametrize("preds,stop", [([1, 2, 2, 2, 3], 3), ([1, 1, 1, 2, 2], 2), ([1, 2, 1, 2, 1], None),
                                        ([1, 1, 2, 2, 3], None)])
def test_unchanged_twice(preds, stop):
    assert rules.unchanged_twice(preds) == stop


def test_metrics_oracle_and_flips():
    correct = lambda a: a == 5  # noqa: E731
    agg = lambda answers: float(correct(answers[0]))  # noqa: E731
    # wrong, right, right, right (stop at 3: unchanged twice), then a right->wrong change that is never counted
    m, finals = critic_metrics([[1, 5, 5, 5, 7]], correct, agg, 4)
    assert [m[f"acc_round_{r}"] for r in range(5)] == [0, 1, 1, 1, 1] and finals == [5]
    assert m["flip_wrong_to_right"] == 1 and m["flip_right_to_wrong"] == 0 and m["critic_rounds"] == 3
    # a right answer broken at round 1 and never repaired: CRITIC counts the break, the oracle stops at round 0
    m, _ = critic_metrics([[5, 7, 8, 9, 9]], correct, agg, 4)
    assert m["acc_round_4"] == 0 and m["flip_right_to_wrong"] == 1
    assert [m[f"oracle_acc_round_{r}"] for r in range(5)] == [1] * 5 and m["acc_oracle"] == 1


def test_loop_round_by_round(tmp_path, data_dir):
    g = golds(data_dir)

    def answer(req, k):
        d, what = req.doc_id, kind(req)
        if what == "initial":
            return "x = 1\nanswer = x + 1000\n" if d != 2 else f"answer = {g[d]}\n"
        r = rnd(req)
        if what == "critique":
            assert "Execution: " in req.prompt and "Output: answer = " in req.prompt
            if d == 1 and r in (2, 3):  # rounds 1-2's revision crashed: the critic sees the round-0 program again
                assert "answer = x + 1000" in req.prompt.rsplit("Question:", 1)[1]
            return f"1. It looks off (round {r})."
        # revisions
        if d == 0:  # fixed at round 1, then the same program twice: unchanged twice stops at round 3
            return f"answer = {g[d]}  # r1" if r == 1 else (f"answer = {g[d]}  # r{r}" if r < 4 else "answer = -1  # r4")
        if d == 1:  # crashes (None, carried forward), then fixed at round 3
            return f"answer = undefined_name  # r{r}" if r <= 2 else f"answer = {g[d]}  # r{r}"
        return "x = 1\nanswer = x + 1000\n" if d == 2 else f"answer = 7  # r{r}"  # doc 2: right, broken at round 1

    res, backend = go(tmp_path, data_dir, answer, limit=3)
    assert [len(c) for c in backend.calls] == [3] + [3] * 8  # round 0, then critique and revision per round
    crit, rev = backend.calls[1][0].params, backend.calls[2][0].params
    assert (crit.max_tokens, crit.temperature, crit.stop) == (500, 0.5, ("Here's", "---"))
    assert (rev.max_tokens, rev.temperature, rev.stop) == (400, 0.5, ("```", "---"))
    assert backend.calls[0][0].params.temperature == 0 and backend.calls[0][0].params.max_tokens == 400
    recs = {r.doc_id: r for r in res.records[TASK]}
    m0, m1, m2 = recs[0].metrics, recs[1].metrics, recs[2].metrics
    assert [m0[f"acc_round_{r}"] for r in range(5)] == [0, 1, 1, 1, 1]  # round 4's -1 comes after the stop
    assert recs[0].score == 1 and m0["critic_rounds"] == 3
    assert [s["answer"] for s in recs[1].trace] == [1001.0, None, None, float(g[1]), float(g[1])]
    # None carried forward makes rounds 0-2 equal, so the reference's rule stops there: the late fix never counts
    assert [m1[f"acc_round_{r}"] for r in range(5)] == [0] * 5 and m1["critic_rounds"] == 2
    assert m1["oracle_acc_round_3"] == 1 and m1["oracle_acc_round_2"] == 0
    assert recs[1].trace[2]["base_round"] == 0 and recs[1].trace[1]["report"].startswith("NameError")
    assert m2["acc_round_0"] == 1 and m2["acc_round_4"] == 0 and m2["flip_right_to_wrong"] == 1
    assert m2["acc_oracle"] == 1
    assert res.results[TASK]["acc_round_4"] == pytest.approx(1 / 3)


def test_unchanged_revision_keeps_the_base(tmp_path, data_dir):
    def answer(req, k):
        return "answer = 5\n" if kind(req) != "critique" else "1. Looks fine."

    res, backend = go(tmp_path, data_dir, answer, limit=1)
    rec = res.records[TASK][0]
    assert [s.get("corrected") for s in rec.trace[1:]] == [False] * 4
    assert rec.metrics["critic_rounds"] == 2  # rounds 0, 1, 2 equal: stop at 2


def test_replay_rescoring_and_resume(tmp_path, data_dir):
    g = golds(data_dir)

    def answer(req, k):
        what = kind(req)
        if what == "critique":
            return "1. Check it."
        return f"answer = {g[req.doc_id]}  # r{rnd(req)}" if what == "revision" and req.doc_id % 2 else "answer = 3\n"

    out = tmp_path / "out"
    res, backend = go(tmp_path, data_dir, answer, limit=4, output=out)
    again, backend2 = go(tmp_path, data_dir, answer, limit=4)  # same store: every round comes from the cache
    assert backend2.calls == [] and again.results[TASK] == res.results[TASK]
    replayed = run(RunConfig(model=f"replay:{out}", tasks=[TASK], limit=4, data_dir=str(data_dir),
                             store=tmp_path / "r.db"))
    assert replayed.results[TASK] == res.results[TASK]
    assert res.results[TASK]["exact_match"] == 0.5
    assert [r.metrics for r in replayed.records[TASK]] == [r.metrics for r in res.records[TASK]]


def test_gold_programs_score_100(tmp_path, data_dir):
    g = golds(data_dir, 15)

    def answer(req, k):
        return "1. Fine." if kind(req) == "critique" else f"total = {g[req.doc_id]}\nanswer = total\n"

    res, _ = go(tmp_path, data_dir, answer, limit=15)
    assert res.results[TASK]["exact_match"] == 1.0 and res.results[TASK]["acc_round_0"] == 1.0


def test_a_killed_run_resumes_round_by_round(tmp_path, data_dir):
    """The backend dies in round 2's critique batch; the rerun sends only what is missing."""
    g = golds(data_dir)

    def answer(req, k):
        what = kind(req)
        if what == "critique":
            return f"1. Round {rnd(req)} check."
        return f"answer = {g[req.doc_id]}  # r{rnd(req)}" if what == "revision" and rnd(req) >= 2 else "answer = 3\n"

    clean, _ = go(tmp_path / "clean", data_dir, answer, limit=3)

    calls = []

    def dying(req, k):
        calls.append(req)
        if kind(req) == "critique" and rnd(req) == 2:
            raise KeyboardInterrupt
        return answer(req, k)

    (tmp_path / "k").mkdir()
    with pytest.raises(KeyboardInterrupt):
        go(tmp_path / "k", data_dir, dying, limit=3)
    resumed, backend = go(tmp_path / "k", data_dir, answer, limit=3)
    sent = [kind(r) + str(rnd(r)) for c in backend.calls for r in c]
    assert "initial0" not in sent and "critique1" not in sent and "revision1" not in sent  # rounds 0-1 cached
    assert sent.count("critique2") == 3 and len(sent) == 3 * 6  # rounds 2-4, critique and revision
    assert resumed.results[TASK] == clean.results[TASK]


def test_replay_of_a_shorter_run_says_what_is_missing(tmp_path, data_dir):
    from evalkit.core.errors import BackendError

    out = tmp_path / "out"
    go(tmp_path, data_dir, lambda req, k: "1. Fine." if kind(req) == "critique" else "answer = 3\n", limit=1,
       output=out, max_rounds=1)
    with pytest.raises(BackendError, match="asked for more"):
        run(RunConfig(model=f"replay:{out}", tasks=[TASK], limit=1, data_dir=str(data_dir), store=tmp_path / "r.db"))
