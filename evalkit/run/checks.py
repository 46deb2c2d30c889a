"""Checks that need the resolved tasks: flags that do not apply to a task are
refused before any compute, instead of being ignored or zeroing every sample."""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from evalkit.core.errors import ConfigError, DataError
from evalkit.run.context import TaskRun
from evalkit.spec.loaders import load_docs

# Which --aggregate names each output type honours; None: any registered aggregator but mpsc.
AGGREGATORS_FOR: dict[str, tuple[str, ...] | None] = {
    "generate": None, "critic": None, "tool": None,
    "code_exec": ("first", "mpsc"),
    "multiple_choice": (), "retrieval": (), "lm_eval": (),
}
CRITIC_TYPES = ("generate", "critic")
GENERATING = ("generate", "critic", "tool", "code_exec")  # doc_id is the record index: replay lines pair with it


def check_finite(flag: str, value: float | None) -> None:
    if value is not None and not math.isfinite(value):
        raise ConfigError(f"{flag} must be a finite number, got {value}")


def has_critic(task: TaskRun) -> bool:
    """CRITIC needs a verifier and a critique prompt for the task: tasks that set
    ``options.critic_*`` or ``output_type: critic``, and the MATH-graded ones the
    default prompt (critic_math.j2) is written for."""
    spec = task.spec
    if spec.output_type not in CRITIC_TYPES:
        return False
    return (spec.output_type == "critic" or any(k.startswith("critic_") for k in spec.options)
            or spec.scorer == "math_equiv")


def check_task_flags(aggregator: str | None, options: dict[str, Any], tasks: list[TaskRun]) -> None:
    """--aggregate and --critic only where the task can honour them."""
    for t in tasks:
        kind = t.spec.output_type
        if aggregator is not None and kind in AGGREGATORS_FOR:
            allowed = AGGREGATORS_FOR[kind]
            if (allowed is None and aggregator == "mpsc") or (allowed is not None and aggregator not in allowed):
                what = ", ".join(allowed) if allowed else "none"
                if allowed is None:
                    what = "first, majority (mpsc needs a code task such as humaneval)"
                raise ConfigError(f"--aggregate {aggregator} does not apply to task {t.spec.name} "
                                  f"(output_type {kind}); aggregators for it: {what}")
        if options.get("critic") and not has_critic(t):
            raise ConfigError(f"--critic: task {t.spec.name} has no critic (CRITIC runs on math-graded generate tasks "
                              "such as math500, or tasks that set options.critic_prompt); drop --critic or the task")


def check_replay_docs(backend: Any, tasks: list[TaskRun], root: Path | None) -> None:
    """A replay line for a doc the task does not have is a mistake in the file, not something to skip."""
    unknown = getattr(backend, "unknown_docs", None)
    if unknown is None:
        return
    for t in tasks:
        if not t.docs or t.spec.output_type not in GENERATING:
            continue
        ids = {d.id for d in load_docs(t.spec.dataset, root)}  # all of them: --limit only shortens the run
        bad = unknown(t.spec.name, ids)
        if bad:
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
            raise DataError(f"replay file has outputs for task {t.spec.name} doc {', '.join(map(str, bad[:3]))}{more}, "
                            f"which the task does not have (it has {len(ids)} docs, ids up to {max(ids)}); fix the doc_id or the task")
