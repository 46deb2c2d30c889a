"""Task specs: YAML files in ``tasks/`` validated into frozen pydantic models.

A YAML file holds data only (loaded with ``yaml.safe_load``); code is referred
to by registry name. One file defines one of:

* a task (``task: name``),
* a group expanded from a template over ``subtasks`` (``group`` + ``task`` with
  ``{subtask}`` placeholders), e.g. the 27 BBH subtasks from one file,
* a group of other tasks or groups (``group`` + ``tasks: [...]``).
"""
from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import ErrorDetails

from evalkit.core.errors import ConfigError
from evalkit.core.paths import resource_dir
from evalkit.core.registry import suggest
from evalkit.core.types import GenParams, stable_hash


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class DatasetSpec(_Frozen):
    """Where a task's records come from."""

    path: str | None = None  # file inside the local mirror (--data-dir / EVALKIT_DATA_DIR)
    format: str = "jsonl"  # registered loader: jsonl, json_examples, beir, ...
    hub: str | None = None  # HuggingFace hub id, used when no local mirror is given
    hub_name: str | None = None  # hub config name
    hub_split: str = "test"
    revision: str | None = None  # hub dataset commit or tag: pins what "the same task" means
    options: dict[str, Any] = Field(default_factory=dict)  # loader-specific (e.g. BEIR split)


class FewShotSpec(_Frozen):
    """Exemplars prepended to every prompt."""

    source: str  # registered few-shot source, e.g. bbh_cot_prompt
    path: str | None = None  # file inside the local mirror
    k: int | None = None  # how many exemplars (None: all the source has)
    options: dict[str, Any] = Field(default_factory=dict)


class GenerationSpec(_Frozen):
    max_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    n: int = Field(default=1, ge=1)  # samples per prompt; 0 would score every doc on nothing


class FormatSlots(_Frozen):
    """Which parts of a task's prompt ``--formats N`` may vary (see evalkit/formats.py).

    Only the template's own text is rewritten, never a record's or an exemplar's text."""

    fields: dict[str, Literal["question", "choices", "answer"]] = Field(default_factory=dict)  # label -> role
    options: Literal["none", "bbh", "agieval"] = "none"  # where option labels live: BBH "(A) " lines, AGIEval options list
    enabled: bool = True  # false: this subtask has no format variants (e.g. Chinese wording)


class FewShotPoolSpec(_Frozen):
    """Where ``--fewshot random|knn|skill-knn`` draws exemplars from (see evalkit/fewshot_select.py)."""

    kind: Literal["bbh", "agieval", "math"]  # how a pool record becomes an exemplar
    path: str | None = None  # another data file (MATH-500: math/test.jsonl); None: the task's own data, leave-one-out
    exclude_path: str | None = None  # records of this file (matched on ``key``) never enter the pool
    key: str | None = None  # record field identifying an item across files (MATH: unique_id)
    prompt: str | None = None  # template for selected exemplars when the task's own has them inline
    k: int | None = None  # exemplars per prompt (None: as many as the fixed exemplars)
    max_chars: int | None = None  # leave out pool items longer than this (prompt-length budget)


class TaskSpec(_Frozen):
    """One concrete, runnable task; frozen and hashable (its hash is provenance)."""

    name: str
    description: str = ""
    output_type: str = "generate"  # registered evaluator: generate, multiple_choice, retrieval
    dataset: DatasetSpec
    prompt: str | None = None  # jinja2 template file in prompts/
    fewshot: FewShotSpec | None = None
    target: str = "target"  # field of the record holding the reference answer
    generation: GenerationSpec = GenerationSpec()
    extractor: str = "identity"
    extractor_args: dict[str, Any] = Field(default_factory=dict)
    scorer: str = "exact_match"
    scorer_args: dict[str, Any] = Field(default_factory=dict)
    metric: str = "exact_match"  # name of the main metric in results.json
    breakdown: tuple[str, ...] = ()  # record fields to report the metric by (subject, level)
    options: dict[str, Any] = Field(default_factory=dict)  # evaluator-specific settings
    formats: FormatSlots | None = None  # slots --formats may vary
    fewshot_pool: FewShotPoolSpec | None = None  # pool for --fewshot random|knn|skill-knn
    source_file: str = ""  # the YAML file it came from, for error messages

    def gen_params(self, seed: int, n: int | None = None) -> GenParams:
        g = self.generation
        return GenParams(g.max_tokens, g.temperature, g.top_p, tuple(g.stop), n or g.n, seed)

    def spec_hash(self) -> str:
        # formats/fewshot_pool only declare what variants may do; a plain run's score does not depend on them
        return stable_hash(self.model_dump(exclude={"source_file", "formats", "fewshot_pool"}))


