"""Tool-integrated reasoning (ToRA) and PAL with a scripted backend and the real sandbox."""
from __future__ import annotations

import json

from fakes import ScriptedBackend

from evalkit.core.registry import backends
from evalkit.loops.tora import pal_answer, tool_call
from evalkit.run.runner import RunConfig, run


def gold(data_dir, n=10):
    lines = (data_dir / "math/math500_test.jsonl").read_text().splitlines()[:n]
    return [json.loads(x)["answer"] for x in lines]


def go(tmp_path, data_dir, task, answer, limit, **options):
    backend = ScriptedBackend(answer)
    backends.replace("scripted", lambda target, **_: backend)
    res = run(RunConfig(model="scripted:x", tasks=[task], limit=limit, data_dir=str(data_dir),
                        store=tmp_path / "s.db", options=options))
    return res, backend


def test_tool_call_detection():
    assert tool_call("Let me check.\n```python\nprint(1)\n```\n") == "print(1)\n"
    assert tool_call("```python\nprint(1)\n```\n```output") == "print(1)\n"  # a backend that keeps the stop
    assert tool_call("So the answer is $\\boxed{3}$.") is None
    assert tool_call("```python\nprint(1)\n```\nSo $\\boxed{1}$.") is None  # code, then a final answer
    assert tool_call("```python\nprint(1") is None  # cut by max_tokens
    assert pal_answer("x\n 42 \n\n") == "42" and pal_answer("") is None


def test_tora_trajectory_with_two_tool_calls(tmp_path, data_dir):
    g = gold(data_dir)

    def answer(req, k):
        assert "```output" in req.params.stop
        calls = req.prompt.count("```output\n") - 2  # the prompt's two exemplars have one each
        if calls == 0:
            return "First the sum.\n```python\nprint(2 + 3)\n```\n"
        if calls == 1:
            assert req.prompt.endswith("```output\n5\n```\n")
            return "Now double it.\n```python\nx = 5\nprint(x * 2)\n```\n"
        assert req.prompt.endswith("```output\n10\n```\n")
        return f"Hence the answer is $\\boxed{{{g[req.doc_id]}}}$."

    res, backend = go(tmp_path, data_dir, "math500_tora_lite", answer, limit=3)
    assert [len(c) for c in backend.calls] == [3, 3, 3]  # one batch per round for all docs
    for rec in res.records["math500_tora_lite"]:
        assert rec.score == 1 and rec.metrics["tool_calls"] == 2
        assert [s["round"] for s in rec.trace] == [0, 1, 2]
        assert [s.get("tool_output") for s in rec.trace] == ["5", "10", None]
        assert rec.trace[0]["status"] == "passed"
        out = rec.outputs[0]
        assert out.startswith("First the sum.") and "```output\n5\n```\nNow double it." in out
        assert out.endswith(f"$\\boxed{{{g[rec.doc_id]}}}$.")
    assert res.results["math500_tora_lite"]["exact_match"] == 1.0


def test_tora_caps_tool_calls_and_reports_errors(tmp_path, data_dir):
    def answer(req, k):  # never stops calling the tool, and the program fails
        return "```python\nprint(1/0)\n```\n"

    res, backend = go(tmp_path, data_dir, "math500_tora_lite", answer, limit=2, max_tool_calls=2)
    assert len(backend.calls) == 2  # two generations; the second one's program still runs (as microsoft/ToRA)
    rec = res.records["math500_tora_lite"][0]
    assert rec.metrics["tool_calls"] == 2 and rec.score == 0 and rec.extracted is None
    assert rec.outputs[0].endswith("ZeroDivisionError: division by zero\n```\n\nReach max function call limit.")
    assert "ZeroDivisionError" in rec.trace[0]["tool_output"]


def test_pal_program_answer(tmp_path, data_dir):
    g = gold(data_dir)  # doc 3: 9, doc 5: 42

    def answer(req, k):
        assert req.prompt.endswith("```python")
        return {3: "x = 4 + 5\nprint(x)\n", 5: "print('working')\nprint(6 * 7)\n"}.get(req.doc_id, "print(0)\n")

    res, backend = go(tmp_path, data_dir, "math500_pal_print", answer, limit=6)
    assert len(backend.calls) == 1
    recs = {r.doc_id: r for r in res.records["math500_pal_print"]}
    assert recs[3].score == 1 and recs[3].extracted == "9" and g[3] == "9"
    assert recs[5].score == 1 and recs[5].extracted == "42"
    assert recs[0].score == 0 and recs[0].trace[0]["program"] == "print(0)\n"


def test_pal_programs_use_sympy_as_the_prompt_tells_them(tmp_path, data_dir):
    """The PAL and ToRA prompts ask for sympy (exact fractions and roots); the sandbox lets those
    programs import it, and only it, so an exact answer is graded as the exact value."""
    g = gold(data_dir)  # doc 2: \frac{14}{3}, doc 8: 3\sqrt{13}
    programs = {2: "from sympy import Rational\ndef solution():\n    return Rational(28, 6)\n",
                8: "import sympy\ndef solution():\n    return sympy.sqrt(117)\n"}

    def answer(req, k):
        return programs.get(req.doc_id, "def solution():\n    return 0\n")

    res, _ = go(tmp_path, data_dir, "math500_pal", answer, limit=9)
    recs = {r.doc_id: r for r in res.records["math500_pal"]}
    assert g[2] == "\\frac{14}{3}" and recs[2].extracted == "14/3" and recs[2].score == 1, recs[2].trace
    assert g[8] == "3\\sqrt{13}" and recs[8].extracted == "3*sqrt(13)" and recs[8].score == 1, recs[8].trace
