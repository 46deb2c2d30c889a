"""ToRA and PAL as microsoft/ToRA and reasoning-machines/pal run them (gsm8k_tora,
gsm8k_pal, math500_tora), driven by a scripted backend with the real sandbox."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from fakes import ScriptedBackend

from evalkit.benchmarks.gsm8k import gold_answer
from evalkit.core.registry import backends
from evalkit.loops.tora import tora_answer, tora_output
from evalkit.run.runner import RunConfig, run


def golds(data_dir, n=None):
    lines = (data_dir / "gsm8k/test.jsonl").read_text().splitlines()
    return [gold_answer(json.loads(x)["answer"]) for x in lines[:n]]


def go(tmp_path, data_dir, task, answer, limit, output=None, **options):
    backend = ScriptedBackend(answer)
    backends.replace("scripted", lambda target, **_: backend)
    res = run(RunConfig(model="scripted:x", tasks=[task], limit=limit, data_dir=str(data_dir),
                        store=tmp_path / "s.db", output=output, options=options))
    return res, backend


@pytest.mark.parametrize("text,want", [
    ("so $\\boxed{\\frac{1}{2}}$ and more", "\\frac{1}{2}"),
    ("Thus the answer is: 42.\nQuestion: x", "42"),  # the part after the last "Question:" has no number
    ("Thus the answer is: 42.", "42"),
    ("```python\nprint(7)\n```\n```output\n7\n```\nReach max function call limit.", "7"),
    ("I think 3, no 4,000 apples", "4000"),
    ("no answer here", None),
])
def test_tora_answer(text, want):
    assert tora_answer(text) == (want if text != "Thus the answer is: 42.\nQuestion: x" else None)


def test_tool_output_is_cut_to_first_and_last_halves():
    res = SimpleNamespace(stdout="a" * 80 + "b" * 80, passed=True, reason="", status="passed")
    assert tora_output(res, 100) == "a" * 50 + "..." + "b" * 50
    err = SimpleNamespace(stdout="", passed=False, reason="NameError", error_text="NameError: name 'y' is not defined",
                          status="failed")
    assert tora_output(err, 100) == "NameError: name 'y' is not defined"


def test_fourth_program_still_runs_and_last_output_block_is_the_answer(tmp_path, data_dir):
    g = golds(data_dir, 3)

    def answer(req, k):
        assert req.params.max_tokens == 1024 and {"---", "```output"} <= set(req.params.stop)
        calls = req.prompt.split("Solution:\n")[-1].count("```output")
        return f"Step {calls}.\n```python\nprint({g[req.doc_id]} + {calls} - 3)\n```"

    res, backend = go(tmp_path, data_dir, "gsm8k_tora", answer, limit=3)
    assert [len(c) for c in backend.calls] == [3, 3, 3, 3]  # four generations, no fifth
    for rec in res.records["gsm8k_tora"]:
        assert rec.metrics["tool_calls"] == 4 and [s["status"] for s in rec.trace] == ["passed"] * 4
        assert rec.outputs[0].endswith(f"```output\n{g[rec.doc_id]}\n```\n\nReach max function call limit.")
        assert rec.score == 1  # the 4th program's output (calls=3 -> gold) is the answer


def test_tora_gold_and_wrong_and_replay(tmp_path, data_dir):
    g = golds(data_dir)
    res, _ = go(tmp_path, data_dir, "gsm8k_tora", lambda req, k: f"So it is $\\boxed{{{g[req.doc_id]}}}$.", None)
    assert res.results["gsm8k_tora"]["exact_match"] == 1.0 and len(res.records["gsm8k_tora"]) == 1319
    out = tmp_path / "out"
    wrong, _ = go(tmp_path / "w", data_dir, "gsm8k_tora",
                  lambda req, k: f"The answer is {float(g[req.doc_id]) + 1:g}.", 40, output=out)
    assert wrong.results["gsm8k_tora"]["exact_match"] == 0.0
    again = run(RunConfig(model=f"replay:{out}", tasks=["gsm8k_tora"], limit=40, data_dir=str(data_dir),
                          store=tmp_path / "r.db"))
    assert [r.extracted for r in again.records["gsm8k_tora"]] == [r.extracted for r in wrong.records["gsm8k_tora"]]


def test_pal_reads_the_value_of_solution(tmp_path, data_dir):
    g = golds(data_dir, 20)

    def answer(req, k):
        assert req.params.max_tokens == 512 and req.prompt.endswith("# solution in Python:\n\n\n")
        if req.doc_id == 0:  # prints a sentence, returns the number: the value is the answer
            return f"def solution():\n    print('The answer is', 9)\n    return {g[0]}\n"
        if req.doc_id == 1:  # prints the right number but returns a wrong one
            return f"def solution():\n    print({g[1]})\n    return {g[1]} + 1\n"
        return f"def solution():\n    x = {g[req.doc_id]}\n    result = x\n    return result\n"

    res, _ = go(tmp_path, data_dir, "gsm8k_pal", answer, limit=20)
    recs = {r.doc_id: r for r in res.records["gsm8k_pal"]}
    assert recs[0].score == 1 and recs[0].extracted == g[0]
    assert recs[1].score == 0
    assert all(recs[i].score == 1 for i in range(2, 20))


def test_math_pal_solution_value_is_graded_by_the_math_grader(tmp_path, data_dir):
    def answer(req, k):
        # Fraction, not sympy: the sandbox's interpreter has the standard library only
        return "from fractions import Fraction\n\ndef solution():\n    return Fraction(1, 2)\n"

    res, _ = go(tmp_path, data_dir, "math500_pal", answer, limit=2)
    assert res.records["math500_pal"][0].extracted == "1/2"
