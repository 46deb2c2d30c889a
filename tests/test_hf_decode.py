"""The hf backend's greedy decoder against a bare ``model.generate`` loop, on
the packaged model and real BBH questions: rows of several tasks share a
batch, rows leave as they stop and new ones enter, and every row's tokens
must still be what the model produces for that prompt alone."""
from __future__ import annotations

import json

import pytest

from evalkit.core.types import GenParams, Request

pytestmark = pytest.mark.model

TASKS = {"bbh_sports_understanding": "sports_understanding", "bbh_navigate": "navigate",
         "bbh_object_counting": "object_counting"}


@pytest.fixture(scope="module")
def backend():
    from evalkit.models.hf import HFBackend

    be = HFBackend("smollm2-135m", batch_size=3)
    yield be
    be.close()


def _requests(data_dir, per_task=2, max_tokens=24):
    reqs = []
    for task, sub in TASKS.items():
        docs = json.loads((data_dir / "bbh" / f"{sub}.json").read_text())["examples"][:per_task]
        for i, d in enumerate(docs):
            # a shared few-shot-like prefix per task, so the decoder's prefix cache is exercised too
            prompt = f"Answer the {sub.replace('_', ' ')} question step by step.\n" * 8 + f"Q: {d['input']}\nA:"
            reqs.append(Request(task, i, prompt, GenParams(max_tokens=max_tokens, temperature=0.0, stop=("\n\n",))))
    return reqs


def _bare(backend, prompt: str, max_new: int) -> list[int]:
    import torch

    ids = torch.tensor([backend.tok(prompt, add_special_tokens=False)["input_ids"]])
    with torch.inference_mode():
        out = backend.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), max_new_tokens=max_new,
                                     do_sample=False, pad_token_id=backend.tok.pad_token_id)
    return out[0, ids.shape[1]:].tolist()


def test_greedy_decoder_matches_generate_per_prompt(backend, data_dir):
    from evalkit.models.base import truncate_at_stop

    reqs = _requests(data_dir)
    seen = []
    gens = backend.generate(reqs, progress=seen.append)
    assert len(gens) == len(reqs) and sum(seen) == len(reqs)
    for req, gen in zip(reqs, gens):
        toks = _bare(backend, req.prompt, req.params.max_tokens)
        eos = backend.tok.eos_token_id
        toks = toks[:toks.index(eos)] if eos in toks else toks
        want = truncate_at_stop(backend.tok.decode(toks, skip_special_tokens=True), req.params.stop)
        assert gen.texts == [want], (req.task, req.doc_id)
        assert gen.usage["completion_tokens"] <= req.params.max_tokens


def test_dtype_model_arg_loads_and_is_recorded():
    from evalkit.models.hf import HFBackend

    be = HFBackend("smollm2-135m", dtype="bfloat16")
    settings = be.engine_settings()
    assert settings["engine"] == "hf" and settings["dtype"] == "bfloat16"
    assert settings["tokenizer"]["add_special_tokens"] is False


@pytest.mark.parametrize("dtype", ["float33", "fp32", "auto_"])
def test_unknown_dtype_is_a_config_error_before_loading(dtype):
    from evalkit.core.errors import ConfigError
    from evalkit.models.hf import HFBackend

    with pytest.raises(ConfigError, match="unknown dtype"):
        HFBackend("no/such-model", dtype=dtype)
