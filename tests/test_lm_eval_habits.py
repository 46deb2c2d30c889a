"""The lm_eval: bridge with evalkit's habits: --include-path folders and per-run
overrides reach lm-eval (docs/coming-from-lm-eval.md)."""
from __future__ import annotations

import json

from evalkit import evaluate
from evalkit.core.types import Generation

TASK = """task: tiny_sum
dataset_path: json
dataset_kwargs: {{data_files: {{test: "{data}"}}}}
test_split: test
output_type: generate_until
doc_to_text: "Q: {{{{a}}}}+{{{{b}}}}\\nA:"
doc_to_target: "{{{{a + b}}}}"
generation_kwargs: {{until: ["\\n"], max_gen_toks: 32, do_sample: false}}
metric_list:
  - {{metric: exact_match, aggregation: mean, higher_is_better: true}}
"""


class Adder:
    """Answers every sum right; remembers the decoding settings it was asked for."""

    def __init__(self):
        self.params = []

    def identity(self):
        return {"backend": "adder", "version": 1}

    def generate(self, requests):
        self.params.extend(r.params for r in requests)
        out = []
        for r in requests:
            a, b = (int(x) for x in r.prompt.rsplit("Q: ", 1)[1].split("\n")[0].split("+"))
            out.append(Generation([str(a + b)] * r.params.n))
        return out


def test_bridge_reads_include_path_and_overrides(tmp_path, monkeypatch):
    folder = tmp_path / "lm_tasks"
    folder.mkdir()
    data = folder / "data.jsonl"
    data.write_text("".join(json.dumps({"a": a, "b": a + 1}) + "\n" for a in range(6)))
    (folder / "tiny_sum.yaml").write_text(TASK.format(data=data))
    monkeypatch.delenv("EVALKIT_LM_EVAL_INCLUDE", raising=False)
    monkeypatch.setenv("EVALKIT_LM_EVAL_DEFAULTS", "0")
    monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / "hf"))
    model = Adder()
    res = evaluate(model, "lm_eval:tiny_sum", include_path=[str(folder)], store=tmp_path / "s.db",
                   gen_kwargs={"max_tokens": 7, "stop": ("\n\n",)}, num_fewshot=0, limit=0.5)
    assert res.results["lm_eval:tiny_sum"]["exact_match"] == 1.0
    assert res.results["lm_eval:tiny_sum"]["n"] == 3  # lm-eval's own fractional limit: 0.5 of 6
    assert {p.max_tokens for p in model.params} == {7} and {p.stop for p in model.params} == {("\n\n",)}
    assert res.config["overrides"] == {"num_fewshot": 0, "gen_kwargs": {"max_tokens": 7, "stop": ["\n\n"]}}
