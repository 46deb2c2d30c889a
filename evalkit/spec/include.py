"""User task folders (``--include-path DIR``, env ``EVALKIT_INCLUDE_PATH``) and plugin packages.

A folder holds task YAML files (any depth) and the jinja2 prompt templates
they name (beside the YAML or under ``DIR/prompts/``). They add to the
built-in tasks and prompts; a name that is already built in is an error naming
both files, so a custom folder can never silently shadow a built-in task.

Custom scorers, extractors (any registry kind) ship as Python packages that
declare an entry point in the ``evalkit.plugins`` group; importing the module
registers them (see ``registry.load_entry_points``).
"""
from __future__ import annotations

import os
from pathlib import Path

from evalkit.core.errors import ConfigError

ENV = "EVALKIT_INCLUDE_PATH"
TEMPLATE_SUFFIXES = (".j2", ".jinja", ".jinja2")

_active: tuple[Path, ...] = ()


def parse(paths: list[str] | tuple[str, ...] | str | None) -> tuple[Path, ...]:
    """Folders from flags and the environment (os.pathsep-separated), checked to exist."""
    given = [paths] if isinstance(paths, (str, os.PathLike)) else list(paths or [])
    given += [p for p in os.environ.get(ENV, "").split(os.pathsep) if p]
    out: list[Path] = []
    for p in given:
        path = Path(p).expanduser().resolve()
        if not path.is_dir():
            raise ConfigError(f"--include-path {p}: no such folder; give a folder of task YAML files")
        if path not in out:
            out.append(path)
    return tuple(out)


def activate(paths: list[str] | tuple[str, ...] | str | None) -> tuple[Path, ...]:
    """Make these folders (plus the environment's) part of the catalog and the
    prompt search path for the rest of this process; returns them."""
    global _active
    _active = parse(paths)
    return _active


def active() -> tuple[Path, ...]:
    """The folders in use: those activated, else the environment's."""
    return _active or parse(None)


def prompt_dirs(folders: tuple[Path, ...]) -> tuple[Path, ...]:
    """Where templates of these folders are looked up: DIR/prompts/ first, then DIR."""
    return tuple(p for f in folders for p in (f / "prompts", f) if p.is_dir())


def check_prompt_collisions(builtin: Path, folders: tuple[Path, ...]) -> None:
    """A user template with a built-in template's name would change every built-in
    task using it; refuse it, naming both files."""
    for root in prompt_dirs(folders):
        for path in sorted(root.rglob("*")):
            if path.suffix in TEMPLATE_SUFFIXES and path.is_file():
                rel = path.relative_to(root)
                if (builtin / rel).is_file():
                    raise ConfigError(f"{path}: prompt template '{rel}' collides with the built-in {builtin / rel}; "
                                      "rename yours (and the task's 'prompt:' field)")


# Keys only lm-eval task files have: such files in a shared folder are left to the lm_eval: bridge.
LM_EVAL_KEYS = ("dataset_path", "doc_to_text", "doc_to_target", "doc_to_choice", "include", "metric_list",
                "training_split", "test_split", "validation_split", "generation_kwargs")


def is_lm_eval_yaml(raw: object) -> bool:
    """An lm-evaluation-harness task or group file (read by ``--tasks lm_eval:NAME``), not an evalkit one."""
    if not isinstance(raw, dict):
        return False
    return any(k in raw for k in LM_EVAL_KEYS) or isinstance(raw.get("task"), list)
