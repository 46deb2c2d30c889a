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

from evalkit.core.errors import ConfigError
from evalkit.core.provenance import environment
from evalkit.core.registry import aggregators, evaluators, rankers, task_sources
from evalkit.core.store_url import without_password
from evalkit.core.types import RunRecord, SampleRecord
from evalkit.models import load_backend, parse_model
from evalkit.models.engine_settings import engine_settings
from evalkit.run.cache import CachedGenerator
from evalkit.run.checks import check_finite, check_replay_docs, check_task_flags
from evalkit.run.context import EvalContext, TaskRun
from evalkit.run.isolation import evaluate_isolated
from evalkit.run.layout import run_layout
from evalkit.run.results import check_output_dir, compute_results, sweep_temp_dirs, write_output_dir
from evalkit.run.robustness import Plan
from evalkit.spec import include
from evalkit.spec.datahash import pinned_data
from evalkit.spec.loaders import data_dir, load_docs
from evalkit.spec.overrides import Overrides, check_model_spelling, parse_batch_size, parse_limit
from evalkit.spec.prompts import PromptBuilder
from evalkit.spec.taskspec import load_catalog
from evalkit.store import Store

log = logging.getLogger("evalkit")


@dataclass
class RunConfig:
    """Everything `evalkit run` was asked to do."""

    model: str
    tasks: list[str]
    limit: int | float | str | None = None  # a count of docs, a fraction of each task (0.1), or either as text
    batch_size: int | str = 8  # or "auto" (hf: largest that fits, halving on out-of-memory)
    output: Path | None = None
    store: Path | str = Path("evalkit.db")  # a SQLite path or a postgresql:// URL
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
    overrides: Overrides = field(default_factory=Overrides)  # --num-fewshot, --gen-kwargs
    include_path: list[str] = field(default_factory=list)  # --include-path task folders
    backend: Any = None  # an already-built backend (the Python API's in-memory models); None: load cfg.model


@dataclass
class RunResult:
    run_id: str
    results: dict[str, Any]
    records: dict[str, list[SampleRecord]]
    payload: RunRecord
    sent_requests: int = 0


def validate(cfg: RunConfig) -> None:
    cfg.limit = parse_limit(cfg.limit)
    cfg.batch_size = parse_batch_size(cfg.batch_size)
    if cfg.backend is None:
        check_model_spelling(cfg.model, cfg.model_args)
    if cfg.samples is not None and cfg.samples < 1:
        raise ConfigError(f"--samples must be at least 1, got {cfg.samples}")
    if not cfg.tasks:
        raise ConfigError("no tasks given: pass --tasks NAME[,NAME...] (see `evalkit tasks`)")
    if cfg.aggregator is not None and cfg.aggregator not in rankers:
        aggregators.get(cfg.aggregator)
    check_finite("--temperature", cfg.temperature)
    if cfg.temperature is not None and cfg.temperature < 0:
        raise ConfigError(f"--temperature must be >= 0, got {cfg.temperature}")


def prepare_tasks(cfg: RunConfig) -> tuple[list[TaskRun], Any, Path | None]:
    include.activate(cfg.include_path)
    catalog = load_catalog()
    names: list[str] = []
    runs = []
    for t in cfg.tasks:
        prefix, sep, _ = t.partition(":")
        if sep and prefix in task_sources:  # lm_eval:NAME: lm-evaluation-harness loads the data
            runs.extend(task_sources.get(prefix)(t, parse_limit(cfg.limit), cfg.options, cfg.overrides.lm_eval()))
            continue
        names.extend(n for n in catalog.expand(t) if n not in names)
    root = data_dir(cfg.data_dir)
    for name in names:
        spec = cfg.overrides.apply(catalog.tasks[name])
        evaluators.get(spec.output_type)
        docs = load_docs(spec.dataset, root, parse_limit(cfg.limit))
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


def evaluator_for(output_type: str, options: dict[str, Any]) -> str:
    """--critic runs a generate task through the CRITIC loop, round 0 being its normal answer."""
    return "critic" if options.get("critic") and output_type == "generate" else output_type


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S") + "-" + uuid.uuid4().hex[:6]


