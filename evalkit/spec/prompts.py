"""Prompt construction: jinja2 templates from ``prompts/`` plus few-shot exemplars.

A template sees ``doc`` (the record), ``fewshot`` (a FewShot or None) and
``task`` (the TaskSpec). Undefined variables are errors, not empty strings, so a
typo in a template fails the run at the first prompt instead of silently
producing a broken prompt for every doc.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Protocol

import jinja2

from evalkit.core.errors import ConfigError, DataError
from evalkit.core.registry import fewshot_sources
from evalkit.core.types import Doc
from evalkit.spec.loaders import local_file
from evalkit.spec.taskspec import FewShotSpec, TaskSpec, prompts_dir


@dataclass(frozen=True)
class FewShot:
    """Exemplars for a task; ``examples`` items are dicts the template indexes."""

    description: str = ""
    examples: tuple[dict[str, Any], ...] = ()
    source_text: str = field(default="", repr=False)  # hashed into provenance


class Prompts(Protocol):
    """What a task's prompts offer: a PromptBuilder, or a wrapper of one
    (FormattedPrompts for --formats, SelectedPrompts for --fewshot)."""

    spec: TaskSpec
    hash: str
    fewshot: FewShot | None

    def render(self, doc: Doc, **extra: Any) -> str: ...


def _env() -> jinja2.Environment:
    from evalkit.spec import include

    return _env_for(include.active())


@lru_cache(maxsize=8)
def _env_for(folders: tuple[Path, ...]) -> jinja2.Environment:
    from evalkit.spec import include

    include.check_prompt_collisions(prompts_dir(), folders)
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(prompts_dir()), *map(str, include.prompt_dirs(folders))]),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,  # prompts end where the model continues
        autoescape=False,
    )


def template(name: str) -> jinja2.Template:
    try:
        return _env().get_template(name)
    except jinja2.TemplateNotFound:
        searched = ", ".join(_env().loader.searchpath)  # type: ignore[union-attr]
        raise ConfigError(f"prompt template '{name}' not found in {searched}") from None
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError(f"prompts/{name}:{exc.lineno}: template syntax error: {exc.message}") from None


def template_source(name: str) -> str:
    env = _env()
    return env.loader.get_source(env, name)[0]  # type: ignore[union-attr]


class PromptBuilder:
    """Renders one task's prompts; loads its template and exemplars once."""

    def __init__(self, spec: TaskSpec, root: Path | None):
        if not spec.prompt:
            raise ConfigError(f"{spec.source_file}: task '{spec.name}' needs a 'prompt' template")
        self.spec = spec
        self.template = template(spec.prompt)
        self.fewshot = load_fewshot(spec.fewshot, root) if spec.fewshot else None
        blob = template_source(spec.prompt) + "\0" + (self.fewshot.source_text if self.fewshot else "")
        self.hash = hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def render(self, doc: Doc, **extra: Any) -> str:
        try:
            return self.template.render(doc=doc.fields, fewshot=self.fewshot, task=self.spec, **extra)
        except jinja2.UndefinedError as exc:
            raise ConfigError(f"prompts/{self.spec.prompt}: {exc.message} (task {self.spec.name}, doc {doc.id})") from None


def load_fewshot(spec: FewShotSpec, root: Path | None) -> FewShot:
    shots: FewShot = fewshot_sources.get(spec.source)(spec, root)
    if spec.k is not None:
        shots = FewShot(shots.description, shots.examples[: spec.k], shots.source_text)
    return shots


def _mirror_text(spec: FewShotSpec, root: Path | None) -> str:
    if root is None or not spec.path:
        raise DataError(
            f"few-shot file {spec.path} needs a local mirror: set --data-dir or EVALKIT_DATA_DIR"
        )
    return local_file(root, spec.path).read_text(encoding="utf-8")


_ANSWER = re.compile(r"So the answer is (.*?)\.?\s*$", re.S)


@fewshot_sources.register("bbh_cot_prompt")
def bbh_cot_prompt(spec: FewShotSpec, root: Path | None) -> FewShot:
    """The BBH paper's 3-shot CoT files: a canary line, ``-----``, a task
    description, then ``Q: ... A: Let's think step by step. ... So the answer is X.``
    exemplars. Each exemplar keeps its exact upstream text (for the CoT setting)
    and its question and final answer (for the answer-only setting)."""
    text = _mirror_text(spec, root)
    body = text.split("-----\n", 1)[1] if "-----\n" in text else text
    chunks = [c.strip("\n") for c in re.split(r"\n\n(?=Q: )", body.strip("\n"))]
    description, exemplars = chunks[0], chunks[1:]
    if description.startswith("Q: "):
        description, exemplars = "", chunks
    examples = []
    for ex in exemplars:
        q, sep, a = ex.partition("\nA: ")
        m = _ANSWER.search(a)
        if not sep or not m:
            raise DataError(f"{spec.path}: exemplar without 'A: ... So the answer is X.': {ex[:80]!r}")
        examples.append({"text": ex, "question": q[len("Q: "):], "reasoning": a, "answer": m.group(1).strip()})
    return FewShot(description, tuple(examples), text)
