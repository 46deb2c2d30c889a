"""Bad input gets one clear line on stderr, a non-zero exit and no traceback."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import REPO


def _assert_one_line_error(res, *needles: str) -> None:
    assert res.code != 0, res
    assert "Traceback" not in res.err + res.out, res.err
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1, res.err
    for n in needles:
        assert n in lines[0], lines[0]


def _replay(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "r.jsonl"
    p.write_text(text)
    return p


def test_unknown_task_suggests(cli, data_dir, store_path):
    res = cli("run", "--model", "dummy", "--tasks", "bbh_date_understandin", "--data-dir", data_dir, "--store", store_path)
    _assert_one_line_error(res, "unknown task 'bbh_date_understandin'", "did you mean bbh_date_understanding")


def test_malformed_yaml(cli, tmp_path, data_dir, store_path, monkeypatch):
    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", tasks)
    (tasks / "broken.yaml").write_text("task: broken\ndataset: {path: [unclosed\n")
    monkeypatch.setenv("EVALKIT_TASKS_DIR", str(tasks))
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--data-dir", data_dir, "--store", store_path)
    _assert_one_line_error(res, "broken.yaml", "not valid YAML")


def test_missing_data_file(cli, tmp_path, store_path):
    (tmp_path / "mirror").mkdir()
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--data-dir", tmp_path / "mirror", "--store", store_path)
    _assert_one_line_error(res, "missing data file bbh/navigate.json", "--data-dir")


def test_missing_data_dir(cli, tmp_path, store_path):
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--data-dir", tmp_path / "nope", "--store", store_path)
    _assert_one_line_error(res, "does not exist")


def test_bad_model_path(cli, data_dir, store_path):
    res = cli("run", "--model", "hf:/no/such/model", "--tasks", "bbh_navigate", "--limit", "1", "--data-dir", data_dir,
              "--store", store_path)
    _assert_one_line_error(res, "model path /no/such/model does not exist")


def test_unknown_backend(cli, data_dir, store_path):
    res = cli("run", "--model", "hff:gpt2", "--tasks", "bbh_navigate", "--data-dir", data_dir, "--store", store_path)
    _assert_one_line_error(res, "unknown backend 'hff'", "did you mean hf")


def test_malformed_replay_line(cli, tmp_path, data_dir, store_path):
    p = _replay(tmp_path, json.dumps({"task": "bbh_navigate", "doc_id": 0, "output": "x"}) + "\n{not json\n")
    res = cli("run", "--model", f"replay:{p}", "--tasks", "bbh_navigate", "--limit", "1", "--data-dir", data_dir,
              "--store", store_path)
    _assert_one_line_error(res, f"{p}:2", "not valid JSON")


def test_replay_missing_doc(cli, tmp_path, data_dir, store_path):
    p = _replay(tmp_path, json.dumps({"task": "bbh_navigate", "doc_id": 0, "output": "x"}) + "\n")
    res = cli("run", "--model", f"replay:{p}", "--tasks", "bbh_navigate", "--limit", "2", "--data-dir", data_dir,
              "--store", store_path)
    _assert_one_line_error(res, "no output for task bbh_navigate doc 1")


@pytest.mark.parametrize("flag,value", [("--limit", "0"), ("--samples", "-2"), ("--batch-size", "0")])
def test_invalid_numbers(cli, data_dir, store_path, flag, value):
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", flag, value, "--data-dir", data_dir, "--store", store_path)
    _assert_one_line_error(res, flag)


def test_existing_results_are_not_overwritten(cli, tmp_path, data_dir, store_path):
    out = tmp_path / "out"
    args = ["run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "2", "--data-dir", data_dir,
            "--store", store_path, "--output", out]
    assert cli(*args).code == 0
    before = (out / "results.json").read_text()
    res = cli(*args)
    _assert_one_line_error(res, "already exists", "--overwrite")
    assert (out / "results.json").read_text() == before
    assert cli(*args, "--overwrite").code == 0


def test_unreadable_store(cli, tmp_path, data_dir):
    bad = tmp_path / "store.db"
    bad.write_bytes(b"this is not a sqlite database at all" * 100)
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "1", "--data-dir", data_dir, "--store", bad)
    _assert_one_line_error(res, "store")


def test_hub_while_offline_says_how_to_go_local(cli, store_path, monkeypatch):
    monkeypatch.delenv("EVALKIT_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "1", "--store", store_path)
    _assert_one_line_error(res, "lukaemon/bbh", "EVALKIT_DATA_DIR")


@pytest.mark.parametrize("args,needle", [
    (["--model", "dummy", "--aggregate", "majorty"], "unknown aggregator 'majorty'"),
    (["--model", "dummy", "--model-args", "delay"], "not key=value"),
    (["--model", "dummy", "--temperature", "-1"], "--temperature"),
    (["--model", "gpt-9000"], "unknown model 'gpt-9000'"),
    (["--model", "replay:/no/such/file.jsonl"], "does not exist"),
    (["--model", "dummy", "--apply-chat-template"], "--apply-chat-template"),
])
def test_more_bad_flags(cli, data_dir, store_path, args, needle):
    res = cli("run", *args, "--tasks", "bbh_navigate", "--limit", "1", "--data-dir", data_dir, "--store", store_path)
    _assert_one_line_error(res, needle)


def test_malformed_data_file(cli, tmp_path, store_path):
    (tmp_path / "mirror" / "bbh").mkdir(parents=True)
    (tmp_path / "mirror" / "bbh" / "navigate.json").write_text('{"examples": [{"input": "x", ')
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--data-dir", tmp_path / "mirror", "--store", store_path)
    _assert_one_line_error(res, "navigate.json", "not valid JSON")


def test_output_path_is_a_file(cli, tmp_path, data_dir, store_path):
    f = tmp_path / "taken"
    f.write_text("mine")
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "1", "--data-dir", data_dir,
              "--store", store_path, "--output", f)
    _assert_one_line_error(res, "is a file")
    assert f.read_text() == "mine"


def test_disk_full_on_output_keeps_the_stored_run(cli, tmp_path, data_dir, store_path, monkeypatch):
    """ENOSPC while writing results: one line, non-zero, and the run is still complete in the store."""
    import errno

    import evalkit.run.results as results

    real_open = open

    def full_open(path, mode="r", *a, **kw):
        if "w" in mode and ".evalkit-" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_open(path, mode, *a, **kw)

    monkeypatch.setattr(results, "open", full_open, raising=False)
    res = cli("run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "3", "--data-dir", data_dir,
              "--store", store_path, "--output", tmp_path / "out")
    _assert_one_line_error(res, "No space left on device")
    assert not (tmp_path / "out" / "results.json").exists()
    from evalkit.store import Store

    runs = Store(store_path).runs()
    assert [r["status"] for r in runs] == ["complete"]


def test_ctrl_c_during_scoring(cli, tmp_path, data_dir, store_path, monkeypatch):
    """Ctrl-C while scoring: one line, exit 130, generations kept, the run marked interrupted,
    earlier results untouched."""
    out = tmp_path / "out"
    args = ["run", "--model", "dummy", "--tasks", "bbh_navigate", "--limit", "3", "--data-dir", data_dir,
            "--store", store_path]
    assert cli(*args, "--output", out).code == 0
    before = (out / "results.json").read_text()
    from evalkit.core.registry import extractors

    def interrupt(*a, **kw):
        raise KeyboardInterrupt

    monkeypatch.setitem(extractors._items, "bbh", interrupt)
    res = cli(*args, "--limit", "4", "--output", tmp_path / "out2")
    assert res.code == 130 and "Traceback" not in res.err, res.out[-2000:]
    assert len([ln for ln in res.err.splitlines() if ln.strip()]) == 1 and "interrupted" in res.err
    assert (out / "results.json").read_text() == before
    from evalkit.store import Store

    st = Store(store_path)
    assert [r["status"] for r in st.runs()] == ["complete", "interrupted"]
    assert st.conn.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == 4


# -- every command: a wrong option, a missing argument, a bad value ----------------------------------
# One row per case; test_every_command_is_in_the_table keeps the table complete when a command is added.

def _commands() -> list[str]:
    import typer.main

    from evalkit.cli import app

    def walk(cmd, path):
        subs = getattr(cmd, "commands", None)
        if subs:
            for name, sub in subs.items():
                yield from walk(sub, path + [name])
        else:
            yield " ".join(path)

    return sorted(walk(typer.main.get_command(app), []))


USAGE_CASES = {
    # command: (wrong option, missing argument or value, bad value)
    "run": (["run", "--bogus"], ["run", "--tasks", "bbh_navigate"], ["run", "-m", "dummy", "-t", "bbh_navigate", "--limit", "abc"]),
    "tasks": (["tasks", "--bogus"], ["tasks", "--data-dir"], ["tasks", "--data-dir", "/no/such/mirror"]),
    "runs": (["runs", "--bogus"], ["runs", "--show"], ["runs", "--show", "no-such-run"]),
    "prepare-model": (["prepare-model", "--bogus"], ["prepare-model", "a", "b"], ["prepare-model", "no-such-model"]),
    "compare": (["compare", "a", "b", "--bogus"], ["compare", "a"], ["compare", "a", "b", "--alpha", "abc"]),
    "export": (["export", "RUN", "--out", "x.json"], ["export"], ["export", "RUN", "--format", "xml"]),
    "leaderboard show": (["leaderboard", "show", "reasoning", "--bogus"], ["leaderboard", "show"],
                         ["leaderboard", "show", "no-such-board"]),
    "leaderboard list": (["leaderboard", "list", "--bogus"], ["leaderboard", "lst"], ["leaderboard", "list", "extra"]),
    "site build": (["site", "build", "--bogus"], ["site", "build"], ["site", "build", "--out", "{file}"]),
    "store copy": (["store", "copy", "a.db", "b.db", "--bogus"], ["store", "copy", "a.db"],
                   ["store", "copy", "{file}", "b.db"]),
    "store migrate": (["store", "migrate", "--bogus"], ["store", "migrate", "--store"],
                      ["store", "migrate", "--store", "{file}"]),
}
_ROWS = [(cmd, kind, args) for cmd, cases in USAGE_CASES.items()
         for kind, args in zip(("wrong option", "missing argument", "bad value"), cases)]


def test_every_command_is_in_the_table():
    missing = sorted(set(_commands()) - set(USAGE_CASES))
    assert not missing, f"add a wrong option, a missing argument and a bad value for {missing} to USAGE_CASES"


@pytest.mark.parametrize("cmd,kind,args", _ROWS, ids=[f"{c}-{k}" for c, k, _ in _ROWS])
def test_usage_errors_of_every_command(cli, tmp_path, monkeypatch, cmd, kind, args):
    monkeypatch.chdir(tmp_path)  # the default store (evalkit.db) and outputs land here
    taken = tmp_path / "a-file"
    taken.write_text("mine")
    res = cli(*[str(a).replace("{file}", str(taken)) for a in args])
    _assert_one_line_error(res)
    assert res.err.startswith("error: "), res.err
    assert taken.read_text() == "mine"


@pytest.mark.parametrize("args,needle", [
    (["run", "--bogus"], "No such option: --bogus"),
    (["export", "RUN", "--out", "x.json"], "--output"),  # the close match is offered
    (["export"], "Missing argument"),
    (["run", "-m", "dummy", "-t", "bbh_navigate", "--limit", "abc"], "--limit must be a count (50) or a fraction (0.1)"),
    (["no-such-command"], "No such command"),
    (["--bogus"], "No such option"),
])
def test_usage_error_says_what_and_where(cli, args, needle):
    res = cli(*args)
    _assert_one_line_error(res, "error: ", needle)
    assert res.code == 2


def test_usage_errors_are_matched_by_class_not_by_click_version():
    """typer 0.29 raises its vendored click's exceptions; real click's must match too."""
    import click

    from evalkit.cli.errors import usage_error_types

    kinds = usage_error_types()
    assert any(issubclass(click.UsageError, k) for k in kinds)
    try:
        from typer._click.exceptions import NoSuchOption
    except ImportError:  # an older typer raises real click's
        return
    assert any(issubclass(NoSuchOption, k) for k in kinds)


def test_bare_group_shows_its_help(cli):
    res = cli("leaderboard")
    assert res.code != 0 and "Traceback" not in res.err + res.out
    assert "show" in res.out + res.err


def test_a_misspelt_option_gets_a_close_suggestion_and_a_foreign_one_none(cli):
    r = cli("run", "--limt", "3")
    assert r.code == 2 and "No such option: --limt (Possible options: --limit)" in r.err
    r = cli("run", "--bogus")
    assert r.code == 2 and "No such option: --bogus" in r.err and "Possible" not in r.err  # not "--verbose"