class GroupSpec(_Frozen):
    """A named set of tasks (or groups) reported together, macro and micro averaged."""

    name: str
    description: str = ""
    tasks: tuple[str, ...]
    source_file: str = ""


class _TemplateFile(_Frozen):
    """The file-level keys of a YAML file; every other top-level key is a
    TaskSpec field (with ``{subtask}`` placeholders when ``subtasks`` is set)."""

    task: str | None = None
    group: str | None = None
    description: str = ""
    subtasks: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    subtask_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    spec: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def from_raw(cls, raw: dict[str, Any]) -> "_TemplateFile":
        top = {k: raw[k] for k in ("task", "group", "description", "subtasks", "tasks", "subtask_overrides") if k in raw}
        spec = {k: v for k, v in raw.items() if k not in top}
        return cls.model_validate({**top, "spec": spec})


def _fill(value: Any, subtask: str) -> Any:
    """Replace ``{subtask}`` (and ``{subtask_dash}``) in every string of a nested value."""
    if isinstance(value, str):
        return value.replace("{subtask}", subtask).replace("{subtask_dash}", subtask.replace("_", "-"))
    if isinstance(value, dict):
        return {k: _fill(v, subtask) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, subtask) for v in value]
    return value


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _field_path(err: ErrorDetails) -> str:
    return ".".join(str(p) for p in err["loc"]) or "(top level)"


def _validation_message(path: Path, exc: ValidationError) -> str:
    err = exc.errors()[0]
    return f"{path}: field '{_field_path(err)}': {err['msg']}"


def _parse_file(path: Path) -> tuple[list[TaskSpec], list[GroupSpec]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} is not valid YAML ({getattr(exc, 'problem', exc)}); fix the file") from None
    from evalkit.spec.include import is_lm_eval_yaml

    if is_lm_eval_yaml(raw):  # a folder may hold lm-eval tasks too; the lm_eval: bridge reads those
        return [], []
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with 'task' or 'group' at the top level")
    try:
        tf = _TemplateFile.from_raw(raw)
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc)) from None
    if tf.tasks and tf.spec:
        raise ConfigError(f"{path}: a group of existing tasks takes no task fields (found {', '.join(sorted(tf.spec))})")
    if not tf.task and not tf.group:
        raise ConfigError(f"{path}: needs a 'task' or a 'group' name")
    tasks: list[TaskSpec] = []
    groups: list[GroupSpec] = []
    try:
        if tf.subtasks:
            if not (tf.group and tf.task and "{subtask}" in tf.task):
                raise ConfigError(f"{path}: 'subtasks' needs 'group' and a 'task' name containing {{subtask}}")
            for sub in tf.subtasks:
                fields = _merge(_fill(tf.spec, sub), tf.subtask_overrides.get(sub, {}))
                tasks.append(TaskSpec.model_validate(
                    {"description": tf.description, **fields, "name": _fill(tf.task, sub), "source_file": str(path)}))
            groups.append(GroupSpec(name=tf.group, description=tf.description,
                                    tasks=tuple(t.name for t in tasks), source_file=str(path)))
        elif tf.group:
            if not tf.tasks:
                raise ConfigError(f"{path}: group '{tf.group}' lists no 'tasks'")
            groups.append(GroupSpec(name=tf.group, description=tf.description, tasks=tf.tasks, source_file=str(path)))
        else:
            tasks.append(TaskSpec.model_validate(
                {"description": tf.description, **tf.spec, "name": tf.task, "source_file": str(path)}))
    except ValidationError as exc:
        raise ConfigError(_validation_message(path, exc)) from None
    return tasks, groups


