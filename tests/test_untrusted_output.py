"""A program's output is only data: the plain-data codec, the HumanEval
verdict decided outside the program, trusted failure reasons, and parsers
that survive any model output."""
from __future__ import annotations

import math

import pytest

from evalkit.benchmarks import humaneval_verdict as verdict
from evalkit.benchmarks.humaneval import check_humaneval, extract_code
from evalkit.sandbox.plaindata import NotPlainData, dumps, loads
from evalkit.sandbox.result import Outcome, classify, trusted_error_name
from evalkit.scoring.aggregators import mpsc

PLAIN = [None, True, False, 0, -7, 10**5000, 1.5, -0.0, float("inf"), 2 - 3j, "", "a\ud800é", b"\x00\xff",
         [1, [2, (3,)]], (), {"k": {1: (2.5, None)}, (1, "a"): frozenset({1, 2})}, set(), {1, 2, 3}]


@pytest.mark.parametrize("value", PLAIN, ids=lambda v: type(v).__name__)
def test_plain_values_round_trip_with_their_exact_types(value):
    back = loads(dumps(value))
    assert back == value and type(back) is type(value)
    assert (repr(back) == repr(value)) if not isinstance(value, int) else True  # -0.0 stays -0.0, tuples stay tuples, key types kept


def test_nan_round_trips():
    assert math.isnan(loads(dumps(float("nan"))))


class _Int(int):
    def __eq__(self, other):
        return True


def _cyclic():
    a = []
    a.append(a)
    return a


@pytest.mark.parametrize("value", [_Int(1), object(), [object()], {"k": _Int(2)}, (x for x in ()), _cyclic(),
                                   range(3), print], ids=lambda v: type(v).__name__)
def test_anything_else_is_not_plain_data(value):
    with pytest.raises(NotPlainData):
        dumps(value)


@pytest.mark.parametrize("text", ['["s", [["l", []]]]', "not json", '["zz", 1]', "[" * 100_000 + "]" * 100_000,
                                  '["i", 5]', '["d", [[1]]]', '["i", "zz"]', '{"a": 1}', '["l", "x"]', "[]"])
def test_malformed_text_is_refused_not_crashed(text):
    with pytest.raises(NotPlainData):
        loads(text)


# --- the verdict is decided outside the program ------------------------------

# A test whose second call depends on the first answer: the schedule recorded
# from the canonical solution cannot foresee it, so a second round asks for it.
CHAINED = {"task_id": "Chained/0", "entry_point": "f", "prompt": "def f(x):\n    \"\"\"x + 1\"\"\"\n", "canonical_solution": "    return x + 1\n",
           "test": "def check(candidate):\n    y = candidate(1)\n    assert candidate(y) == y + 1\n"}
RANDOM = {"task_id": "Random/0", "entry_point": "g", "prompt": "def g(a, b):\n    \"\"\"a * b\"\"\"\n", "canonical_solution": "    return a * b\n",
          "test": "import random\n\ndef check(candidate):\n    for _ in range(50):\n"
                  "        a, b = random.randint(0, 99), random.random()\n        assert candidate(a, b) == a * b\n"}


@pytest.mark.parametrize("problem,completion,status,reason", [
    (CHAINED, "    return 1 + x\n", "passed", ""),
    (CHAINED, "    return x + 2\n", "failed", "AssertionError"),  # needs the second round to be judged
    (RANDOM, "    return b * a\n", "passed", ""),  # random inputs: the same in the record and check runs
    (RANDOM, "    return a * b if a < 90 else 0.0\n", "failed", "AssertionError"),
    (RANDOM, "    raise ValueError('secret text')\n", "failed", "ValueError raised by the program"),
    (RANDOM, "    return {1: [2, {3}]}\n", "failed", "AssertionError"),
    (RANDOM, "    return type('X', (float,), {'__eq__': lambda s, o: True})(a * b)\n", "failed", "not plain data"),
])
def test_synthetic_problems(problem, completion, status, reason):
    (result,) = check_humaneval([problem], [completion], timeout_s=5)
    assert result.status == status and reason in result.reason and bool(reason) == bool(result.reason), result.reason


def test_a_broken_reference_is_an_error_not_a_verdict():
    broken = dict(CHAINED, canonical_solution="    return x\n")
    (result,) = check_humaneval([broken], ["    return x + 1\n"], timeout_s=5)
    assert result.status == "error" and "canonical solution" in result.reason


@pytest.mark.parametrize("stdout", ["", "no marker", verdict.MARK + "not json", verdict.MARK + '{"a": 1}',
                                    verdict.MARK + '[["ok"]]', verdict.MARK + '[["ok", 5], ["raise", 3]]'])
def test_malformed_answers_are_refused(stdout):
    from evalkit.sandbox import ExecResult

    run = ExecResult("passed", 0, stdout, "", 0.1, "", "test")
    answers = verdict.parse_answers(run, 2)
    assert answers is None or all(a == ["notplain"] for a in answers)


# --- reasons come from the trusted side ----------------------------------------

@pytest.mark.parametrize("name,message,reason", [
    ("ValueError", " secret", "ValueError"),
    ("SecretClassName", "", "uncaught exception"),
    ("OSError", " [Errno 2] secret", "OSError: [Errno 2] No such file or directory"),
    ("MemoryError", "", "memory limit"),
    ("", "", ""),
])
def test_trusted_error_names(name, message, reason):
    assert trusted_error_name(name, message) == reason


def test_reason_never_copies_stderr_text():
    tail = "Traceback (most recent call last):\nAssertionError: hunter2 " + "x" * 10_000 + "\n"
    assert classify(Outcome(1, False, stderr_tail=tail), 3.0) == ("failed", "AssertionError")


# --- parsers survive any model output (ast.parse RecursionError) ----------------

DEEP_SUM = "1 + " * 300_000 + "1"


def test_instruct_extraction_survives_a_300k_term_expression():
    answer = f"```python\ndef f(x):\n    return {DEEP_SUM}\n```"
    assert DEEP_SUM in extract_code(answer, "f", "def f(x):\n")


def test_mpsc_parsers_survive_deep_expressions():
    assert mpsc.parse_tests([f"assert f({DEEP_SUM}) == 2", "assert f(1) == 2"], "f") == ["assert f(1) == 2"]
    assert mpsc.test_parts(f"assert f(1) == {DEEP_SUM}", "f") is None
    assert mpsc.parse_specs(["def postcondition(x, output):\n    assert " + "(" * 100_000 + "1" + ")" * 100_000]) == []


@pytest.mark.parametrize("payload", ['MPSC{"tests": [1], "specs": ["x"], "outputs": []}', "MPSC[1, 2]", "MPSC{not json",
                                     'MPSC{"tests": [7], "specs": [0], "outputs": ["1"]}', "MPSC" + "[" * 100_000,
                                     'MPSC{"tests": [1], "specs": [0], "outputs": [1]}'])
def test_mpsc_payloads_are_only_data(payload):
    c = mpsc.consistency(1, 1, [payload, 'MPSC{"tests": [1], "specs": [1], "outputs": ["2"]}'], payload)
    assert c.outputs[0] == ("<crashed>",) and c.sol_test[0].tolist() == [0.0]
    assert c.sol_test[1].tolist() == [1.0] and c.outputs[1] == ("2",)
    assert c.spec_test.tolist() == [[0.0]]
