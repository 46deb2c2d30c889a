"""lm-evaluation-harness tasks through evalkit: `--tasks lm_eval:<task>` with local-data task YAMLs.

The backends are scripted (model-free), so the expected scores are known; lm-eval's own
reported numbers are captured and must equal what evalkit stores.
"""
from __future__ import annotations

import json
import re

import pytest

from evalkit.core.errors import ConfigError
from evalkit.core.registry import backends
from evalkit.core.types import Generation, Loglikelihood
from evalkit.models.base import BaseBackend
from evalkit.run.runner import RunConfig, run
from evalkit.store import Store

DOCS = [{"a": a, "b": b, "choices": [str(a + b + 1), str(a + b)], "label": 1} for a, b in
        [(1, 1), (2, 2), (3, 4), (5, 1), (6, 6), (7, 2), (8, 3), (9, 9)]]
RIGHT = {i for i, d in enumerate(DOCS) if d["a"] % 2 == 0}  # the scripted model is right on even a

GEN_TASK = """task: tiny_gen
dataset_path: json
dataset_kwargs: {{data_files: {{test: "{data}"}}}}
test_split: test
output_type: generate_until
doc_to_text: "Q: {{{{a}}}}+{{{{b}}}}\\nA:"
doc_to_target: "{{{{a + b}}}}"
generation_kwargs: {{until: ["\\n"], max_gen_toks: 32, do_sample: false}}
filter_list:
  - name: strict-match
    filter: [{{function: regex, regex_pattern: "answer is (\\\\d+)"}}, {{function: take_first}}]
  - name: flexible-extract
    filter: [{{function: regex, regex_pattern: "(\\\\d+)", group_select: -1}}, {{function: take_first}}]
metric_list:
  - {{metric: exact_match, aggregation: mean, higher_is_better: true}}
"""
MC_TASK = """task: tiny_mc
dataset_path: json
dataset_kwargs: {{data_files: {{test: "{data}"}}}}
test_split: test
output_type: multiple_choice
doc_to_text: "Q: {{{{a}}}}+{{{{b}}}}\\nA:"
doc_to_choice: "{{{{choices}}}}"
doc_to_target: label
metric_list:
  - {{metric: acc, aggregation: mean, higher_is_better: true}}
  - {{metric: acc_norm, aggregation: mean, higher_is_better: true}}
"""
PPL_TASK = """task: tiny_ppl
dataset_path: json
dataset_kwargs: {{data_files: {{test: "{data}"}}}}
test_split: test
output_type: loglikelihood_rolling
doc_to_text: ""
doc_to_target: "{{{{a}}}}"
metric_list:
  - {{metric: word_perplexity}}
"""


def _sum(prompt: str) -> tuple[int, int]:
    a, b = map(int, re.search(r"Q: (\d+)\+(\d+)", prompt).groups())
    return a, b


class ScriptedLM(BaseBackend):
    """Right on even a, wrong on odd a; log-likelihoods prefer the same answers."""

    calls: list[int] = []

    def __init__(self, target: str = "", **_):
        pass

    def identity(self):
        return {"backend": "lmeval-scripted", "version": 1}

    def generate(self, requests, progress=None, on_result=None):
        out = []
        for i, r in enumerate(requests):
            a, b = _sum(r.prompt)
            ans = a + b if a % 2 == 0 else a + b + 1
            gen = Generation([f" The answer is {ans}.\nQ: ignored after the stop"] * r.params.n, ["stop"] * r.params.n)
            out.append(gen)
            if on_result:
                on_result(i, gen)
        ScriptedLM.calls.append(len(requests))
        return out

    def loglikelihood(self, requests):
        out = []
        for r in requests:
            a, b = _sum(r.context)
            best = a + b if a % 2 == 0 else a + b + 1
            out.append(Loglikelihood(-abs(int(r.continuation) - best) - 0.5, int(r.continuation) == best))
        return out


backends.replace("lmeval-scripted", ScriptedLM)


@pytest.fixture
def lm_tasks(tmp_path, monkeypatch):
    folder = tmp_path / "lm_tasks"
    folder.mkdir()
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    for name, text in (("tiny_gen", GEN_TASK), ("tiny_mc", MC_TASK), ("tiny_ppl", PPL_TASK)):
        (folder / f"{name}.yaml").write_text(text.format(data=data))
    monkeypatch.setenv("EVALKIT_LM_EVAL_INCLUDE", str(folder))
    monkeypatch.setenv("EVALKIT_LM_EVAL_DEFAULTS", "0")  # offline and fast: never index lm-eval's own tasks
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    return folder


@pytest.fixture
def lm_reported(monkeypatch):
    """What lm-eval itself reported, captured around simple_evaluate."""
    import lm_eval

    seen: list[dict] = []
    real = lm_eval.simple_evaluate

    def spy(*a, **kw):
        out = real(*a, **kw)
        seen.append(out)
        return out

    monkeypatch.setattr(lm_eval, "simple_evaluate", spy)
    return seen


