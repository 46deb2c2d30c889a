"""hf backend options from lm-eval habits, through the real packaged model:
--batch-size auto, --device, --chat-template, model args revision/device_map/peft."""
from __future__ import annotations

import json

import pytest

from evalkit.core.errors import ConfigError
from evalkit.models.hf_loaded import resolve_chat_template

TASK = "bbh_date_understanding"


class _Tok:
    chat_template = {"default": "D{{ messages }}", "tool_use": "T{{ messages }}"}


def test_named_chat_template(tmp_path):
    assert resolve_chat_template(_Tok(), "tool_use") == "T{{ messages }}"
    f = tmp_path / "mine.jinja"
    f.write_text("M")
    assert resolve_chat_template(_Tok(), str(f)) == "M"
    with pytest.raises(ConfigError, match="has: default, tool_use"):
        resolve_chat_template(_Tok(), "chatml")


@pytest.mark.model
def test_hf_options_end_to_end(cli, tmp_path, data_dir, store_path):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from evalkit.models.aliases import prepared_model_dir

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(prepared_model_dir("smollm2-135m"))
    lora = get_peft_model(base, LoraConfig(r=8, lora_alpha=64, target_modules=["q_proj", "v_proj"],
                                           init_lora_weights=False))  # random B: the adapter changes outputs
    adapter = tmp_path / "adapter"
    lora.save_pretrained(adapter)
    del base, lora

    def run(name, *extra):
        out = tmp_path / name
        res = cli("run", "--model", "smollm2-135m", "--tasks", TASK, "--limit", "1", "--num-fewshot", "0",
                  "--gen-kwargs", "max_tokens=8", "--batch-size", "auto", "--device", "cpu",
                  "--chat-template", "default", "--data-dir", data_dir, "--store", store_path, "--output", out, *extra)
        assert res.code == 0, res.err
        payload = json.loads((out / "results.json").read_text())
        sample = json.loads((out / "samples" / f"{TASK}.jsonl").read_text().splitlines()[0])
        return payload["config"], sample

    cfg, plain = run("plain")
    ident = cfg["backend"]
    assert cfg["batch_size"] == "auto" and cfg["model_args"]["device"] == "cpu"
    assert ident["chat_template_name"] == "default" and ident["chat_template_sha256"]

    cfg2, adapted = run("lora", "--model-args", f"peft={adapter},device_map=cpu,revision=main")
    ident2 = cfg2["backend"]
    assert ident2["peft"] == str(adapter) and len(ident2["peft_sha256"]) == 64 and ident2["revision"] == "main"
    assert cfg2["requests"]["sent"] == 1  # another identity: the base model's cached text is not reused
    assert adapted["outputs"] != plain["outputs"]


def test_weights_fingerprint_sees_every_bit_and_dtype():
    import torch

    from evalkit.models.hf_loaded import weights_sha256

    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(3, 2)
            self.register_buffer("scale", torch.tensor(2.0))  # 0-dim buffers hash too

    torch.manual_seed(0)
    a = Tiny()
    torch.manual_seed(0)
    b = Tiny()
    assert weights_sha256(a) == weights_sha256(b)  # equal weights, different objects: same identity
    with torch.no_grad():
        b.lin.weight[0, 0] += 1e-7
    assert weights_sha256(a) != weights_sha256(b)
    assert weights_sha256(a.to(torch.bfloat16)) != weights_sha256(b)
