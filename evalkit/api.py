"""The Python API: ``from evalkit import evaluate``.

    result = evaluate("hf:smollm2-135m", ["bbh_date_understanding"], limit=10)
    result = evaluate((model, tokenizer), "gsm8k", label="step-1200")  # inside a training loop

It runs exactly what ``evalkit run`` runs (same cache, same store, same
results.json) and returns the same record, typed.
"""
from __future__ import annotations

import copy
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.core.errors import ConfigError
from evalkit.core.types import SampleRecord


@dataclass(frozen=True)
class EvalResult:
    """One run, as results.json records it (``to_json()`` is that file)."""

    run_id: str
    results: dict[str, dict[str, Any]]  # task or group -> metric -> value (0-1), <metric>_stderr, n
    groups: dict[str, list[str]]  # group -> member tasks
    breakdown: dict[str, Any]  # task -> "field=value" -> main metric (MATH subject, level)
    config: dict[str, Any]  # model, backend identity, overrides, spec and data hashes, environment, timings
    layout: dict[str, Any] = field(default_factory=dict)  # groups, pooling and main metrics, as the run was made
    samples: dict[str, list[SampleRecord]] = field(default_factory=dict, repr=False)  # task -> per-doc records
    sinks: tuple[str, ...] = ()  # one line per --log-to sink: where it went, or its warning

    def score(self, task: str, metric: str | None = None) -> float:
        """The main metric of ``task`` (or ``metric``)."""
        row = self.results[task]
        if metric is None:  # the main metric is the first one a task reports
            metric = next(k for k in row if isinstance(row[k], float) and not k.endswith("_stderr"))
        return float(row[metric])

    def to_json(self) -> dict[str, Any]:
        """The results.json payload, key for key."""
        return {"run_id": self.run_id, "results": self.results, "breakdown": self.breakdown, "groups": self.groups,
                "layout": self.layout, "config": self.config}

    @classmethod
    def from_payload(cls, payload: dict[str, Any], samples: dict[str, list[SampleRecord]] | None = None,
                     sinks: tuple[str, ...] = ()) -> "EvalResult":
        return cls(payload["run_id"], payload["results"], payload.get("groups") or {}, payload.get("breakdown") or {},
                   payload["config"], payload.get("layout") or {}, samples or {}, sinks)


def evaluate(model: Any, tasks: str | list[str], *, limit: int | float | None = None, samples: int | None = None,
             store: str | Path | None = None, output: str | Path | None = None, label: str | None = None,
             tokenizer: Any = None, data_dir: str | None = None, seed: int = 1234, num_fewshot: int | None = None,
             gen_kwargs: dict[str, Any] | str | None = None, include_path: list[str] | str | None = None,
             log_to: list[str] | str | None = None, overwrite: bool = False, **overrides: Any) -> EvalResult:
    """Evaluate ``model`` on ``tasks`` and return the run's typed record.

    ``model``: a model string (``"hf:org/name"``, ``"vllm:PATH"``, ``"smollm2-135m"``); a
    transformers ``(model, tokenizer)`` pair (or ``tokenizer=``) with a ``label`` naming it;
    or any object with the backend protocol (``generate(requests)``, optionally
    ``identity()`` and ``loglikelihood``). ``limit``: a count, or a fraction (0.1) of each task.
    ``store``: the SQLite store (default: EVALKIT_STORE, else evalkit.db), which is also the cache.
    ``overrides``: any other ``RunConfig`` field (batch_size, temperature, model_args,
    apply_chat_template, system_prompt, aggregator, options...).
    """
    from evalkit.report import sinks as sink_mod
    from evalkit.run.runner import RunConfig, run
    from evalkit.spec.overrides import Overrides, parse_gen_kwargs

    user_model = model[0] if isinstance(model, tuple) and len(model) == 2 else model
    training = getattr(user_model, "training", None) is True  # a torch module in train mode
    backend, model_name = _backend_for(model, tokenizer, label, overrides)
    gk = parse_gen_kwargs(gen_kwargs) if isinstance(gen_kwargs, str) else dict(gen_kwargs or {})
    log_specs = sink_mod.parse(log_to)
    try:
        cfg = RunConfig(model=model_name, tasks=[tasks] if isinstance(tasks, str) else list(tasks), limit=limit,
                        samples=samples, store=Path(store or os.environ.get("EVALKIT_STORE", "evalkit.db")), output=Path(output) if output else None,
                        data_dir=data_dir, seed=seed, overwrite=overwrite, backend=backend,
                        overrides=Overrides(num_fewshot, gk),
                        include_path=[include_path] if isinstance(include_path, str) else list(include_path or []),
                        **overrides)
    except TypeError as exc:
        raise ConfigError(f"evaluate(): {exc}") from None
    try:
        res = run(cfg)
    finally:
        if training:  # the backend put the caller's model in eval mode; hand it back as it came
            user_model.train()
    lines = tuple(sink_mod.publish(log_specs, res.payload.to_json())) if log_specs else ()
    return EvalResult.from_payload(res.payload.to_json(), res.records, lines)


