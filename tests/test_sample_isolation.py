"""Any exception while scoring one sample is that sample's error (score 0, reason kept),
never the run's (issue 14 §3)."""
from __future__ import annotations

import json

import pytest

from evalkit.core.errors import ConfigError
from evalkit.core.types import Doc, SampleRecord
from evalkit.run.context import EvalContext, TaskRun
from evalkit.run.isolation import evaluate_isolated
from evalkit.spec.taskspec import load_catalog


def _samples(out, task="bbh_navigate"):
    return [json.loads(ln) for ln in (out / "samples" / f"{task}.jsonl").read_text().splitlines()]


def _args(data_dir, store_path, out, tasks="bbh_navigate"):
    return ["run", "--model", "dummy", "--tasks", tasks, "--limit", "5", "--data-dir", data_dir,
            "--store", store_path, "--output", out]


def test_a_raising_scorer_fails_only_its_samples(cli, tmp_path, data_dir, store_path, monkeypatch):
    assert cli(*_args(data_dir, store_path, tmp_path / "clean")).code == 0
    clean = _samples(tmp_path / "clean")
    from evalkit.core.registry import scorers

    real = scorers.get("exact_match")

    def flaky(extracted, target, doc, **kw):
        if doc.id == 1:
            raise RuntimeError("scorer bug")
        if doc.id == 3:
            raise RecursionError("maximum recursion depth exceeded")
        return real(extracted, target, doc, **kw)

    monkeypatch.setitem(scorers._items, "exact_match", flaky)
    res = cli(*_args(data_dir, store_path, tmp_path / "out"))
    assert res.code == 0, res
    got = _samples(tmp_path / "out")
    assert [s["doc_id"] for s in got] == [0, 1, 2, 3, 4]
    assert "RuntimeError: scorer bug" in got[1]["error"] and "RecursionError" in got[3]["error"]
    assert got[1]["score"] == got[3]["score"] == 0.0
    for i in (0, 2, 4):
        assert got[i]["error"] == "" and got[i]["score"] == clean[i]["score"]
    results = json.loads((tmp_path / "out" / "results.json").read_text())
    assert results["results"]["bbh_navigate"]["n_errors"] == 2


def test_an_exception_escaping_the_evaluator_is_confined_to_its_doc(cli, tmp_path, data_dir, store_path, monkeypatch):
    """An error no evaluator expected (here a RecursionError raised for doc 2 of one task
    out of the whole batch) costs that doc only; the other task and docs score as before."""
    tasks = "bbh_navigate,bbh_sports_understanding"
    assert cli(*_args(data_dir, store_path, tmp_path / "clean", tasks)).code == 0
    from evalkit.core.registry import evaluators

    real = evaluators.get("generate")
    calls = []

    def fragile(runs, ctx):
        calls.append(sum(len(t.docs) for t in runs))
        if any(t.spec.name == "bbh_navigate" and any(d.id == 2 for d in t.docs) for t in runs):
            raise RecursionError("maximum recursion depth exceeded while parsing")
        return real(runs, ctx)

    monkeypatch.setitem(evaluators._items, "generate", fragile)
    res = cli(*_args(data_dir, store_path, tmp_path / "out", tasks))
    assert res.code == 0, res
    for task in tasks.split(","):
        clean, got = _samples(tmp_path / "clean", task), _samples(tmp_path / "out", task)
        assert [s["doc_id"] for s in got] == [0, 1, 2, 3, 4]
        for c, g in zip(clean, got):
            if task == "bbh_navigate" and g["doc_id"] == 2:
                assert g["score"] == 0.0 and g["error"].startswith("RecursionError"), g
                assert g["prompt"] == c["prompt"]
            else:
                assert (g["score"], g["extracted"], g["error"]) == (c["score"], c["extracted"], ""), (task, g["doc_id"])
    assert calls[0] == 10 and len(calls) < 12  # one batch, then bisection, not one call per doc
    results = json.loads((tmp_path / "out" / "results.json").read_text())["results"]
    assert results["bbh_navigate"]["n_errors"] == 1 and results["bbh_sports_understanding"]["n_errors"] == 0


