"""HumanEval verdicts decided outside the process that runs the model's code.

Before, the model's code and the test's ``check`` ran in one process, and that
process's exit said "passed"; a program could reach ``check`` (through ``gc``,
``sys.settrace``, the launcher's frame) or return an object whose ``__eq__``
always says True. Now each sample takes three kinds of runs, in separate
sandboxed processes:

1. **record** (once per problem, trusted code only): the prompt, the canonical
   solution and the test run ``check`` with the candidate replaced by a proxy
   that writes down the arguments of every call. That list is the schedule.
2. **answer** (the untrusted run): prompt + completion, then the entry point
   is called on each scheduled argument list; every return value goes back as
   plain-data text (``evalkit.sandbox.plaindata``), or the name of the
   exception it raised, or "not plain data". Nothing else it says counts.
3. **check** (trusted code only): the prompt and the test run ``check`` again,
   with a proxy that, for each call, verifies the arguments are the scheduled
   ones and returns a fresh copy of the recorded value (or raises). The check's
   own ``==``, ``abs``, ``poly`` and ``math.fabs`` run on real plain data, in
   a process the model's code never ran in, and its end is the verdict.

So ``check`` keeps its exact semantics for honest solutions (the same
asserts on the same values), including tests that call helpers of the
prompt or the entry point by name. ``random`` is seeded before ``check`` in
both trusted runs, so tests that draw random inputs (HumanEval/38, 50, 53)
ask for the same arguments both times. If a test ever asked for arguments
that depend on the candidate's answers, the check run reports the call it
needed and the answer run is repeated with it (a few rounds at most).

What the candidate can still do: compute answers any way it likes (even
hard-code them), which is what the task asks for anyway. Limits: arguments
the candidate mutates in place are not mirrored back into ``check``
(HumanEval's tests pass copies where it matters).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable

from evalkit.sandbox import ExecResult
from evalkit.sandbox.plaindata import CODEC_SOURCE, NotPlainData, loads
from evalkit.sandbox.result import FAILED, PASSED, trusted_error_name

MARK = "\x1eEVALKIT-PLAIN-DATA\x1e"
MAX_ROUNDS = 4  # answer/check rounds when a test's arguments depend on the answers
SEED = 0

Runner = Callable[[list[str], list[float]], list[ExecResult]]  # programs, CPU limits -> results

_RECORD = '''
def _evalkit_record(name):
    import json, os, random
    encode, _, _ = _evalkit_plain_codec()
    real, calls, inside = globals()[name], [], []
    def proxy(*args, **kwargs):
        if inside:  # a recursive call of the solution to itself, not one of the test's
            return real(*args, **kwargs)
        calls.append(encode([list(args), kwargs]))
        inside.append(1)
        try:
            return real(*args, **kwargs)
        finally:
            inside.pop()
    globals()[name] = proxy
    random.seed(%(seed)d)
    check(proxy)
    _evalkit_emit(json.dumps(calls))
'''

_EMIT = '''
def _evalkit_emit(text, _write=__import__("os").write, _mark=%(mark)r):
    data = ("\\n" + _mark + text + "\\n").encode()
    while data:
        data = data[_write(1, data):]
'''

_ANSWER = '''
def _evalkit_answers(schedule):
    import json
    encode, decode, NotPlain = _evalkit_plain_codec()
    emit, _BaseException, _type = _evalkit_emit, BaseException, type
    def answer(fn):
        out = []
        for text in schedule:
            args, kwargs = decode(text)
            try:
                value = fn(*args, **kwargs)
            except _BaseException as exc:
                out.append(["raise", _type(exc).__name__[:80]])
                continue
            try:
                out.append(["ok", encode(value)])
            except NotPlain:
                out.append(["notplain"])
        emit(json.dumps(out))
    return answer
'''

_CHECK = '''
def _evalkit_check(prompt, test, name, jobs, cpu_s):
    import builtins, json, random, signal
    encode, decode, NotPlain = _evalkit_plain_codec()
    class NeedCall(BaseException):
        pass
    class OutOfTime(BaseException):
        pass
    class NotPlainAnswer(TypeError):
        pass
    class RaisedByProgram(Exception):
        pass
    def out_of_time(*_):
        raise OutOfTime()
    signal.signal(signal.SIGPROF, out_of_time)

    def one(schedule, answers):
        seen = []
        def proxy(*args, **kwargs):
            i = len(seen)
            text = encode([list(args), kwargs])
            if i >= len(schedule) or i >= len(answers) or text != schedule[i]:
                raise NeedCall(i, text)
            seen.append(i)
            kind = answers[i][0]
            if kind == "ok":
                return decode(answers[i][1])
            if kind == "raise":
                cls = getattr(builtins, answers[i][1], None)
                if isinstance(cls, type) and issubclass(cls, Exception):
                    raise cls("raised by the program")
                raise RaisedByProgram(answers[i][1])
            raise NotPlainAnswer("the program returned an object that is not plain data")
        ns = {"__name__": "__main__", "__builtins__": builtins}  # fresh for every sample
        exec(compile(prompt, "<prompt>", "exec"), ns)
        exec(compile(test, "<test>", "exec"), ns)
        ns[name] = proxy
        random.seed(%(seed)d)
        signal.setitimer(signal.ITIMER_PROF, cpu_s)
        try:
            ns["check"](proxy)
            return ["pass", len(seen)]
        except NeedCall as need:
            return ["need", need.args[0], need.args[1]]
        except OutOfTime:
            return ["slow", len(seen)]
        except NotPlainAnswer:
            return ["notplain", len(seen)]
        except RaisedByProgram:
            return ["raised", "", len(seen)]
        except BaseException as exc:
            raised = seen and answers[seen[-1]][0] == "raise" and type(exc).__name__ == answers[seen[-1]][1]
            return ["raised" if raised else "fail", type(exc).__name__, len(seen)]
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)

    _evalkit_emit(json.dumps([one(schedule, answers) for schedule, answers in jobs]))
'''


def record_program(problem: dict[str, Any]) -> str:
    """Trusted: the canonical solution under the test, writing down every call's arguments."""
    return (CODEC_SOURCE + _EMIT % {"mark": MARK} + _RECORD % {"seed": SEED}
            + problem["prompt"] + problem["canonical_solution"] + "\n" + problem["test"] + "\n"
            + f"_evalkit_record({problem['entry_point']!r})\n")


