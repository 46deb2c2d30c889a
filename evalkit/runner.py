"""The run: resolve tasks, load data, evaluate, compute metrics, store, report.

Everything that can fail on bad input (task names, YAML, data files, prompt
templates, output dir) is checked before the model is loaded, so a typo costs
seconds, not a model load.
"""
from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evalkit.backends import load_backend, parse_model
from evalkit.cache import CachedGenerator
from evalkit.data import data_dir, load_docs
from evalkit.errors import ConfigError
from evalkit.evaluators.context import EvalContext, TaskRun
from evalkit.prompts import PromptBuilder
from evalkit.provenance import environment
from evalkit.registry import aggregators, evaluators
from evalkit.results import check_output_dir, compute_results, write_output_dir
from evalkit.store import Store
from evalkit.taskspec import load_catalog
from evalkit.types import SampleRecord

log = logging.getLogger("evalkit")


@dataclass
class RunConfig:
    """Everything `evalkit run` was asked to do."""

    model: str
    tasks: list[str]
    limit: int | None = None
    batch_size: int = 8
    output: Path | None = None
    store: Path = Path("evalkit.db")
    seed: int = 1234
    data_dir: str | None = None
    samples: int | None = None
    model_args: dict[str, Any] = field(default_factory=dict)
    apply_chat_template: bool = False
    system_prompt: str | None = None
    aggregator: str | None = None  # None: majority when several samples, else first
    temperature: float | None = None
    overwrite: bool = False
    options: dict[str, Any] = field(default_factory=dict)  # evaluator options (critic, tool rounds...)


@dataclass
class RunResult:
    run_id: str
    results: dict[str, Any]
    records: dict[str, list[SampleRecord]]
    payload: dict[str, Any]
    sent_requests: int = 0


def validate(cfg: RunConfig) -> None:
    if cfg.limit is not None and cfg.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {cfg.limit}")
    if cfg.samples is not None and cfg.samples < 1:
        raise ConfigError(f"--samples must be at least 1, got {cfg.samples}")
    if cfg.batch_size < 1:
        raise ConfigError(f"--batch-size must be at least 1, got {cfg.batch_size}")
    if not cfg.tasks:
        raise ConfigError("no tasks given: pass --tasks NAME[,NAME...] (see `evalkit tasks`)")
    if cfg.aggregator is not None:
        aggregators.get(cfg.aggregator)
    if cfg.temperature is not None and cfg.temperature < 0:
        raise ConfigError(f"--temperature must be >= 0, got {cfg.temperature}")


def prepare_tasks(cfg: RunConfig) -> tuple[list[TaskRun], Any, Path | None]:
    catalog = load_catalog()
    names: list[str] = []
    runs = []
    for t in cfg.tasks:
        if t.startswith("lm_eval:"):  # lm-evaluation-harness tasks: lm-eval loads their data
            from evalkit.evaluators.lm_eval import task_runs

            runs.extend(task_runs(t, cfg.limit, cfg.options))
            continue
        names.extend(n for n in catalog.expand(t) if n not in names)
    root = data_dir(cfg.data_dir)
    for name in names:
        spec = catalog.tasks[name]
        evaluators.get(spec.output_type)
        docs = load_docs(spec.dataset, root, cfg.limit)
        prompts = PromptBuilder(spec, root) if spec.prompt else None
        runs.append(TaskRun(spec, docs, prompts))
    return runs, catalog, root


CHAT_BACKENDS = ("hf", "vllm", "openai")


def backend_kwargs(cfg: RunConfig) -> dict[str, Any]:
    name, _ = parse_model(cfg.model)
    kw = dict(cfg.model_args)
    if name == "hf":
        kw.setdefault("batch_size", cfg.batch_size)
    if cfg.apply_chat_template or cfg.system_prompt:
        if name not in CHAT_BACKENDS:
            raise ConfigError(f"--apply-chat-template/--system-prompt need a model backend ({', '.join(CHAT_BACKENDS)}), not '{name}'")
        kw["apply_chat_template"] = cfg.apply_chat_template
        if cfg.system_prompt:
            kw["system_prompt"] = cfg.system_prompt
    return kw


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def run(cfg: RunConfig) -> RunResult:
    validate(cfg)
    check_output_dir(cfg.output, cfg.overwrite)
    t0 = time.time()
    task_runs, catalog, root = prepare_tasks(cfg)
    store = Store(cfg.store)
    t_load = time.time()
    backend = load_backend(cfg.model, **backend_kwargs(cfg))
    generator = CachedGenerator(backend, store) if hasattr(backend, "generate") else None
    run_id = new_run_id()
    config = {
        "model": cfg.model, "backend": backend.identity(), "model_args": cfg.model_args,
        "tasks": cfg.tasks, "limit": cfg.limit, "seed": cfg.seed, "samples": cfg.samples,
        "aggregator": cfg.aggregator, "temperature": cfg.temperature, "batch_size": cfg.batch_size, "options": cfg.options,
        "task_specs": {t.spec.name: {"spec_hash": t.spec.spec_hash(), "prompt_hash": t.prompts.hash if t.prompts else None,
                                     "n_docs": len(t.docs)} for t in task_runs},
        "data_dir": str(root) if root else None, "environment": environment(),
    }
    store.start_run(run_id, cfg.model, cfg.tasks, config)
    try:
        t_eval = time.time()
        ctx = EvalContext(backend, generator, cfg.seed, cfg.samples, cfg.aggregator, root, cfg.options,
                          cfg.temperature)
        records: dict[str, list[SampleRecord]] = {}
        by_type: dict[str, list[TaskRun]] = defaultdict(list)
        for t in task_runs:
            by_type[t.spec.output_type].append(t)
        for output_type, runs in by_type.items():
            records.update(evaluators.get(output_type)(runs, ctx))
        main_metric = {t.spec.name: t.spec.metric for t in task_runs}
        results, breakdowns, rows = compute_results(catalog, cfg.tasks, records, main_metric)
        t_done = time.time()
        config["timings"] = {"prepare_s": t_load - t0, "model_load_s": t_eval - t_load, "evaluate_s": t_done - t_eval,
                             "total_s": t_done - t0}
        if hasattr(backend, "report"):  # replay: outputs cut at stop sequences, as live
            config["replay"] = backend.report()
        if generator is not None:
            config["requests"] = {"sent": generator.sent_requests, "samples_generated": generator.sent_samples,
                                  "samples_from_cache": generator.cached_samples}
        payload = {"run_id": run_id, "results": results, "breakdown": breakdowns,
                   "groups": {g: list(catalog.groups[g].tasks) for g in catalog.subgroups(cfg.tasks)},
                   "config": config}
        all_records = [r for recs in records.values() for r in recs]
        store.finish_run(run_id, payload["results"], rows, all_records, config)
    except BaseException as exc:
        store.set_status(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    finally:
        backend.close()
    if cfg.output is not None:
        write_output_dir(cfg.output, payload, records)
    store.close()
    return RunResult(run_id, results, records, payload, generator.sent_requests if generator else 0)
