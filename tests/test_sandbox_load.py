"""A code verdict must not depend on machine load: HumanEval completions are
limited in CPU time, with a wall-clock backstop above it that a run still
gaining CPU time (starved, not sleeping) is not stopped by, so the same
program gets the same verdict with and without CPU hogs beside it."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from evalkit.benchmarks.humaneval import check_humaneval, load_humaneval, wall_backstop

LIMIT_S = 2.0  # CPU seconds per run

# The right answer, after burning about `seconds` of CPU on the first call only.
BURN = '''    global _burned
    try:
        _burned
    except NameError:
        _burned = True
        import time
        end = time.process_time() + {seconds}
        while time.process_time() < end:
            pass
    return any(abs(a - b) < threshold for i, a in enumerate(numbers) for b in numbers[i + 1:])
'''


@pytest.fixture(scope="module")
def problem():
    return next(p for p in load_humaneval() if p["task_id"] == "HumanEval/0")


def hogs(count: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def verdicts(problem) -> list[tuple[str, str, float]]:
    fits, too_slow = BURN.format(seconds=1.2), BURN.format(seconds=LIMIT_S + 1.5)
    results = check_humaneval([problem, problem], [fits, too_slow], timeout_s=LIMIT_S, workers=2)
    return [(r.status, r.reason, r.duration_s) for r in results]


def test_same_verdict_with_and_without_cpu_hogs(problem):
    quiet = verdicts(problem)
    procs = hogs(3 * (os.cpu_count() or 1))
    try:
        loaded = verdicts(problem)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
    assert [(s, r) for s, r, _ in quiet] == [("passed", ""), ("timeout", "cpu time limit")], quiet
    assert [(s, r) for s, r, _ in loaded] == [(s, r) for s, r, _ in quiet], (quiet, loaded)


def test_a_sleeper_still_meets_the_wall_clock_backstop(problem):
    (result,) = check_humaneval([problem], ["    import time\n    time.sleep(600)\n"], timeout_s=1)
    assert (result.status, result.reason) == ("timeout", f"timeout after {wall_backstop(1):g}s")
    assert result.duration_s < 2 * wall_backstop(1)
