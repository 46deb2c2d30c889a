"""Model backends, registered lazily so heavy imports happen only when used.

A model string is ``backend:target`` (``hf:HuggingFaceTB/SmolLM2-135M``,
``replay:out/samples/bbh.jsonl``) or an alias from ``evalkit.models.aliases.ALIASES``.
"""
from __future__ import annotations

from typing import Any

from evalkit.core.errors import ConfigError
from evalkit.core.registry import backends
from evalkit.models.aliases import ALIASES

backends.register_lazy("hf", "evalkit.models.hf:HFBackend")
backends.register_lazy("replay", "evalkit.models.replay:ReplayBackend")
backends.register_lazy("dummy", "evalkit.models.dummy:DummyBackend")
backends.register_lazy("vllm", "evalkit.models.vllm:VLLMBackend")
backends.register_lazy("openai", "evalkit.models.openai:OpenAIBackend")
backends.register_lazy("st", "evalkit.models.embedding:STBackend")
backends.register_lazy("bm25", "evalkit.models.embedding:BM25Backend")


def parse_model(model: str) -> tuple[str, str]:
    """(backend name, target) for a model string."""
    model = ALIASES.get(model, model)
    name, sep, target = model.partition(":")
    if not sep:
        if name in backends:  # targetless backends: dummy, bm25
            return name, ""
        raise ConfigError(
            f"unknown model '{model}': use BACKEND:TARGET (backends: {', '.join(backends.names())}) "
            f"or an alias ({', '.join(sorted(ALIASES))})"
        )
    backends.get(name)  # raises with suggestions for an unknown backend
    return name, target


def parse_model_args(text: str | None) -> dict[str, Any]:
    """``k=v,k2=v2`` -> dict, with ints, floats and booleans coerced."""
    out: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise ConfigError(f"--model-args: '{part}' is not key=value")
        out[key.strip()] = _coerce(value.strip())
    return out


def _coerce(v: str) -> Any:
    if v.lower() in ("true", "false"):
        return v.lower() == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


def load_backend(model: str, **kwargs: Any):
    name, target = parse_model(model)
    cls = backends.get(name)
    return cls(target, **kwargs)
