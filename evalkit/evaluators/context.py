"""What every evaluator gets: the tasks to run and the run's shared context."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit import progress
from evalkit.cache import CachedGenerator
from evalkit.prompts import PromptBuilder
from evalkit.taskspec import TaskSpec
from evalkit.types import Doc, Generation, Request


@dataclass
class TaskRun:
    """One task as it is being evaluated: its spec, its docs and its prompt builder."""

    spec: TaskSpec
    docs: list[Doc]
    prompts: PromptBuilder | None = None


@dataclass
class EvalContext:
    """What evaluators share for one run."""

    backend: Any
    generator: CachedGenerator | None
    seed: int = 1234
    samples: int | None = None  # --samples: overrides the spec's n
    aggregator: str = "first"
    data_root: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)

    def generate(self, requests: list[Request], label: str = "generating") -> list[Generation]:
        assert self.generator is not None
        with progress.bar(label, total=None) as (advance, set_total):
            return self.generator.generate(requests, progress=advance, on_total=set_total)