def answer_program(problem: dict[str, Any], completion: str, schedule: list[str]) -> str:
    """Untrusted: the completion, then its return value for each scheduled call, as plain data.
    The helpers are bound before the model's code runs, so an honest completion
    that happens to rebind a builtin name (``list = ...``) still reports right."""
    return (CODEC_SOURCE + _EMIT % {"mark": MARK} + _ANSWER
            + f"_evalkit_answer = _evalkit_answers({json.dumps(schedule)})\n"
            + "del _evalkit_answers, _evalkit_plain_codec, _evalkit_emit\n\n"
            + problem["prompt"] + completion + "\n\n"
            + f"_evalkit_answer({problem['entry_point']})\n")


def check_program(problem: dict[str, Any], jobs: list[tuple[list[str], list[Any]]], cpu_s: float) -> str:
    """Trusted: the test's check over recorded answers, once per (schedule, answers) job,
    each in a fresh namespace with ``cpu_s`` CPU seconds (no model code runs here)."""
    return (CODEC_SOURCE + _EMIT % {"mark": MARK} + _CHECK % {"seed": SEED}
            + f"_evalkit_check({problem['prompt']!r}, {problem['test']!r}, {problem['entry_point']!r}, "
            + f"{json.dumps(jobs)}, {cpu_s!r})\n")


def parse_checks(result: ExecResult, jobs: int) -> list[Any] | None:
    """The verdict per job of a trusted check run, or None when the run did not finish."""
    verdicts = payload(result.stdout) if result.passed else None
    if not isinstance(verdicts, list) or len(verdicts) != jobs or not all(isinstance(v, list) and v for v in verdicts):
        return None
    return verdicts


def payload(stdout: str) -> Any:
    """The JSON after the last marker in a run's stdout, or None."""
    at = stdout.rfind(MARK)
    if at < 0:
        return None
    try:
        return json.loads(stdout[at + len(MARK):].split("\n", 1)[0])
    except (ValueError, RecursionError):
        return None


def parse_schedule(result: ExecResult) -> list[str] | None:
    """The calls a trusted record run wrote down, or None when it did not finish."""
    calls = payload(result.stdout) if result.passed else None
    if not isinstance(calls, list) or not all(isinstance(c, str) for c in calls):
        return None
    return calls


def parse_answers(result: ExecResult, expected: int) -> list[Any] | None:
    """The untrusted run's answers, validated into [["ok", text] | ["raise", name] | ["notplain"]].
    Anything malformed, short, or not plain data after decoding is refused here,
    so only well-formed plain-data texts ever reach the check run."""
    raw = payload(result.stdout)
    if not isinstance(raw, list) or len(raw) != expected:
        return None
    answers: list[Any] = []
    for item in raw:
        if isinstance(item, list) and len(item) == 2 and item[0] == "ok" and isinstance(item[1], str):
            try:
                loads(item[1])
            except NotPlainData:
                item = ["notplain"]
            answers.append(item)
        elif isinstance(item, list) and len(item) == 2 and item[0] == "raise" and isinstance(item[1], str):
            answers.append(["raise", item[1][:80]])
        else:
            answers.append(["notplain"])
    return answers


@dataclass(frozen=True)
class Verdict:
    """The trusted side's decision on one sample."""

    status: str  # passed | failed (or the answer run's own timeout/killed/error status)
    reason: str  # built here, never copied from the program's output


def decide(answer_run: ExecResult, answers: list[Any] | None, checked: list[Any] | str | None) -> Verdict:
    """The verdict from the answer run's limits and the check's verdict
    (``checked``: a check verdict, or why the check run could not give one)."""
    if not answer_run.passed and answer_run.status != FAILED:
        return Verdict(answer_run.status, answer_run.reason)  # timeout, memory, output limit, sandbox error
    if answers is None:
        return Verdict(FAILED, answer_run.reason or "the program returned no answers")
    if not isinstance(checked, list):
        return Verdict(FAILED, f"the checks could not run on the program's answers ({checked or 'not checked'})"[:200])
    kind = checked[0]
    if kind == "pass":
        return Verdict(PASSED, "")
    if kind == "notplain":
        return Verdict(FAILED, "the program returned an object that is not plain data")
    if kind == "slow":
        return Verdict(FAILED, "the checks ran out of CPU time on the program's answers")
    name = checked[1] if len(checked) > 1 and isinstance(checked[1], str) else ""
    if kind == "raised":
        return Verdict(FAILED, f"{trusted_error_name(name) or 'an exception'} raised by the program")
    if kind == "need":
        return Verdict(FAILED, "the test asked for arguments that depend on the program's answers")
    return Verdict(FAILED, trusted_error_name(name) or "the checks failed")
