"""Per-run overrides of what the task specs say, and the lm-eval spellings users type.

An override rewrites the TaskSpec itself (``--num-fewshot`` sets ``fewshot.k``,
``--gen-kwargs`` sets ``generation``), so it lands in the spec hash recorded in
results.json and, through the decoding parameters, in every cache key: a run
with other overrides can never be served another run's generations.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from evalkit.core.errors import ConfigError
from evalkit.spec.taskspec import TaskSpec

# lm-eval's gen_kwargs names -> evalkit's GenerationSpec fields
_GEN_ALIASES = {"max_gen_toks": "max_tokens", "max_new_tokens": "max_tokens", "until": "stop"}
_GEN_FIELDS = ("max_tokens", "temperature", "top_p", "stop", "n")


@dataclass(frozen=True)
class Overrides:
    """What this run changes in every task it evaluates (None: the task's own value)."""

    num_fewshot: int | None = None  # exemplars per prompt (0: zero-shot)
    gen_kwargs: dict[str, Any] = field(default_factory=dict)  # GenerationSpec fields

    def record(self) -> dict[str, Any]:
        """The form stored in results.json's config."""
        out: dict[str, Any] = {}
        if self.num_fewshot is not None:
            out["num_fewshot"] = self.num_fewshot
        if self.gen_kwargs:
            out["gen_kwargs"] = {k: list(v) if isinstance(v, tuple) else v for k, v in self.gen_kwargs.items()}
        return out

    def lm_eval(self) -> dict[str, Any]:
        """The same overrides in lm-eval's names (``simple_evaluate``'s num_fewshot and gen_kwargs)."""
        out: dict[str, Any] = {}
        if self.num_fewshot is not None:
            out["num_fewshot"] = self.num_fewshot
        g = self.gen_kwargs
        kw: dict[str, Any] = {}
        if "max_tokens" in g:
            kw["max_gen_toks"] = g["max_tokens"]
        if "stop" in g:
            kw["until"] = list(g["stop"])
        if "temperature" in g:
            kw["temperature"], kw["do_sample"] = g["temperature"], g["temperature"] > 0
        if "top_p" in g:
            kw["top_p"] = g["top_p"]
        if kw:
            out["gen_kwargs"] = kw
        return out

    def apply(self, spec: TaskSpec) -> TaskSpec:
        """``spec`` with this run's overrides in place."""
        update: dict[str, Any] = {}
        if self.num_fewshot is not None:
            if spec.fewshot is None:
                if self.num_fewshot > 0:
                    raise ConfigError(f"--num-fewshot {self.num_fewshot}: task '{spec.name}' has no few-shot "
                                      f"exemplars ({spec.source_file}); drop --num-fewshot or pick a few-shot task")
            else:
                update["fewshot"] = spec.fewshot.model_copy(update={"k": self.num_fewshot})
        if self.gen_kwargs:
            update["generation"] = spec.generation.model_copy(update=self.gen_kwargs)
        return spec.model_copy(update=update) if update else spec


def parse_gen_kwargs(text: str | None) -> dict[str, Any]:
    """``max_tokens=64,top_p=0.9,stop=Q:|\\n\\n`` -> GenerationSpec fields.

    Several stop strings are separated by ``|`` (a comma already separates the
    pairs); ``\\n`` is a newline. lm-eval's names (max_gen_toks, until) are accepted.
    """
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        key = _GEN_ALIASES.get(key.strip(), key.strip())
        if not sep or key not in _GEN_FIELDS:
            raise ConfigError(f"--gen-kwargs: '{part}' is not one of {', '.join(f + '=...' for f in _GEN_FIELDS)}")
        out[key] = _gen_value(key, value.strip())
    return out


def _gen_value(key: str, value: str) -> Any:
    if key == "stop":
        return tuple(s.replace("\\n", "\n") for s in value.split("|") if s)
    try:
        num = int(value) if key in ("max_tokens", "n") else float(value)
    except ValueError:
        raise ConfigError(f"--gen-kwargs: {key} must be a number, got '{value}'") from None
    if (key in ("max_tokens", "n") and num < 1) or (key == "top_p" and not 0 < num <= 1) or num < 0:
        raise ConfigError(f"--gen-kwargs: {key}={value} is out of range")
    return num


def parse_limit(text: str | int | float | None) -> int | float | None:
    """``--limit``: a count of docs (``50``) or a fraction of each task (``0.1``), as lm-eval takes it."""
    if text is None or isinstance(text, (int, float)) and not isinstance(text, bool):
        value = text
    else:
        try:
            value = float(text) if "." in str(text) or "e" in str(text).lower() else int(text)
        except ValueError:
            raise ConfigError(f"--limit must be a count (50) or a fraction (0.1), got '{text}'") from None
    if value is None:
        return None
    if isinstance(value, float):
        if not 0 < value <= 1:
            raise ConfigError(f"--limit {value}: a fraction must be in (0, 1]; give a count for more docs")
        return value
    if value < 1:
        raise ConfigError(f"--limit must be at least 1, got {value}")
    return value


def docs_for_limit(n_docs: int, limit: int | float | None) -> int:
    """How many docs a limit keeps; a fraction rounds up (lm-eval's rule), so 0.1 of 5 is 1."""
    if limit is None:
        return n_docs
    if isinstance(limit, float):
        return min(n_docs, math.ceil(n_docs * limit))
    return min(n_docs, limit)


def parse_batch_size(text: str | int) -> int | str:
    """``--batch-size``: a count, or ``auto`` (hf: start large, halve on out-of-memory)."""
    if str(text).strip().lower() == "auto":
        return "auto"
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"--batch-size must be a count or 'auto', got '{text}'") from None
    if value < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {value}")
    return value


def check_model_spelling(model: str, model_args: dict[str, Any]) -> None:
    """lm-eval names the backend with --model and the weights with
    --model-args pretrained=X; evalkit puts both in --model."""
    target = model_args.get("pretrained") or model_args.get("model")
    if ":" not in model and target:
        raise ConfigError(f"--model {model} --model-args pretrained={target}: write `--model {model}:{target}` "
                          "(evalkit takes the backend and the model together)")


def run_model_args(model_args: dict[str, Any], base_url: str | None, device: str | None,
                   chat_template: str | None) -> dict[str, Any]:
    """--model-args plus the flags that are backend options (--base-url, --device, --chat-template)."""
    extra = {"base_url": base_url, "device": device, "chat_template": chat_template}
    for key, value in extra.items():
        if value is not None and key in model_args and model_args[key] != value:
            raise ConfigError(f"--{key.replace('_', '-')} {value} contradicts --model-args {key}={model_args[key]}; give one")
    return model_args | {k: v for k, v in extra.items() if v is not None}
