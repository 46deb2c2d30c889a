"""What a first run shows: a progress line in non-terminal logs, engine
settings recorded and compared, replays named after their model, library
warnings kept out of the output."""
from __future__ import annotations

import json
import logging
import time
import warnings
from pathlib import Path

import pytest

from evalkit.core import progress
from evalkit.report.engine_diff import differences
from evalkit.report.run_label import display_model


def test_tracker_line_counts_done_tokens_and_eta():
    now = [100.0]
    t = progress.Tracker("generating", 10, clock=lambda: now[0])
    now[0] = 120.0
    t(4)
    t.add_tokens(600)
    assert t.line() == "generating: 4/10 (40%) · 30.0 tok/s · 20s elapsed · eta 30s"
    t(6)
    assert "eta" not in t.line() and "10/10 (100%)" in t.line()


def test_plain_progress_lines_when_stderr_is_not_a_terminal(monkeypatch, capsys):
    monkeypatch.delenv("EVALKIT_PROGRESS", raising=False)
    monkeypatch.setenv("EVALKIT_PROGRESS_EVERY", "0.05")
    assert progress.mode() == "plain"  # pytest captures stderr: not a terminal
    with progress.bar("generating", total=None) as (advance, set_total):
        set_total(3)
        advance(1)
        advance.add_tokens(50)
        time.sleep(0.3)
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) >= 2, lines  # periodic, without waiting for the next finished item
    assert lines[0].startswith("generating: 1/3 (33%) · ") and "tok/s" in lines[0] and "eta" in lines[0]


def test_progress_off(monkeypatch, capsys):
    monkeypatch.setenv("EVALKIT_PROGRESS", "0")
    monkeypatch.setenv("EVALKIT_PROGRESS_EVERY", "0.01")
    with progress.bar("x", total=2) as (advance, _):
        advance(1)
        time.sleep(0.05)
    assert capsys.readouterr().err == ""


HF = {"engine": "hf", "engine_version": "5.24.0", "dtype": "float32",
      "tokenizer": {"add_special_tokens": False, "bos_token": None, "chat_template_sha256": None}}


@pytest.mark.parametrize("change,needle", [
    ({"engine": "vllm"}, "engine: 'hf' vs 'vllm'"),
    ({"dtype": "bfloat16"}, "dtype: 'float32' vs 'bfloat16'"),
    ({"tokenizer": {**HF["tokenizer"], "add_special_tokens": True}}, "tokenizer.add_special_tokens: False vs True"),
    ({"tokenizer": {**HF["tokenizer"], "chat_template_sha256": "ab"}}, "tokenizer.chat_template_sha256: None vs 'ab'"),
])
def test_engine_differences_are_named(change, needle):
    assert differences(HF, {**HF, **change}) == [needle]


def test_same_engine_or_unknown_engine_is_no_difference():
    assert differences(HF, dict(HF, engine_version="6.0")) == []  # a version bump alone is not flagged
    assert differences(HF, None) == [] and differences(None, None) == []


def _results_dir(root: Path, name: str, engine: dict) -> Path:
    d = root / name
    (d / "samples").mkdir(parents=True)
    (d / "results.json").write_text(json.dumps({"run_id": name, "results": {},
                                                "config": {"model": "smollm2-135m", "engine": engine}}))
    lines = [json.dumps({"task": "bbh_navigate", "doc_id": i, "score": float(i % 2)}) for i in range(6)]
    (d / "samples" / "bbh_navigate.jsonl").write_text("\n".join(lines) + "\n")
    return d


def test_compare_warns_when_engines_differ(cli, tmp_path):
    a = _results_dir(tmp_path, "a", HF)
    b = _results_dir(tmp_path, "b", dict(HF, engine="vllm", dtype="bfloat16"))
    res = cli("compare", str(a), str(b))
    assert res.code == 0
    assert "note: the runs differ in engine settings" in res.out
    assert "engine: 'hf' vs 'vllm'" in res.out and "dtype: 'float32' vs 'bfloat16'" in res.out
    same = cli("compare", str(a), str(_results_dir(tmp_path, "c", HF)))
    assert "engine settings" not in same.out


def test_replay_is_labelled_with_the_model_that_produced_it(data_dir, tmp_path):
    from evalkit.report.leaderboard import BoardTask, latest_cells
    from evalkit.report.site.build import load_runs
    from evalkit.run.runner import RunConfig, run
    from evalkit.store import Store

    store = tmp_path / "s.db"
    first = tmp_path / "dummy-run"
    run(RunConfig(model="dummy", tasks=["bbh_navigate"], limit=2, output=first, store=store, data_dir=str(data_dir)))
    res = run(RunConfig(model=f"replay:{first}", tasks=["bbh_navigate"], limit=2, store=store, data_dir=str(data_dir)))
    assert res.payload.config["source_model"] == "dummy"
    st = Store(store)
    models = {m for m, _ in latest_cells(st, [BoardTask(task="bbh_navigate")])}
    assert models == {"dummy", "dummy (replayed)"}
    assert {r.model for r in load_runs(st)} == {"dummy", "dummy (replayed)"}
    assert display_model("replay:a.jsonl", {}) == "replay:a.jsonl"  # a bare file names no model


def test_library_warnings_go_to_the_log_file(monkeypatch, tmp_path):
    from evalkit.core import logs as library_logs

    log = tmp_path / "lib.log"
    monkeypatch.setenv("EVALKIT_LOG_FILE", str(log))
    monkeypatch.delenv("EVALKIT_VERBOSE", raising=False)
    saved = {n: (logging.getLogger(n).handlers[:], logging.getLogger(n).propagate) for n in library_logs.LIBRARIES}
    try:
        assert library_logs.route(verbose=False) == log
        logging.getLogger("transformers.generation").warning("a library warning")
        with warnings.catch_warnings():
            warnings.simplefilter("always")
            # an earlier test may have left logging "capturing" while pytest reset showwarning
            # for this test; turn it off and on so warnings really go through logging here
            logging.captureWarnings(False)
            logging.captureWarnings(True)
            warnings.warn("deprecated thing", FutureWarning)
        for h in logging.getLogger("transformers").handlers:
            h.flush()
        text = log.read_text()
        assert "a library warning" in text and "deprecated thing" in text
        assert library_logs.route(verbose=True) is None
    finally:
        library_logs._HANDLER = None
        logging.captureWarnings(False)
        for n, (handlers, prop) in saved.items():
            logging.getLogger(n).handlers, logging.getLogger(n).propagate = handlers, prop
