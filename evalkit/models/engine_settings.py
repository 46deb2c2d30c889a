"""What an inference engine did to the prompt and the weights, recorded per run.

Two runs of one checkpoint can score differently because one engine added a
BOS token, applied a chat template, or ran in bfloat16 where the other ran in
float32. ``results.json`` keeps these under ``config.engine`` and
``evalkit compare`` warns when the two runs differ in any of them, so a CI
gate's "regression" is not an engine switch in disguise.
"""
from __future__ import annotations

from typing import Any

# The fields compared between runs, in the order warnings name them.
FIELDS = ("engine", "dtype", "tokenizer")


def engine_settings(backend: Any) -> dict[str, Any] | None:
    """The backend's ``engine_settings()`` (model backends only; None otherwise)."""
    fn = getattr(backend, "engine_settings", None)
    return fn() if callable(fn) else None


def tokenizer_settings(tok: Any, add_special_tokens: bool, chat_template: str | None) -> dict[str, Any]:
    """How prompts become token ids: the same for every engine that shares them."""
    import hashlib

    return {
        "add_special_tokens": add_special_tokens,
        "bos_token": getattr(tok, "bos_token", None),
        "eos_token_id": getattr(tok, "eos_token_id", None),
        "chat_template_sha256": hashlib.sha256(chat_template.encode()).hexdigest() if chat_template else None,
        "vocab_size": len(tok) if tok is not None else None,
    }


def encode_prompt(tok: Any, text: str) -> list[int]:
    """Token ids of a prompt, as every evalkit engine feeds them.

    No special tokens are added (lm-evaluation-harness's default for both its
    hf and vllm models): a chat-templated prompt already holds them, and for a
    plain prompt the BOS decision must not depend on the engine's default.
    """
    return tok(text, add_special_tokens=False)["input_ids"]