def _task_run(n: int) -> TaskRun:
    spec = load_catalog().tasks["bbh_navigate"]
    return TaskRun(spec, [Doc(i, {"input": f"q{i}", "target": "Yes"}) for i in range(n)])


def _ok(runs, ctx):
    return {t.spec.name: [SampleRecord(t.spec.name, d.id, "", ["x"], "Yes", "Yes", 1.0, {"exact_match": 1.0})
                          for d in t.docs] for t in runs}


@pytest.mark.parametrize("bad", [set(), {0}, {7}, {3, 4}, {0, 1, 2, 3, 4, 5, 6, 7}])
def test_bisection_isolates_exactly_the_failing_docs(bad):
    def evaluator(runs, ctx):
        hit = [d.id for t in runs for d in t.docs if d.id in bad]
        if hit:
            raise ValueError(f"doc {hit[0]}")
        return _ok(runs, ctx)

    out = evaluate_isolated(evaluator, [_task_run(8)], EvalContext(None, None))["bbh_navigate"]
    assert [r.doc_id for r in out] == list(range(8))
    assert {r.doc_id for r in out if r.error} == bad
    assert all(r.score == 0.0 and "ValueError" in r.error for r in out if r.error)


def test_run_errors_are_not_swallowed():
    """A ConfigError is about the run (a flag, a task file), not a sample: it still ends the run."""
    def evaluator(runs, ctx):
        raise ConfigError("--aggregate x does not apply")

    with pytest.raises(ConfigError):
        evaluate_isolated(evaluator, [_task_run(4)], EvalContext(None, None))


def test_interrupt_is_not_swallowed():
    def evaluator(runs, ctx):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        evaluate_isolated(evaluator, [_task_run(4)], EvalContext(None, None))


def test_long_reasons_are_cut():
    def evaluator(runs, ctx):
        raise ValueError("x" * 100_000)

    out = evaluate_isolated(evaluator, [_task_run(1)], EvalContext(None, None))["bbh_navigate"]
    assert len(out[0].error) < 600


@pytest.mark.model
def test_real_model_run_survives_an_evaluator_crash_on_one_doc(cli, tmp_path, data_dir, store_path, monkeypatch):
    """Through the packaged CPU model: an unexpected exception for one doc costs that doc only,
    the bisection re-runs take their generations from the cache, and --overwrite publishes cleanly."""
    from evalkit.core.registry import evaluators

    real = evaluators.get("generate")

    def fragile(runs, ctx):
        if any(d.id == 1 for t in runs for d in t.docs):
            raise RecursionError("maximum recursion depth exceeded")
        return real(runs, ctx)

    monkeypatch.setitem(evaluators._items, "generate", fragile)
    out = tmp_path / "out"
    args = ["run", "--model", "smollm2-135m", "--tasks", "bbh_navigate", "--limit", "2", "--data-dir", data_dir,
            "--store", store_path, "--output", out]
    res = cli(*args)
    assert res.code == 0, res
    payload = json.loads((out / "results.json").read_text())
    got = _samples(out)
    assert [s["doc_id"] for s in got] == [0, 1]
    assert got[1]["error"].startswith("RecursionError") and got[1]["score"] == 0.0
    assert got[0]["error"] == "" and got[0]["outputs"] and got[0]["score"] in (0.0, 1.0)
    assert got[1]["prompt"].endswith("A: Let's think step by step.")  # the failed doc still shows what was asked
    assert payload["results"]["bbh_navigate"]["n_errors"] == 1
    assert payload["config"]["requests"]["sent"] == 1  # only doc 0 ever reached the model
    assert cli(*args, "--overwrite").code == 0
    assert not list(out.glob(".evalkit-*"))