def tasks_dir() -> Path:
    """The task YAML folder: EVALKIT_TASKS_DIR, else the one shipped with the package."""
    if os.environ.get("EVALKIT_TASKS_DIR"):
        path = Path(os.environ["EVALKIT_TASKS_DIR"])
        if not path.is_dir():
            raise ConfigError(f"EVALKIT_TASKS_DIR={path} is not a folder; point it at a folder of task YAML files or unset it")
        return path
    return resource_dir("tasks")


class Catalog:
    """Every task and group found in the task folders, by name."""

    def __init__(self, tasks: dict[str, TaskSpec], groups: dict[str, GroupSpec]):
        self.tasks = tasks
        self.groups = groups

    def names(self) -> list[str]:
        return sorted(set(self.tasks) | set(self.groups))

    def expand(self, name: str) -> list[str]:
        """Concrete task names under ``name`` (itself, or a group's members, recursively)."""
        if name in self.tasks:
            return [name]
        if name in self.groups:
            out: list[str] = []
            for member in self.groups[name].tasks:
                out.extend(t for t in self.expand(member) if t not in out)
            return out
        raise ConfigError(f"unknown task '{name}'{suggest(name, self.names())}; `evalkit tasks` lists them")

    def subgroups(self, names: list[str]) -> list[str]:
        """Groups reachable from ``names``, innermost first, so they report in order."""
        out: list[str] = []

        def visit(n: str) -> None:
            if n in self.groups:
                for m in self.groups[n].tasks:
                    visit(m)
                if n not in out:
                    out.append(n)

        for n in names:
            visit(n)
        return out


def load_catalog(folders: tuple[Path, ...] | None = None) -> Catalog:
    """Tasks of ``folders``; by default the built-in ones plus the --include-path folders."""
    from evalkit.spec import include

    folders = folders or (tasks_dir(), *include.active())
    return _load_catalog(tuple(str(f) for f in folders))


@lru_cache(maxsize=8)
def _load_catalog(folders: tuple[str, ...]) -> Catalog:
    tasks: dict[str, TaskSpec] = {}
    groups: dict[str, GroupSpec] = {}
    for folder in folders:
        for path in sorted(Path(folder).rglob("*.yaml")):
            new_tasks, new_groups = _parse_file(path)
            for t in new_tasks:
                if t.name in tasks or t.name in groups:
                    raise ConfigError(f"{path}: task '{t.name}' is already defined in {tasks[t.name].source_file if t.name in tasks else groups[t.name].source_file}")
                tasks[t.name] = t
            for g in new_groups:
                if g.name in tasks or g.name in groups:
                    other = tasks[g.name].source_file if g.name in tasks else groups[g.name].source_file
                    raise ConfigError(f"{path}: group '{g.name}' is already defined in {other}")
                groups[g.name] = g
    cat = Catalog(tasks, groups)
    for g in groups.values():
        for member in g.tasks:
            if member not in tasks and member not in groups:
                raise ConfigError(f"{g.source_file}: group '{g.name}' lists unknown task '{member}'{suggest(member, cat.names())}")
    check_names(cat)
    check_group_cycles(groups)
    return cat


# Task names become file names (samples/<task>.jsonl) and URLs: no path separators, no "..".
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


def check_names(cat: Catalog) -> None:
    specs: list[TaskSpec | GroupSpec] = [*cat.tasks.values(), *cat.groups.values()]
    for spec in specs:
        if not _NAME.fullmatch(spec.name) or ".." in spec.name:
            raise ConfigError(f"{spec.source_file}: name '{spec.name}' is not allowed; use letters, digits, "
                              "'_', '-', '.' and '+' (it becomes a file name)")


def check_group_cycles(groups: dict[str, GroupSpec]) -> None:
    """A group that contains itself (directly or through others) has no members to expand to."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2 or name not in groups:
            return
        if state.get(name) == 1:
            cycle = path[path.index(name):] + [name]
            raise ConfigError(f"{groups[name].source_file}: groups contain each other ({' -> '.join(cycle)}); "
                              "remove one of those memberships")
        state[name] = 1
        for member in groups[name].tasks:
            visit(member, path + [name])
        state[name] = 2

    for g in groups:
        visit(g, [])


def prompts_dir() -> Path:
    return resource_dir("prompts")


TaskKind = Literal["task", "group"]
