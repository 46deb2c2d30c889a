"""The humaneval tasks through the runner with replayed outputs: gold, broken, and n=3 mixes."""
from __future__ import annotations

import pytest
from conftest import write_jsonl

from evalkit.benchmarks.humaneval import load_humaneval
from evalkit.core.errors import ConfigError
from evalkit.core.types import Doc
from evalkit.evaluators.code_exec import completion
from evalkit.run.runner import RunConfig, run
from evalkit.scoring.passk import pass_at_k
from evalkit.spec.taskspec import load_catalog


@pytest.fixture(scope="module")
def problems(data_dir):
    return load_humaneval(data_dir / "humaneval" / "HumanEval.jsonl")


def _run(tmp_path, data_dir, rows, task="humaneval", **kw):
    replay = write_jsonl(tmp_path / "replay.jsonl", rows)
    return run(RunConfig(model=f"replay:{replay}", tasks=[task], data_dir=str(data_dir),
                         store=tmp_path / "s.db", **kw))


def test_tasks_load():
    cat = load_catalog()
    for name, mode in (("humaneval", "completion"), ("humaneval_instruct", "instruct")):
        spec = cat.tasks[name]
        assert spec.output_type == "code_exec" and spec.metric == "pass@1"
        assert spec.options["mode"] == mode
    assert set(cat.tasks["humaneval"].generation.stop) == {"\nclass", "\ndef", "\n#", "\nif", "\nprint"}


def test_gold_and_broken_replays(tmp_path, data_dir, problems):
    (tmp_path / "g").mkdir()
    gold = _run(tmp_path / "g", data_dir, [{"task": "humaneval", "doc_id": i, "output": p["canonical_solution"]}
                                           for i, p in enumerate(problems)])
    recs = gold.records["humaneval"]
    assert len(recs) == 164 and gold.results["humaneval"]["pass@1"] == 1.0
    assert all(r.scores_all == [1.0] and r.trace[0]["status"] == "passed" for r in recs)
    assert all(r.trace[0]["isolation"] for r in recs)  # the sandbox's isolation level, per sample
    (tmp_path / "b").mkdir()
    broken = _run(tmp_path / "b", data_dir, [{"task": "humaneval", "doc_id": i, "output": "    return None\n"}
                                             for i in range(164)])
    assert broken.results["humaneval"]["pass@1"] == 0.0
    assert all(r.trace[0]["status"] == "failed" and r.trace[0]["reason"] for r in broken.records["humaneval"])


def test_three_samples_give_unbiased_pass_at_k(tmp_path, data_dir, problems):
    mixes = [(1, 1, 1), (1, 0, 0), (0, 0, 0), (0, 1, 1), (1, 1, 0), (0, 0, 1)]
    rows = [{"task": "humaneval", "doc_id": i,
             "outputs": [problems[i]["canonical_solution"] if ok else "    return None\n" for ok in mix]}
            for i, mix in enumerate(mixes)]
    res = _run(tmp_path, data_dir, rows, limit=len(mixes), samples=3, options={"ks": [1, 2, 3, 10]})
    r = res.results["humaneval"]
    for k in (1, 2, 3):
        expected = sum(pass_at_k(3, sum(m), k) for m in mixes) / len(mixes)
        assert r[f"pass@{k}"] == pytest.approx(expected)
    assert "pass@10" not in r  # k > n is undefined, not reported
    assert r["pass@1"] == pytest.approx(sum(map(sum, mixes)) / 18)  # pass@1 is the mean
    assert r["pass@2"] == pytest.approx((1 + 2 / 3 + 0 + 1 + 1 + 2 / 3) / 6)
    for rec, mix in zip(res.records["humaneval"], mixes):
        assert rec.scores_all == [float(x) for x in mix] and len(rec.trace) == 3


def test_instruct_replay_extracts_the_function(tmp_path, data_dir, problems):
    p = problems[0]
    answer = "Sure:\n```python\n" + p["prompt"] + p["canonical_solution"] + "\nprint(has_close_elements([1.0], 0.5))\n```\n"
    res = _run(tmp_path, data_dir, [{"task": "humaneval_instruct", "doc_id": 0, "output": answer}],
               task="humaneval_instruct", limit=1)
    rec = res.records["humaneval_instruct"][0]
    assert rec.score == 1.0 and "print(" not in rec.extracted
    assert "```python" in rec.prompt and p["prompt"] in rec.prompt


def test_completion_mode_appends_verbatim():
    doc = Doc(0, {"prompt": "def f():\n", "entry_point": "f"})
    assert completion("    return 1\n", doc, "completion") == "    return 1\n"
    assert completion("```python\nreturn 1\n```", doc, "instruct") == "    return 1\n"


def test_majority_is_refused_on_code_tasks(tmp_path, data_dir):
    with pytest.raises(ConfigError, match="mpsc"):
        _run(tmp_path, data_dir, [{"task": "humaneval", "doc_id": 0, "output": "x"}], limit=1, aggregator="majority")
