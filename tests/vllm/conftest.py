"""The vLLM lane: runs only in .venv-vllm, through `make test-vllm`.

vllm is imported at the top on purpose: where it cannot be imported this lane
fails loudly instead of skipping. The main lane leaves this folder out with
``--ignore=tests/vllm``.

Engine start-up costs ~40 s on CPU, so one engine (``smollm``) serves the whole
session; only the lifecycle test builds a second one, because closing an
engine is what it tests.
"""
from __future__ import annotations

import json
import os

# Read by the engine's worker process: 1 GiB of KV cache instead of vLLM's
# default of most of the machine's memory, which is shared here.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
import vllm  # noqa: E402,F401  (fail here, not skip, when vllm is broken)

from evalkit.models.aliases import prepared_model_dir  # noqa: E402
from evalkit.models.vllm import VLLMBackend  # noqa: E402

# float32 so greedy decodes can be compared token for token with transformers
# in float32; vLLM's "auto" would downcast this float32 checkpoint to bfloat16 on CPU.
ENGINE_ARGS = {"dtype": "float32", "max_model_len": 2048}


@pytest.fixture(scope="session")
def engine_args() -> dict:
    return dict(ENGINE_ARGS)


@pytest.fixture(scope="session")
def model_dir() -> str:
    return str(prepared_model_dir("smollm2-135m"))


@pytest.fixture(scope="session")
def smollm():
    """The session's one engine, built on first use."""
    backend = VLLMBackend("smollm2-135m", **ENGINE_ARGS)
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def date_prompts(data_dir) -> list[str]:
    """Four BBH date_understanding questions as plain zero-shot prompts."""
    examples = json.loads((data_dir / "bbh" / "date_understanding.json").read_text())["examples"]
    return [f"Q: {ex['input']}\nA: Let's think step by step." for ex in examples[:4]]


@pytest.fixture(scope="session")
def hf_model(model_dir):
    """The same converted folder in transformers, float32, as the reference."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # One thread: the engine's worker holds a core, and two threads here
    # would fight it (3x slower on this 2-core machine).
    torch.set_num_threads(1)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    return model, AutoTokenizer.from_pretrained(model_dir)
