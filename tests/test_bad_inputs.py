"""Bad input found by review (issue 14 §4): each once gave a traceback or was accepted
silently; each must now be one `error:` line that says what to fix, or be stored safely."""
from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO
from test_cli_errors import _assert_one_line_error


def _run(cli, data_dir, store_path, *args):
    return cli("run", "--tasks", "bbh_navigate", "--limit", "2", "--data-dir", data_dir, "--store", store_path, *args)


def _line(doc_id, output="So the answer is Yes.", task="bbh_navigate") -> str:
    return '{"task": "%s", "doc_id": %s, "output": %s}\n' % (task, doc_id, json.dumps(output))


# -- replay files --------------------------------------------------------------------------------------

def test_replay_invalid_utf8(cli, tmp_path, data_dir, store_path):
    p = tmp_path / "r.jsonl"
    p.write_bytes(_line(0).encode() + b'{"task": "bbh_navigate", "doc_id": 1, "output": "\xff\xfe"}\n')
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", f"replay:{p}"), f"{p}:2", "UTF-8")


@pytest.mark.parametrize("doc_id", ["1e999", "0.7", "true", "-1", '"0"', "null", "1.0"])
def test_replay_doc_id_must_be_an_integer(cli, tmp_path, data_dir, store_path, doc_id):
    p = tmp_path / "r.jsonl"
    p.write_text(_line(doc_id))
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", f"replay:{p}"), f"{p}:1", "doc_id")


def test_replay_two_outputs_for_one_doc(cli, tmp_path, data_dir, store_path):
    p = tmp_path / "r.jsonl"
    p.write_text(_line(0, "So the answer is Yes.") + _line(1) + _line(0, "So the answer is No."))
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", f"replay:{p}"), f"{p}:3", "doc 0", "line 1")


def test_replay_identical_duplicate_is_fine(cli, tmp_path, data_dir, store_path):
    p = tmp_path / "r.jsonl"
    p.write_text(_line(0) + _line(1) + _line(0))
    assert _run(cli, data_dir, store_path, "--model", f"replay:{p}").code == 0


