"""The Python API: `from evalkit import evaluate` returns the record the CLI writes."""
from __future__ import annotations

import json

import pytest

from evalkit import EvalResult, evaluate
from evalkit.core.errors import ConfigError
from evalkit.core.types import Generation

TASK = "bbh_date_understanding"


class Echo:
    """The smallest model-protocol object: generate(requests) only."""

    def __init__(self):
        self.sent = 0

    def generate(self, requests):
        self.sent += len(requests)
        return [Generation(["So the answer is (A)."] * r.params.n) for r in requests]


class NamedEcho(Echo):
    def identity(self):
        return {"backend": "echo", "version": 1}


def test_result_is_the_cli_record(tmp_path, data_dir):
    res = evaluate("dummy", TASK, limit=3, store=tmp_path / "s.db", output=tmp_path / "out", data_dir=data_dir)
    assert isinstance(res, EvalResult)
    written = json.loads((tmp_path / "out" / "results.json").read_text())
    assert json.loads(json.dumps(res.to_json(), default=str)) == written
    assert res.score(TASK) == written["results"][TASK]["exact_match"]
    assert [s.doc_id for s in res.samples[TASK]] == [0, 1, 2]


def test_protocol_object_with_identity_is_cached(tmp_path, data_dir):
    model = NamedEcho()
    first = evaluate(model, [TASK], limit=4, store=tmp_path / "s.db", data_dir=data_dir, label="echo-v1")
    again = evaluate(model, [TASK], limit=4, store=tmp_path / "s.db", data_dir=data_dir, label="echo-v1")
    assert model.sent == 4 and again.config["requests"]["samples_from_cache"] == 4
    # the expected score, from the data itself: the docs whose target is (A)
    docs = json.loads((data_dir / "bbh" / "date_understanding.json").read_text())["examples"][:4]
    assert first.score(TASK) == pytest.approx(sum(d["target"] == "(A)" for d in docs) / 4)
    assert first.config["model"] == "object:echo-v1"


def test_anonymous_protocol_object_is_never_cached(tmp_path, data_dir):
    model = Echo()
    evaluate(model, TASK, limit=2, store=tmp_path / "s.db", data_dir=data_dir)
    evaluate(model, TASK, limit=2, store=tmp_path / "s.db", data_dir=data_dir)
    assert model.sent == 4  # no identity(): a cache hit could be another object's text


def test_overrides_pass_through(tmp_path, data_dir):
    res = evaluate("dummy", TASK, limit=0.01, store=tmp_path / "s.db", data_dir=data_dir, num_fewshot=0,
                   gen_kwargs="max_tokens=16", temperature=0.0)
    assert res.results[TASK]["n"] == 3  # ceil(250 * 0.01)
    assert res.config["overrides"] == {"num_fewshot": 0, "gen_kwargs": {"max_tokens": 16}}
    assert all(s.prompt.count("Q: ") == 1 for s in res.samples[TASK])


def test_bad_inputs_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="label="):
        evaluate((object(), object()), TASK, store=tmp_path / "s.db")
    with pytest.raises(ConfigError, match="cannot evaluate a int"):
        evaluate(42, TASK, store=tmp_path / "s.db")
    with pytest.raises(ConfigError, match="evaluate\\(\\)"):
        evaluate("dummy", TASK, store=tmp_path / "s.db", no_such_setting=1)


@pytest.mark.model
def test_in_memory_transformers_model(tmp_path, data_dir):
    """A training loop's checkpoint: evaluated from memory, cached by its weights, equal to the same model from disk."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evalkit.models.aliases import prepared_model_dir

    path = prepared_model_dir("smollm2-135m")
    model = AutoModelForCausalLM.from_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    kw = dict(limit=1, store=tmp_path / "s.db", data_dir=data_dir, gen_kwargs={"max_tokens": 16}, num_fewshot=1)
    first = evaluate((model, tok), TASK, label="run-a/step-0", **kw)
    ident = first.config["backend"]
    assert ident["in_memory"] and ident["model"] == "run-a/step-0" and len(ident["weights_sha256"]) == 64
    assert first.config["requests"]["sent"] == 1
    from_disk = evaluate("hf:smollm2-135m", TASK, **kw)
    assert [s.outputs for s in from_disk.samples[TASK]] == [s.outputs for s in first.samples[TASK]]

    again = evaluate(model, TASK, tokenizer=tok, label="run-a/step-0", **kw)
    assert again.config["requests"]["sent"] == 0  # same weights, same label: the cache answers
    with torch.no_grad():
        model.model.norm.weight.mul_(1.01)  # one optimizer step later
    moved = evaluate((model, tok), TASK, label="run-a/step-0", **kw)
    assert moved.config["backend"]["weights_sha256"] != ident["weights_sha256"]
    assert moved.config["requests"]["sent"] == 1  # new weights never read old generations


def test_caller_tokenizer_and_train_mode_are_left_alone(tmp_path, data_dir, monkeypatch):
    """The hf backend pads left and evaluates in eval mode; a training loop's objects come back as they went."""
    import evalkit.models.hf as hf

    class Model:
        training = True
        config = None

        def eval(self):
            self.training = False

        def train(self, mode=True):
            self.training = mode

    class Tok:
        padding_side = "right"
        pad_token = "<pad>"

    seen = {}

    def fake_from_loaded(model, tok, label, **kw):
        model.eval()
        tok.padding_side = "left"
        seen["tok"] = tok
        from evalkit.api import ProtocolBackend

        backend = ProtocolBackend(NamedEcho(), label)
        backend.model = model
        return backend

    monkeypatch.setattr(hf.HFBackend, "from_loaded", staticmethod(fake_from_loaded))
    model, tok = Model(), Tok()
    evaluate((model, tok), TASK, label="t", limit=1, store=tmp_path / "s.db", data_dir=data_dir)
    assert tok.padding_side == "right" and seen["tok"] is not tok
    assert model.training is True
