"""CRITIC on HumanEval (humaneval_critic): the docstring's example calls are the
tool, the hidden tests score each round; a scripted backend drives the loop."""
from __future__ import annotations

from types import SimpleNamespace

from fakes import ScriptedBackend

from evalkit.core.registry import backends
from evalkit.loops.critic_code import docstring_examples, example_program, tool_report
from evalkit.loops.critic_program import BETTER
from evalkit.run.runner import RunConfig, run
from evalkit.sandbox import run_many

PROMPT0 = ('def add(a, b):\n    """ Add.\n    >>> add(1, 2)\n    3\n    >>> add(-1, 1)\n    0\n    """\n')


def test_examples_are_read_from_the_docstring_and_checked_on_the_trusted_side():
    assert docstring_examples(PROMPT0) == [("add(1, 2)", "3"), ("add(-1, 1)", "0")]
    res = run_many([example_program(PROMPT0, "    return a - b\n", docstring_examples(PROMPT0))], timeout_s=20)[0]
    report = tool_report(res, docstring_examples(PROMPT0))
    assert report.splitlines() == ["Execution: Done", "add(1, 2) returned -1; expected 3", "add(-1, 1) returned -2; expected 0"]
    res = run_many([example_program(PROMPT0, "    return a +\n", docstring_examples(PROMPT0))], timeout_s=20)[0]
    assert tool_report(res, docstring_examples(PROMPT0)).startswith("Execution: SyntaxError")
    fake = SimpleNamespace(stdout="", passed=False, reason="timeout after 3s", status="timeout")
    assert tool_report(fake, []) == "Execution: timeout after 3s"


def test_humaneval_critic_fixes_a_wrong_completion(tmp_path, data_dir):
    def answer(req, k):
        if req.prompt.endswith(BETTER):
            if req.doc_id == 0:  # has_close_elements: the right function
                return ("def has_close_elements(numbers, threshold):\n    return any(abs(a - b) < threshold "
                        "for i, a in enumerate(numbers) for j, b in enumerate(numbers) if i != j)\n")
            return ""  # doc 1: an empty revision keeps the previous completion
        if req.prompt.endswith("What's the problem with the above code?\n\n"):
            assert "Execution: " in req.prompt
            if req.doc_id == 0 and "has_close_elements([1.0, 2.8, 3.0, 4.0, 5.0, 2.0], 0.3) returned False" in req.prompt:
                return "The second example fails."
            return "Looks fine."
        return "    return False\n"

    backend = ScriptedBackend(answer)
    backends.replace("scripted", lambda target, **_: backend)
    res = run(RunConfig(model="scripted:x", tasks=["humaneval_critic"], limit=2, data_dir=str(data_dir),
                        store=tmp_path / "s.db"))
    r0, r1 = res.records["humaneval_critic"]
    assert [r0.metrics[f"acc_round_{i}"] for i in range(5)] == [0, 1, 1, 1, 1]
    assert r0.score == 1 and r0.metrics["flip_wrong_to_right"] == 1
    assert r1.score == 0 and r1.trace[1]["completion"] is None and r1.metrics["critic_rounds"] == 2
    assert [len(c) for c in backend.calls] == [2] * 9