def _backend_for(model: Any, tokenizer: Any, label: str | None, overrides: dict[str, Any]) -> tuple[Any, str]:
    """(backend or None, the model name recorded) for what the caller passed."""
    if isinstance(model, str):
        return None, model
    if isinstance(model, tuple) and len(model) == 2 and tokenizer is None:
        model, tokenizer = model
    if tokenizer is not None:
        from evalkit.models.hf import HFBackend

        if not label:
            raise ConfigError("evaluate(model, tokenizer=...): pass label='my-run/step-1200' to name the checkpoint "
                              "(its cache identity is that label plus hashes of its config and weights)")
        kw = {k: overrides.pop(k) for k in ("batch_size", "apply_chat_template", "system_prompt") if k in overrides}
        kw.update(overrides.pop("model_args", {}) or {})
        # a copy: the backend pads on the left, and the caller's tokenizer must keep its own side
        return HFBackend.from_loaded(model, copy.copy(tokenizer), label, **kw), f"hf:{label}"
    if callable(getattr(model, "generate", None)) or callable(getattr(model, "loglikelihood", None)):
        return ProtocolBackend(model, label), f"object:{label or type(model).__name__}"
    raise ConfigError(f"evaluate(): cannot evaluate a {type(model).__name__}; pass a model string, a "
                      "(transformers model, tokenizer) pair, or an object with generate(requests)")


class ProtocolBackend:
    """Any object with the backend protocol. Its generations are cached only if it
    says who it is (``identity()``): an anonymous object cannot be told from the
    next one, and a cache hit would then return another model's text."""

    def __init__(self, obj: Any, label: str | None):
        self.obj = obj
        self.label = label
        self.cacheable = bool(getattr(obj, "cacheable", True)) and callable(getattr(obj, "identity", None))

    def identity(self) -> dict[str, Any]:
        if callable(getattr(self.obj, "identity", None)):
            return dict(self.obj.identity()) | ({"label": self.label} if self.label else {})
        return {"backend": "object", "class": f"{type(self.obj).__module__}.{type(self.obj).__qualname__}",
                "label": self.label}

    def generate(self, requests, progress=None, on_result=None):
        import inspect

        params = inspect.signature(self.obj.generate).parameters
        if "on_result" in params or any(p.kind is p.VAR_KEYWORD for p in params.values()):
            return self.obj.generate(requests, progress=progress, on_result=on_result)
        return self.obj.generate(requests)  # a minimal generate(requests)

    def loglikelihood(self, requests):
        if not callable(getattr(self.obj, "loglikelihood", None)):
            from evalkit.core.errors import BackendError

            raise BackendError(f"{type(self.obj).__name__} has no loglikelihood(); use generate tasks")
        return self.obj.loglikelihood(requests)

    def close(self) -> None:  # the caller owns the object
        pass
