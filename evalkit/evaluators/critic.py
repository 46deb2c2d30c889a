"""The ``critic`` evaluator: CRITIC over a generate task (``output_type: critic``
in a task file, or ``evalkit run --critic`` on any generate task).

``options.critic_mode: program`` is the paper's protocol (a program of thought
checked by the interpreter, separate critique and revision calls, 4 rounds;
``evalkit.loops.critic_program``); ``code`` carries that loop to HumanEval with
the docstring's example calls as the tool (``evalkit.loops.critic_code``); the default ``cot`` is evalkit's lighter
loop over chain-of-thought answers (``evalkit.loops.critic``)."""
from __future__ import annotations

from evalkit.core.errors import ConfigError
from evalkit.core.registry import evaluators, loops
from evalkit.core.types import SampleRecord
from evalkit.run.context import EvalContext, TaskRun

MODES = ("cot", "program", "code")


@evaluators.register("critic")
def evaluate_critic(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    by_mode: dict[str, list[TaskRun]] = {}
    for t in tasks:
        mode = t.spec.options.get("critic_mode", "cot")
        if mode not in MODES:
            raise ConfigError(f"{t.spec.source_file}: task '{t.spec.name}': options.critic_mode must be one of "
                              f"{', '.join(MODES)}, not {mode!r}")
        by_mode.setdefault(mode, []).append(t)
    out: dict[str, list[SampleRecord]] = {}
    for mode, group in by_mode.items():
        out.update(loops.get(f"critic:{mode}")(group, ctx))
    return out
