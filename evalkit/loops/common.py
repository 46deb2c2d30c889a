"""Pieces the CRITIC and tool-integrated loops share."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from evalkit.core.errors import ConfigError
from evalkit.core.types import Doc, GenParams, Request
from evalkit.sandbox import ExecResult, run_many
from evalkit.spec.prompts import template

if TYPE_CHECKING:
    from evalkit.run.context import EvalContext, TaskRun

_BLOCK = re.compile(r"```python[ \t]*\n(.*?)```", re.S)
_OPEN = re.compile(r"```python[ \t]*\n(.*)\Z", re.S)


def last_program(text: str, allow_unclosed: bool = False) -> str | None:
    """The last ```python block of ``text`` (an unclosed one too when allowed:
    a generation cut by the stop sequence "```" loses its closing fence)."""
    blocks = _BLOCK.findall(text)
    if allow_unclosed:
        tail = text[text.rfind("```python"):] if "```python" in text else ""
        m = _OPEN.match(tail) if tail and "```" not in tail[len("```python"):] else None
        if m:
            return m.group(1)
    return blocks[-1] if blocks else None


# ToRA's and PAL's math prompts have the model write sympy (as the papers' tool did), so those
# programs get sympy and its one dependency; other tools run on the standard library alone.
MATH_PACKAGES = ("sympy", "mpmath")


def run_programs(programs: list[str], timeout_s: float = 10.0, memory_mb: int = 1024,
                 packages: tuple[str, ...] = ()) -> list[ExecResult]:
    """All programs of a round in the sandbox at once (a bounded pool)."""
    return run_many(programs, timeout_s=timeout_s, memory_mb=memory_mb, max_output_bytes=65536, packages=packages)


def tool_text(res: ExecResult, max_chars: int = 512) -> str:
    """What the model sees of a run: stdout, else the error line; truncated."""
    out = res.stdout.strip()
    if not res.passed:
        err = res.error_text or res.reason or res.status  # the traceback's line, as the program printed it
        out = (out + "\n" if out else "") + err
    if len(out) > max_chars:
        out = out[:max_chars // 2] + "\n...\n" + out[-max_chars // 2:]
    return out


def render(name: str, doc: Doc, **extra: Any) -> str:
    import jinja2

    from evalkit.core.errors import ConfigError

    try:
        return template(name).render(doc=doc.fields, **extra)
    except jinja2.UndefinedError as exc:
        raise ConfigError(f"prompts/{name}: {exc.message} (doc {doc.id}); is this a task the template was written for?") from None


def first_prompt(task: TaskRun, doc: Doc) -> str:
    """The doc's round-0 prompt from the task's builder (every loop task has one)."""
    assert task.prompts is not None
    return task.prompts.render(doc)


def single(task: str, doc_id: int, prompt: str, params: GenParams, sample: int) -> Request:
    """One sample of a chain: n=1 at the chain's own sample index, so its seed
    (and cache key) is that of sample ``sample``."""
    return Request(task, doc_id, prompt, replace(params, n=1), sample)


def critic_budgets(tasks: list[TaskRun], ctx: EvalContext, p0: dict[str, GenParams]
                   ) -> tuple[dict[str, GenParams], dict[str, GenParams], dict[str, int]]:
    """Per task: the critique call's and the revision call's decoding settings and the round cap.
    Defaults are the CRITIC reference's (ProphetNet CRITIC/src/program/critic.py): critique 500
    tokens and revision 400, both at temperature 0.5, 4 rounds."""
    crit, rev, rounds = {}, {}, {}
    for t in tasks:
        name, p = t.spec.name, p0[t.spec.name]
        temp = float(ctx.option(t.spec, "critic_temperature", 0.5))
        crit[name] = replace(p, temperature=temp, max_tokens=int(ctx.option(t.spec, "critique_max_tokens", 500)),
                             stop=tuple(ctx.option(t.spec, "critique_stop", ["Here's", "---"])))
        rev[name] = replace(p, temperature=temp, max_tokens=int(ctx.option(t.spec, "revision_max_tokens", 400)),
                            stop=tuple(ctx.option(t.spec, "revision_stop", ["```", "---"])))
        rounds[name] = int(ctx.option(t.spec, "max_rounds", t.spec.options.get("critic_max_rounds", 4)))
        if rounds[name] < 0:
            raise ConfigError(f"task '{name}': max_rounds must be >= 0, got {rounds[name]}")
    return crit, rev, rounds
