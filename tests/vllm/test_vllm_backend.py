"""The vLLM backend on the packaged SmolLM2-135M, on CPU, against transformers."""
from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import torch
import vllm

from evalkit.core.errors import ConfigError
from evalkit.core.types import GenParams, LoglikelihoodRequest, Request
from evalkit.models.base import truncate_at_stop
from evalkit.models.vllm import VLLMBackend, coerce, round_robin, sampling_kwargs

REPO = Path(__file__).resolve().parents[2]


def req(prompt: str, doc_id: int = 0, first_sample: int = 0, **params) -> Request:
    return Request("t", doc_id, prompt, GenParams(**params), first_sample=first_sample)


# -- pure helpers ------------------------------------------------------------
@pytest.mark.parametrize("raw, want", [
    ("4", 4), ("0.9", 0.9), ("true", True), ("False", False), ("none", None),
    ("float32", "float32"), ('{"a": 1}', {"a": 1}), ("{oops", "{oops"), (7, 7),
])
def test_coerce_cli_strings(raw, want):
    assert coerce(raw) == want and type(coerce(raw)) is type(want)


def test_sampled_request_carries_its_first_sample_seed():
    r = req("p", first_sample=3, n=4, temperature=0.8, top_p=0.9, stop=("\n",), max_tokens=5)
    assert sampling_kwargs(r) == {"n": 4, "max_tokens": 5, "temperature": 0.8, "top_p": 0.9,
                                  "stop": ["\n"], "seed": r.sample_seed(0)}
    # vLLM seeds child i with seed + i: that must be evalkit's seed of sample i.
    assert [sampling_kwargs(r)["seed"] + i for i in range(4)] == [r.sample_seed(i) for i in range(4)]


def test_greedy_request_runs_once_without_seed():
    assert sampling_kwargs(req("p", n=5, temperature=0.0)) == {
        "n": 1, "max_tokens": 256, "temperature": 0.0, "top_p": 1.0, "stop": None}


def test_round_robin_deals_sorted_items_evenly():
    assert round_robin(range(7), 3) == [[0, 3, 6], [1, 4], [2, 5]]


def test_importing_the_backend_does_not_import_vllm():
    code = "import sys, evalkit.models.vllm; assert 'vllm' not in sys.modules, 'vllm imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_data_parallel_without_ray_is_a_config_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    backend = VLLMBackend("smollm2-135m", data_parallel_size="2")
    with pytest.raises(ConfigError, match="pip install ray"):
        backend.generate([req("hi", max_tokens=1)])


