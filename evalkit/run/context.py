"""What every evaluator gets: the tasks to run and the run's shared context."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evalkit.core import progress
from evalkit.core.types import Doc, Generation, GenParams, Request
from evalkit.models.base import Backend, Retriever
from evalkit.run.cache import CachedGenerator
from evalkit.spec.prompts import Prompts
from evalkit.spec.taskspec import TaskSpec

# Self-consistency papers sample at 0.5-0.8 (Wang et al. 2023 use 0.7 for most models).
SELF_CONSISTENCY_TEMPERATURE = 0.7


@dataclass
class TaskRun:
    """One task as it is being evaluated: its spec, its docs and its prompt builder."""

    spec: TaskSpec
    docs: list[Doc]
    prompts: Prompts | None = None  # a PromptBuilder, or a --formats / --fewshot wrapper of one


@dataclass
class EvalContext:
    """What evaluators share for one run."""

    backend: Backend | Retriever  # retrieval tasks get a Retriever, every other task a Backend
    generator: CachedGenerator | None
    seed: int = 1234
    samples: int | None = None  # --samples: overrides the spec's n
    aggregator: str | None = None  # None: "majority" when n > 1, else "first"
    data_root: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)
    temperature: float | None = None  # --temperature: overrides every task's

    def params(self, spec: TaskSpec) -> GenParams:
        """Decoding settings for a task under this run's overrides. Several
        samples of a greedy task would all be identical, so ``--samples K > 1``
        samples at SELF_CONSISTENCY_TEMPERATURE unless --temperature says otherwise."""
        p = spec.gen_params(self.seed, self.samples)
        if self.temperature is not None:
            return replace(p, temperature=self.temperature)
        if p.n > 1 and p.temperature == 0:
            return replace(p, temperature=SELF_CONSISTENCY_TEMPERATURE)
        return p

    def option(self, spec: TaskSpec, key: str, default: Any = None, task_key: str | None = None) -> Any:
        """A run option (``--max-rounds``...) when given, else the task's ``options`` entry
        (under ``task_key`` if it is spelt differently there), else ``default``."""
        v = self.options.get(key)
        return v if v is not None else spec.options.get(task_key or key, default)

    def aggregator_for(self, params: GenParams) -> str:
        return self.aggregator or ("majority" if params.n > 1 else "first")

    def generate(self, requests: list[Request], label: str = "generating") -> list[Generation]:
        assert self.generator is not None
        with progress.bar(label, total=None) as (advance, set_total):
            return self.generator.generate(requests, progress=advance, on_total=set_total)