def test_generate_until_matches_lm_eval_and_goes_through_the_cache(lm_tasks, lm_reported, tmp_path):
    store = tmp_path / "s.db"
    ScriptedLM.calls.clear()
    cfg = RunConfig(model="lmeval-scripted", tasks=["lm_eval:tiny_gen"], store=store)
    res = run(cfg)
    reported = lm_reported[0]["results"]["tiny_gen"]
    ours = res.results["lm_eval:tiny_gen"]
    assert ours["exact_match,strict-match"] == pytest.approx(len(RIGHT) / len(DOCS))
    assert ours["exact_match,strict-match"] == pytest.approx(reported["exact_match,strict-match"])
    assert ours["exact_match,flexible-extract"] == pytest.approx(reported["exact_match,flexible-extract"])
    assert ours["n"] == len(DOCS)

    st = Store(store)
    assert st.run(res.run_id)["status"] == "complete"
    metrics = {m["metric"]: m for m in st.metrics(res.run_id) if m["task"] == "lm_eval:tiny_gen"}
    assert metrics["exact_match,strict-match"]["value"] == pytest.approx(len(RIGHT) / len(DOCS))
    samples = st.samples(res.run_id, "lm_eval:tiny_gen")
    assert [s["doc_id"] for s in samples] == list(range(len(DOCS)))
    assert samples[2]["prompt"] == "Q: 3+4\nA:" and samples[2]["outputs"] == [" The answer is 8."]  # cut at "\n"
    assert samples[2]["extracted"] == "8" and samples[2]["target"] == "7" and samples[2]["score"] == 0.0
    assert {s["doc_id"] for s in samples if s["score"] == 1.0} == RIGHT
    assert sum(ScriptedLM.calls) == len(DOCS) and res.sent_requests == len(DOCS)

    again = run(cfg)  # evalkit's generation cache answers everything
    assert again.sent_requests == 0 and sum(ScriptedLM.calls) == len(DOCS)
    assert again.results["lm_eval:tiny_gen"] == ours


def test_multiple_choice_uses_backend_loglikelihood(lm_tasks, lm_reported, tmp_path):
    res = run(RunConfig(model="lmeval-scripted", tasks=["lm_eval:tiny_mc"], store=tmp_path / "s.db", limit=6))
    reported = lm_reported[0]["results"]["tiny_mc"]
    ours = res.results["lm_eval:tiny_mc"]
    assert ours["acc"] == pytest.approx(reported["acc,none"]) == pytest.approx(len(RIGHT & set(range(6))) / 6)
    assert ours["acc_norm"] == pytest.approx(reported["acc_norm,none"])
    rec = res.records["lm_eval:tiny_mc"][0]
    assert [t["choice"] for t in rec.trace] == [" 3", " 2"] and rec.target == "2" and rec.extracted == "3"


def test_cli_run_export_and_compare(cli, lm_tasks, tmp_path):
    store = tmp_path / "s.db"
    res = cli("run", "--model", "dummy", "--tasks", "lm_eval:tiny_gen", "--store", store, "--output", tmp_path / "o")
    assert res.code == 0, res
    assert (tmp_path / "o" / "samples" / "lm_eval:tiny_gen.jsonl").is_file()
    run_id = Store(store).runs()[0]["run_id"]
    out = tmp_path / "lm.json"
    res = cli("export", run_id, "--format", "lm-eval", "--store", store, "--output", out)
    assert res.code == 0, res
    data = json.loads(out.read_text())
    block = data["results"]["tiny_gen"]
    assert block["exact_match,strict-match"] == 0.0 and "exact_match_stderr,strict-match" in block
    assert data["n-samples"]["tiny_gen"]["effective"] == len(DOCS) and data["model_name"] == "dummy"
    res = cli("run", "--model", "lmeval-scripted", "--tasks", "lm_eval:tiny_gen", "--store", store)
    assert res.code == 0, res
    res = cli("compare", run_id, "latest:lmeval-scripted", "--store", store, "--format", "json")
    task = json.loads(res.out)["tasks"][0]
    assert task["task"] == "lm_eval:tiny_gen" and task["n"] == len(DOCS) and sorted(task["better"]) == sorted(RIGHT)


def test_export_native_run(cli, data_dir, tmp_path):
    store = tmp_path / "s.db"
    run(RunConfig(model="dummy", tasks=["bbh"], limit=2, data_dir=str(data_dir), store=store))
    res = cli("export", "latest:dummy", "--store", store, "--output", "-")
    data = json.loads(res.out)
    assert set(data["results"]["bbh_navigate"]) >= {"alias", "exact_match,none", "exact_match_stderr,none"}
    assert data["groups"]["bbh"]["exact_match_macro,none"] == data["results"]["bbh"]["exact_match,none"]
    assert len(data["group_subtasks"]["bbh"]) == 27
    res = cli("export", "latest:dummy", "--store", store, "--format", "helm")
    assert res.code != 0 and "unknown --format 'helm'" in res.err


def test_errors_are_one_line(cli, lm_tasks, tmp_path):
    res = cli("run", "--model", "dummy", "--tasks", "lm_eval:tiny_gn", "--store", tmp_path / "s.db")
    assert res.code != 0 and "unknown lm-eval task 'tiny_gn' (did you mean tiny_gen" in res.err
    res = cli("run", "--model", "dummy", "--tasks", "lm_eval:tiny_ppl", "--store", tmp_path / "s.db")
    assert res.code != 0 and "loglikelihood_rolling" in res.err and len(res.err.strip().splitlines()) == 1
    res = cli("run", "--model", "dummy", "--tasks", "lm_eval:tiny_mc", "--store", tmp_path / "s.db")
    assert res.code != 0 and "cannot score log-likelihoods" in res.err and "Traceback" not in res.err


def test_rolling_loglikelihood_says_why():
    from evalkit.evaluators.lm_eval_bridge import lm_class

    with pytest.raises(NotImplementedError, match="loglikelihood_rolling"):
        lm_class()(None).loglikelihood_rolling([])


def test_resolve_rejects_unknown_without_lm_eval_defaults(lm_tasks):
    from evalkit.evaluators.lm_eval_bridge import resolve

    assert [leaf.metric for leaf in resolve("tiny_gen")] == ["exact_match,strict-match"]
    with pytest.raises(ConfigError, match="unknown lm-eval task"):
        resolve("nope_task")