def test_replay_two_files_disagreeing(cli, tmp_path, data_dir, store_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(_line(0) + _line(1))
    b.write_text(_line(1, "So the answer is No."))
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", f"replay:{a},{b}"), "doc 1", "earlier replay file")


def test_replay_doc_that_does_not_exist(cli, tmp_path, data_dir, store_path):
    p = tmp_path / "r.jsonl"
    p.write_text(_line(0) + _line(1) + _line(250))  # bbh_navigate has docs 0..249
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", f"replay:{p}"), "doc 250", "250 docs")


def test_output_with_lone_surrogate_is_stored(cli, tmp_path, data_dir, store_path):
    """A JSON escape "\\ud800" in an output cannot be encoded as UTF-8; it is stored as U+FFFD
    and the run completes with valid files and store rows."""
    p = tmp_path / "r.jsonl"
    p.write_text(_line(0, "So the answer is Yes. \ud800 tail").replace("\\ufffd", "") + _line(1))
    assert "\\ud800" in p.read_text()
    out = tmp_path / "out"
    res = _run(cli, data_dir, store_path, "--model", f"replay:{p}", "--output", out)
    assert res.code == 0, res
    rec = json.loads((out / "samples" / "bbh_navigate.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert rec["outputs"] == ["So the answer is Yes. \ufffd tail"]
    assert rec["extracted"] == "Yes"
    json.loads((out / "results.json").read_text(encoding="utf-8"))


def test_storable_text():
    from evalkit.core.textclean import storable

    assert storable("a\ud800b\udfffc") == "a\ufffdb\ufffdc"
    assert storable("emoji \U0001F600 stays") == "emoji \U0001F600 stays"
    assert storable("a\ud800b").encode("utf-8")


# -- run flags ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_temperature_must_be_finite(cli, data_dir, store_path, value):
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", "dummy", "--temperature", value),
                           "--temperature", "finite")


def test_mpsc_on_a_non_code_task(cli, data_dir, store_path):
    res = _run(cli, data_dir, store_path, "--model", "dummy", "--aggregate", "mpsc")
    _assert_one_line_error(res, "--aggregate mpsc", "bbh_navigate", "code task")


def test_majority_on_a_code_task(cli, data_dir, store_path):
    res = cli("run", "--model", "dummy", "--tasks", "humaneval", "--limit", "1", "--data-dir", data_dir,
              "--store", store_path, "--aggregate", "majority")
    _assert_one_line_error(res, "--aggregate majority", "humaneval", "first, mpsc")


def test_critic_on_a_task_without_critic(cli, data_dir, store_path):
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", "dummy", "--critic"),
                           "--critic", "bbh_navigate has no critic")


def test_critic_on_a_math_task_is_accepted():
    from evalkit.run.checks import check_task_flags
    from evalkit.run.context import TaskRun
    from evalkit.spec.taskspec import load_catalog

    cat = load_catalog()
    check_task_flags(None, {"critic": True}, [TaskRun(cat.tasks["math500"], [])])
    with pytest.raises(Exception, match="no critic"):
        check_task_flags(None, {"critic": True}, [TaskRun(cat.tasks["humaneval"], [])])


# -- task files -----------------------------------------------------------------------------------------

@pytest.fixture
def tasks_dir(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", d)
    monkeypatch.setenv("EVALKIT_TASKS_DIR", str(d))
    return d


def test_task_yaml_invalid_utf8(cli, tasks_dir, data_dir, store_path):
    (tasks_dir / "bad.yaml").write_bytes(b"task: bad\ndescription: \"caf\xe9\"\ndataset: {path: x.jsonl}\n")
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", "dummy"), "bad.yaml", "UTF-8")


def test_groups_that_contain_each_other(cli, tasks_dir, data_dir, store_path):
    (tasks_dir / "ga.yaml").write_text("group: ga\ntasks: [bbh_navigate, gb]\n")
    (tasks_dir / "gb.yaml").write_text("group: gb\ntasks: [ga]\n")
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", "dummy"), "contain each other", "ga -> gb -> ga")


def test_n_zero(cli, tasks_dir, data_dir, store_path):
    (tasks_dir / "zero.yaml").write_text("task: zero\ndataset: {path: bbh/navigate.json, format: json_examples}\n"
                                         "prompt: bbh_cot.j2\ngeneration: {n: 0}\n")
    _assert_one_line_error(_run(cli, data_dir, store_path, "--model", "dummy"), "zero.yaml", "generation.n")


@pytest.mark.parametrize("name", ["../../../x", "a/b", "..", ".hidden"])
def test_task_name_that_is_a_path(cli, tasks_dir, tmp_path, data_dir, store_path, name):
    (tasks_dir / "evil.yaml").write_text(f"task: {json.dumps(name)}\n"
                                         "dataset: {path: bbh/navigate.json, format: json_examples}\nprompt: bbh_cot.j2\n")
    out = tmp_path / "deep" / "er" / "out"
    res = cli("run", "--model", "dummy", "--tasks", name, "--limit", "1", "--data-dir", data_dir,
              "--store", store_path, "--output", out)
    _assert_one_line_error(res, "evil.yaml", "not allowed")
    assert not (tmp_path / "x.jsonl").exists() and not list(tmp_path.rglob("x.jsonl"))


def test_sample_file_stays_in_its_folder(tmp_path):
    from evalkit.core.errors import StoreError
    from evalkit.run.results import write_output_dir

    with pytest.raises(StoreError, match="cannot be a file name"):
        write_output_dir(tmp_path / "out", {"results": {}}, {"../../x": []})
    assert not (tmp_path / "x.jsonl").exists()


def test_missing_tasks_dir_is_not_unknown_task(cli, tmp_path, data_dir, store_path, monkeypatch):
    monkeypatch.setenv("EVALKIT_TASKS_DIR", str(tmp_path / "no-such-tasks"))
    res = _run(cli, data_dir, store_path, "--model", "dummy")
    _assert_one_line_error(res, "EVALKIT_TASKS_DIR", "not a folder")
    assert "unknown task" not in res.err


# -- leaderboards and the site -------------------------------------------------------------------------

@pytest.fixture
def boards(tmp_path, monkeypatch) -> Path:
    d = tmp_path / "boards"
    shutil.copytree(REPO / "leaderboards", d)
    monkeypatch.setenv("EVALKIT_LEADERBOARDS_DIR", str(d))
    return d


@pytest.fixture
def stored(cli, data_dir, store_path) -> Path:
    assert _run(cli, data_dir, store_path, "--model", "dummy").code == 0
    return store_path


def test_leaderboard_yaml_invalid_utf8(cli, boards, stored, tmp_path):
    (boards / "bad.yaml").write_bytes(b"title: \"caf\xe9\"\ntasks: [{task: bbh}]\n")
    _assert_one_line_error(cli("leaderboard", "show", "bad", "--store", stored), "bad.yaml", "UTF-8")
    _assert_one_line_error(cli("leaderboard", "list"), "bad.yaml", "UTF-8")
    _assert_one_line_error(cli("site", "build", "--out", tmp_path / "site", "--store", stored), "bad.yaml", "UTF-8")


def test_one_malformed_board_fails_the_site_instead_of_dropping_all(cli, boards, stored, tmp_path):
    (boards / "broken.yaml").write_text("title: x\ntasks: [\n")
    res = cli("site", "build", "--out", tmp_path / "site", "--store", stored)
    _assert_one_line_error(res, "broken.yaml", "not valid YAML")
    (boards / "broken.yaml").unlink()
    assert cli("site", "build", "--out", tmp_path / "site", "--store", stored).code == 0
    assert "reasoning" in (tmp_path / "site" / "index.html").read_text().lower()


def test_board_metric_no_task_has(cli, boards, stored, tmp_path):
    (boards / "typo.yaml").write_text("title: Typo\ntasks:\n  - {task: bbh_navigate, metric: exact_mach}\n")
    res = cli("leaderboard", "show", "typo", "--store", stored)
    _assert_one_line_error(res, "typo.yaml", "exact_mach", "did you mean exact_match")
    _assert_one_line_error(cli("site", "build", "--out", tmp_path / "site", "--store", stored), "exact_mach")


def test_site_on_a_read_only_filesystem(cli, stored, tmp_path, monkeypatch):
    import evalkit.report.site.build as build

    def read_only(path, text):
        raise OSError(errno.EROFS, "Read-only file system", str(path))

    monkeypatch.setattr(build, "_write", read_only)
    res = cli("site", "build", "--out", tmp_path / "site", "--store", stored)
    _assert_one_line_error(res, "cannot write the site", "Read-only file system", "--out")


def test_site_out_where_nothing_can_be_made(cli, stored):
    _assert_one_line_error(cli("site", "build", "--out", "/proc/evalkit-site", "--store", stored),
                           "cannot write the site to /proc/evalkit-site")


# -- compare --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args,needle", [(["--max-flips", "-1"], "--max-flips"), (["--min-delta", "nan"], "--min-delta"),
                                         (["--min-delta", "inf"], "--min-delta"), (["--alpha", "nan"], "--alpha")])
def test_compare_bad_numbers(cli, stored, args, needle):
    res = cli("compare", "latest:dummy", "latest:dummy", "--store", stored, *args)
    _assert_one_line_error(res, needle)


def test_results_json_is_strict_json(cli, tmp_path, data_dir, store_path):
    """One doc has no stderr; results.json says null, not NaN (which jq and JavaScript reject)."""
    out = tmp_path / "out"
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "1", "--data-dir", data_dir,
              "--store", store_path, "--output", out)
    assert res.code == 0, res

    def refuse(token):
        raise AssertionError(f"non-standard JSON constant {token}")

    payload = json.loads((out / "results.json").read_text(), parse_constant=refuse)
    assert payload["results"]["bbh_navigate"]["exact_match_stderr"] is None