def run(cfg: RunConfig) -> RunResult:
    validate(cfg)
    check_output_dir(cfg.output, cfg.overwrite)
    sweep_temp_dirs(cfg.output)  # what a killed earlier run left
    t0 = time.time()
    task_runs, catalog, root = prepare_tasks(cfg)
    plan = Plan.from_options(cfg.options, cfg.seed)
    plan.check(task_runs)
    check_task_flags(cfg.aggregator, cfg.options, task_runs)
    store = Store(cfg.store)
    t_load = time.time()
    backend = cfg.backend if cfg.backend is not None else load_backend(cfg.model, **backend_kwargs(cfg))
    check_replay_docs(backend, task_runs, root)
    generator = CachedGenerator(backend, store) if hasattr(backend, "generate") else None
    run_id = new_run_id()
    config = {
        "model": cfg.model, "backend": backend.identity(), "model_args": cfg.model_args,
        "tasks": cfg.tasks, "limit": cfg.limit, "seed": cfg.seed, "samples": cfg.samples,
        "aggregator": cfg.aggregator, "temperature": cfg.temperature, "batch_size": cfg.batch_size, "options": cfg.options,
        "overrides": cfg.overrides.record(), "include_path": [str(p) for p in include.active()],
        "task_specs": {t.spec.name: {"spec_hash": t.spec.spec_hash(), "prompt_hash": t.prompts.hash if t.prompts else None,
                                     "n_docs": len(t.docs), **pinned_data(t.spec, root)} for t in task_runs},
        "data_dir": str(root) if root else None, "environment": environment(),
        "store": without_password(str(cfg.store)),
    }
    source = getattr(backend, "source_model", None)
    if callable(source) and source():  # a replay: leaderboards and the site name the model that produced it
        config["source_model"] = source()
    layout = run_layout(catalog, cfg.tasks, [t.spec.name for t in task_runs])
    store.start_run(run_id, cfg.model, cfg.tasks, config, layout)
    try:
        t_eval = time.time()
        ctx = EvalContext(backend, generator, cfg.seed, cfg.samples, cfg.aggregator, root, cfg.options,
                          cfg.temperature)
        if plan.active:  # --formats / --permute-options / --fewshot: variants are more TaskRuns
            task_runs = plan.expand(task_runs, ctx)
        records: dict[str, list[SampleRecord]] = {}
        by_type: dict[str, list[TaskRun]] = defaultdict(list)
        for t in task_runs:
            by_type[evaluator_for(t.spec.output_type, cfg.options)].append(t)
        for output_type, runs in by_type.items():
            records.update(evaluate_isolated(evaluators.get(output_type), runs, ctx))
        main_metric = {t.spec.name: t.spec.metric for t in task_runs}
        results, breakdowns, rows = compute_results(catalog, cfg.tasks, records, main_metric)
        if plan.active:
            plan.annotate(task_runs, records)
            groups = {g: list(catalog.groups[g].tasks) for g in catalog.subgroups(cfg.tasks)}
            rows += plan.summarize(results, records, groups, main_metric)
            config["robustness"] = plan.record
        t_done = time.time()
        config["timings"] = {"prepare_s": t_load - t0, "model_load_s": t_eval - t_load, "evaluate_s": t_done - t_eval,
                             "total_s": t_done - t0}
        if cfg.batch_size == "auto":  # the size --batch-size auto settled on, for the next run
            config["batch_size_found"] = getattr(backend, "batch_size", None)
        config["engine"] = engine_settings(backend)  # compare warns when two runs' engines differ
        if hasattr(backend, "report"):  # replay: outputs cut at stop sequences, as live
            config["replay"] = backend.report()
        if generator is not None:
            config["requests"] = {"sent": generator.sent_requests, "samples_generated": generator.sent_samples,
                                  "samples_from_cache": generator.cached_samples}
        payload = RunRecord(run_id, results, breakdowns,
                            {g: list(catalog.groups[g].tasks) for g in catalog.subgroups(cfg.tasks)}, layout, config)
        all_records = [r for recs in records.values() for r in recs]
        store.finish_run(run_id, payload.results, rows, all_records, config)
    except BaseException as exc:
        store.set_status(run_id, "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed")
        raise
    finally:
        backend.close()
    if cfg.output is not None:
        write_output_dir(cfg.output, payload.to_json(), records)
    store.close()
    return RunResult(run_id, results, records, payload, generator.sent_requests if generator else 0)
