"""HumanEval through the sandbox: canonical solutions pass, broken ones fail,
chat answers are turned into completions that run."""
from __future__ import annotations

import pytest

from evalkit.benchmarks import humaneval as code
from evalkit.benchmarks.humaneval import check_humaneval, extract_code, humaneval_program, load_humaneval
from evalkit.core.errors import DataError
from evalkit.sandbox import run_many


@pytest.fixture(scope="module")
def problems():
    return load_humaneval()


def by_id(problems, task_id):
    return next(p for p in problems if p["task_id"] == task_id)


def test_all_164_canonical_solutions_pass(problems):
    assert len(problems) == 164
    results = check_humaneval(problems, [p["canonical_solution"] for p in problems])
    failing = [(p["task_id"], r.status, r.reason) for p, r in zip(problems, results) if not r.passed]
    assert failing == []


def test_return_none_mutants_all_fail(problems):
    results = check_humaneval(problems, ["    return None\n"] * len(problems))
    passing = [p["task_id"] for p, r in zip(problems, results) if r.passed]
    assert passing == []
    assert all(r.status == "failed" and r.reason for r in results)


def test_plain_program_is_human_evals_layout(problems):
    p = problems[0]
    expected = p["prompt"] + "    return 1\n" + "\n" + p["test"] + "\n" + f"check({p['entry_point']})"
    assert humaneval_program(p, "    return 1\n", guarded=False) == expected


def test_guarded_and_plain_programs_agree_on_honest_completions(problems):
    sample = problems[:6]
    completions = [p["canonical_solution"] for p in sample] + ["    return None\n"] * len(sample)
    sample = sample * 2
    plain = run_many([humaneval_program(p, c, guarded=False) for p, c in zip(sample, completions)], timeout_s=10)
    guarded = check_humaneval(sample, completions, timeout_s=10)
    assert [r.passed for r in plain] == [r.passed for r in guarded] == [True] * 6 + [False] * 6


def test_slow_completion_times_out(problems):
    # timeout_s limits CPU time; a completion that only sleeps meets the wall-clock backstop
    spin, sleep = check_humaneval(problems[:2], ["    while True:\n        pass\n", "    import time\n    time.sleep(30)\n"],
                                  timeout_s=1)
    assert (spin.status, spin.reason) == ("timeout", "cpu time limit")
    assert (sleep.status, sleep.reason) == ("timeout", f"timeout after {code.wall_backstop(1):g}s")


def test_time_limit_scales_with_canonical_runtime(problems, monkeypatch):
    p = problems[0]
    monkeypatch.setitem(code._runtime_cache, code._problem_key(p), 2.5)
    assert code.time_limits([p]) == [code.GT_TIME_LIMIT_FACTOR * 2.5]
    monkeypatch.setitem(code._runtime_cache, code._problem_key(p), 0.05)
    assert code.time_limits([p]) == [code.MIN_TIME_LIMIT_S]


def test_mismatched_lengths_are_rejected(problems):
    with pytest.raises(ValueError):
        check_humaneval(problems[:2], ["    return 1\n"])


# --- extracting code from chat answers -------------------------------------

FULL_DEF_ANSWER = '''Sure! Here is the implementation:

```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            if abs(a - b) < threshold:
                return True
    return False


print(has_close_elements([1.0, 2.0], 0.5))
if __name__ == "__main__":
    import doctest
    doctest.testmod()
```

It compares every pair.'''

BODY_ANSWER = '''```python
    for i, a in enumerate(numbers):
        for b in numbers[i + 1:]:
            if abs(a - b) < threshold:
                return True
    return False
```'''

UNINDENTED_BODY_ANSWER = '''```
for i, a in enumerate(numbers):
    for b in numbers[i + 1:]:
        if abs(a - b) < threshold:
            return True
return False
```'''

TWO_BLOCKS_ANSWER = '''First the helper usage:
```python
print(has_close_elements([1.0], 0.1))
```
Then the function:
```python
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
```'''

UNTERMINATED_ANSWER = '''```python
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
'''

UNFENCED_PROSE_ANSWER = '''Here you go:
def has_close_elements(numbers, threshold):
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
'''

RAW_COMPLETION = '''    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])


def unrelated():
    pass
'''


@pytest.mark.parametrize("answer", [FULL_DEF_ANSWER, BODY_ANSWER, UNINDENTED_BODY_ANSWER, TWO_BLOCKS_ANSWER,
                                    UNTERMINATED_ANSWER, UNFENCED_PROSE_ANSWER, RAW_COMPLETION],
                         ids=["full-def", "body", "unindented-body", "two-blocks", "unterminated", "unfenced-prose",
                              "raw"])
def test_extracted_chat_answers_pass(problems, answer):
    p = by_id(problems, "HumanEval/0")
    completion = extract_code(answer, p["entry_point"], p["prompt"])
    (result,) = check_humaneval([p], [completion], timeout_s=10)
    assert result.passed, (completion, result.reason, result.stderr[-1000:])


def test_full_definition_drops_code_that_runs_on_import(problems):
    p = by_id(problems, "HumanEval/0")
    completion = extract_code(FULL_DEF_ANSWER, p["entry_point"], p["prompt"])
    assert "print(" not in completion and "__main__" not in completion
    assert completion.startswith("from typing import List")


def test_raw_body_stops_at_the_end_of_the_function(problems):
    p = by_id(problems, "HumanEval/0")
    assert "unrelated" not in extract_code(RAW_COMPLETION, p["entry_point"], p["prompt"])


def test_extracted_wrong_answer_still_fails(problems):
    p = by_id(problems, "HumanEval/0")
    completion = extract_code("```python\ndef has_close_elements(numbers, threshold):\n    return True\n```",
                              p["entry_point"], p["prompt"])
    (result,) = check_humaneval([p], [completion], timeout_s=10)
    assert (result.status, result.reason) == ("failed", "AssertionError")


# --- data -------------------------------------------------------------------


def test_data_dir_comes_from_the_environment(tmp_path, monkeypatch):
    (tmp_path / "humaneval").mkdir()
    (tmp_path / "humaneval" / "HumanEval.jsonl").write_text('{"task_id": "X/0"}\n')
    monkeypatch.setenv("EVALKIT_DATA_DIR", str(tmp_path))
    assert load_humaneval() == [{"task_id": "X/0"}]


def test_missing_data_is_a_data_error(tmp_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_DATA_DIR", str(tmp_path))
    with pytest.raises(DataError, match="HumanEval.jsonl"):
        load_humaneval()