def test_chat_template_is_applied_and_identified_without_an_engine(model_dir):
    built = VLLMBackend.engines_built
    plain = VLLMBackend("smollm2-135m")
    chat = VLLMBackend("smollm2-135m", apply_chat_template="true", system_prompt="Answer briefly.")
    text = chat.tokenizer.decode(chat.encode_prompt("What is 2+2?"))
    assert text == ("<|im_start|>system\nAnswer briefly.<|im_end|>\n"
                    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n")
    ident = chat.identity()
    template = (Path(model_dir) / "chat_template.jinja").read_text()
    assert ident["chat_template_sha256"] == hashlib.sha256(template.encode()).hexdigest()
    assert ident["system_prompt"] == "Answer briefly." and ident["apply_chat_template"] is True
    assert "chat_template_sha256" not in plain.identity()  # raw prompts don't depend on it
    assert VLLMBackend.engines_built == built  # tokenizing and identity() build no engine


# -- the real engine ---------------------------------------------------------
def test_n_samples_are_one_request_and_match_resumed_single_samples(smollm, monkeypatch):
    calls = []
    original = vllm.LLM.generate

    def spy(self, prompts, params=None, **kw):
        calls.append((list(prompts), params))
        return original(self, prompts, params, **kw)

    monkeypatch.setattr(vllm.LLM, "generate", spy)
    four = req("Once upon a time", n=4, temperature=0.8, max_tokens=16)
    [gen] = smollm.generate([four])
    assert len(calls) == 1 and len(calls[0][0]) == 1
    [params] = calls[0][1]
    assert (params.n, params.seed, params.temperature) == (4, four.sample_seed(0), 0.8)
    assert len(gen.texts) == 4 and len(set(gen.texts)) > 1  # sampled, not one text repeated

    # Sample i of the n=4 request is what a resume asking only for sample i gets.
    singles = [req("Once upon a time", first_sample=i, n=1, temperature=0.8, max_tokens=16)
               for i in range(4)]
    assert [g.texts[0] for g in smollm.generate(singles)] == gen.texts


def test_seeded_batch_larger_than_one_engine_step(smollm, date_prompts):
    """~6,000 prompt tokens of seeded requests: more than one scheduler step
    holds, which crashed vLLM's CPU engine under chunked prefill. Each sample
    still equals the same request sent alone."""
    long = ["\n\n".join(date_prompts[k:] + date_prompts[:k]) * 2 for k in range(4)] * 6
    batch = [req(p, doc_id=i, temperature=0.8, max_tokens=4, seed=i) for i, p in enumerate(long)]
    assert sum(len(smollm.encode_prompt(p)) for p in long) > 4096  # vLLM's default step budget
    gens = smollm.generate(batch)
    assert [g.texts for g in gens[::7]] == [smollm.generate([r])[0].texts for r in batch[::7]]


def test_greedy_stop_sequences_are_honoured(smollm):
    prompt = "Count: 1, 2, 3,"
    [full] = smollm.generate([req(prompt, max_tokens=24)])
    stop = full.texts[0][4:7]  # a stop string the greedy text is known to contain
    [cut] = smollm.generate([req(prompt, max_tokens=24, stop=(stop,))])
    assert cut.texts == [truncate_at_stop(full.texts[0], [stop])]
    assert cut.finish_reasons == ["stop"] and full.finish_reasons == ["length"]
    assert cut.usage["completion_tokens"] < full.usage["completion_tokens"] == 24


def test_results_come_back_in_input_order_with_callbacks(smollm):
    prompts = ["Hi", "The longest prompt of the three, by some margin, is this one.", "Paris is"]
    batch = [req(p, doc_id=i, max_tokens=6, n=2) for i, p in enumerate(prompts)]
    seen, done = {}, []
    gens = smollm.generate(batch, progress=done.append, on_result=seen.__setitem__)
    alone = [smollm.generate([r])[0] for r in batch]
    assert [g.texts for g in gens] == [g.texts for g in alone]
    assert all(len(g.texts) == 2 and g.texts[0] == g.texts[1] for g in gens)  # greedy n=2
    assert seen == dict(enumerate(gens)) and sum(done) == 3


def test_greedy_matches_transformers_float32(smollm, hf_model, date_prompts):
    """Same folder, same dtype, one prompt at a time in transformers: the
    64-token greedy decodes are identical text for all four prompts."""
    model, tok = hf_model
    ours = smollm.generate([req(p, doc_id=i, max_tokens=64) for i, p in enumerate(date_prompts)])
    theirs = []
    for p in date_prompts:
        ids = tok(p, return_tensors="pt")
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=64, do_sample=False)
        theirs.append(tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True))
    assert [g.texts[0] for g in ours] == theirs


def test_loglikelihood_matches_transformers(smollm, hf_model):
    model, tok = hf_model
    pairs = [("The capital of France is", " Paris"), ("The capital of France is", " Berlin, of course"),
             ("", "Hello world"), ("1, 2, 3,", " 4")]
    got = smollm.loglikelihood([LoglikelihoodRequest("t", i, c, x) for i, (c, x) in enumerate(pairs)])
    for (ctx, cont), ll in zip(pairs, got):
        ctx_ids = tok(ctx)["input_ids"] or [tok.bos_token_id]
        cont_ids = tok(cont, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = model(torch.tensor([ctx_ids + cont_ids])).logits[0].float()
        logp = torch.log_softmax(logits[len(ctx_ids) - 1:-1], dim=-1)
        target = torch.tensor(cont_ids)
        assert ll.logprob == pytest.approx(logp.gather(1, target[:, None]).sum().item(), abs=1e-3)
        assert ll.is_greedy == bool((logp.argmax(-1) == target).all())
        assert ll.n_tokens == len(cont_ids)
    assert [ll.is_greedy for ll in got[:2]] == [True, False]  # " Paris" is the greedy answer


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_engine_built_once_for_all_calls_and_freed_by_close(engine_args):
    built = VLLMBackend.engines_built
    before = set(psutil.Process().children(recursive=True))
    backend = VLLMBackend("smollm2-135m", apply_chat_template=True, **engine_args)
    backend.generate([req("Name a colour.", max_tokens=8)])
    [gen] = backend.generate([req("Name a fruit.", max_tokens=8)])
    backend.loglikelihood([LoglikelihoodRequest("t", 0, "Name a fruit.", " Apple")])
    assert VLLMBackend.engines_built == built + 1
    # The templated prompt went in: its token count is the templated one.
    assert gen.usage["prompt_tokens"] == len(backend.encode_prompt("Name a fruit.")) > 10

    workers = set(psutil.Process().children(recursive=True)) - before
    assert workers, "the engine runs in worker processes"
    backend.close()
    deadline = time.time() + 30
    while any(map(_alive, workers)) and time.time() < deadline:
        time.sleep(0.5)
    assert not [p for p in workers if _alive(p)]
