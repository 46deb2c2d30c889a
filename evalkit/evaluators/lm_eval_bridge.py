"""The lm-evaluation-harness bridge: `evalkit run --tasks lm_eval:<task>`.

lm-eval builds the requests and scores them; the model is the evalkit backend,
wrapped as an lm-eval ``LM``, so generations go through evalkit's durable
cache (a killed run resumes) and every sample lands in evalkit's store.

* ``generate_until`` -> ``CachedGenerator.generate`` (cached, resumable);
* ``loglikelihood`` -> ``backend.loglikelihood`` (not cached);
* ``loglikelihood_rolling`` (perplexity tasks) is not supported.

A task name may be an lm-eval group (``lm_eval:mmlu``): it runs as its leaf
tasks, each stored as ``lm_eval:<leaf>``. Per-doc values of mean-aggregated
metrics become the samples' metrics, so evalkit's means and standard errors
equal lm-eval's; corpus-level metrics (bleu, f1 over the corpus) are dropped.
Metric names keep lm-eval's filter when it is not ``none``
(``exact_match,strict-match``).

Extra task folders come from ``--include-path`` (the same folders evalkit's own
tasks come from), ``EVALKIT_LM_EVAL_INCLUDE`` (os.pathsep-separated) or the run
option ``lm_eval_include_path``; they are searched first, and the
built-in task index (slow to build, ~15 s) only when the name is not there
(never when ``EVALKIT_LM_EVAL_DEFAULTS=0``).
"""
from __future__ import annotations

import json
import logging
import os
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any, cast

from evalkit.core.errors import ConfigError, DataError
from evalkit.core.registry import suggest
from evalkit.core.types import LM_EVAL_PREFIX, GenParams, LoglikelihoodRequest, Request, SampleRecord, stable_hash
from evalkit.models.base import Backend, truncate_at_stop

if TYPE_CHECKING:
    from evalkit.run.context import EvalContext

log = logging.getLogger("evalkit")

PREFIX = LM_EVAL_PREFIX
INCLUDE_ENV = "EVALKIT_LM_EVAL_INCLUDE"
DEFAULTS_ENV = "EVALKIT_LM_EVAL_DEFAULTS"  # "0": never index lm-eval's built-in tasks (offline, fast)


@dataclass(frozen=True)
class LeafTask:
    """One lm-eval task as evalkit stores it."""

    name: str  # lm-eval task name
    output_type: str  # generate_until, multiple_choice, loglikelihood
    metric: str  # main metric, evalkit name ("acc", "exact_match,strict-match")
    config_hash: str  # hash of lm-eval's task config: provenance


def include_paths(options: dict[str, Any] | None = None) -> tuple[str, ...]:
    opt = (options or {}).get("lm_eval_include_path") or []
    paths = [opt] if isinstance(opt, str) else list(opt)
    paths += [p for p in os.environ.get(INCLUDE_ENV, "").split(os.pathsep) if p]
    from evalkit.spec import include  # --include-path folders serve both evalkit and lm-eval tasks

    paths += [str(p) for p in include.active() if str(p) not in paths]
    return tuple(str(p) for p in paths)


@lru_cache(maxsize=4)
def _manager(include: tuple[str, ...], defaults: bool) -> Any:
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=list(include) or None, include_defaults=defaults)


def task_manager(name: str, include: tuple[str, ...]) -> Any:
    """The smallest TaskManager that knows ``name``: the include folders alone if they have it."""
    if include:
        tm = _manager(include, False)
        if name in tm.all_tasks:
            return tm
    defaults = os.environ.get(DEFAULTS_ENV, "1") != "0"
    tm = _manager(include, defaults)
    if name not in tm.all_tasks:
        raise ConfigError(f"unknown lm-eval task '{name}'{suggest(name, tm.all_tasks)}; "
                          f"local task folders go in {INCLUDE_ENV}")
    return tm


def load_tasks(names: list[str], tm: Any) -> dict[str, Any]:
    """lm-eval Task objects for ``names`` (groups expanded to leaves), datasets loaded."""
    try:
        return tm.load(names)["tasks"]
    except Exception as exc:  # dataset download, bad task YAML: lm-eval raises many kinds
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"lm-eval could not load {', '.join(names)}: {first[:200]}") from None


def mean_metrics(task: Any) -> list[str]:
    """The task's metrics that lm-eval aggregates as a plain mean, in its order."""
    from lm_eval.api.metrics import mean

    return [m for m, fn in task.aggregation().items() if fn is mean]


def filter_names(task: Any) -> list[str]:
    return [f.name for f in getattr(task, "_filters", [])] or ["none"]


def metric_key(metric: str, flt: str) -> str:
    return metric if flt == "none" else f"{metric},{flt}"


def resolve(name: str, options: dict[str, Any] | None = None) -> list[LeafTask]:
    """The leaf tasks of ``lm_eval:<name>``, checked before any model is loaded."""
    tm = task_manager(name, include_paths(options))
    entry = tm.task_index.get(name)
    if entry is not None and (entry.cfg or {}).get("output_type") == "loglikelihood_rolling":
        _no_rolling(name)  # before loading its data
    leaves = []
    for leaf, task in load_tasks([name], tm).items():
        output_type = task.OUTPUT_TYPE
        if output_type == "loglikelihood_rolling":
            _no_rolling(leaf)
        metrics = mean_metrics(task)
        if not metrics:
            raise ConfigError(f"lm-eval task '{leaf}' has only corpus-level metrics "
                              f"({', '.join(task.aggregation())}); the bridge stores per-doc means")
        cfg = json.dumps(task.dump_config(), sort_keys=True, default=str)
        leaves.append(LeafTask(leaf, output_type, metric_key(metrics[0], filter_names(task)[0]), stable_hash(cfg)))
    return leaves


def _no_rolling(name: str) -> None:
    raise ConfigError(f"lm-eval task '{name}' needs loglikelihood_rolling (perplexity), "
                      "which the evalkit bridge does not support")


def gen_params(kwargs: dict[str, Any], seed: int) -> GenParams:
    """lm-eval generation kwargs -> evalkit GenParams (other keys are ignored)."""
    until = kwargs.get("until") or ()
    until = (until,) if isinstance(until, str) else tuple(until)
    greedy = not kwargs.get("do_sample", False)
    temperature = 0.0 if greedy else float(kwargs.get("temperature", 1.0))
    return GenParams(int(kwargs.get("max_gen_toks", 256)), temperature, float(kwargs.get("top_p", 1.0)),
                     until, 1, seed)


def _make_lm_class() -> type:
    from lm_eval.api.model import LM

    class EvalkitLM(LM):
        """The evalkit backend as an lm-eval model."""

        def __init__(self, ctx: "EvalContext"):
            super().__init__()
            self.ctx = ctx

        def generate_until(self, requests: list[Any], disable_tqdm: bool = False) -> list[str]:
            if self.ctx.generator is None:
                raise ConfigError("lm-eval generate_until tasks need a generating backend")
            seen: Counter[tuple[Any, ...]] = Counter()
            reqs = []
            for inst in requests:
                context, kwargs = inst.args
                key = (inst.task_name, inst.doc_id, inst.idx)
                reqs.append(Request(PREFIX + str(inst.task_name), int(inst.doc_id), context,
                                    gen_params(kwargs or {}, self.ctx.seed), first_sample=seen[key]))
                seen[key] += 1  # lm-eval repeats a request `repeats` times: each is its own sample
            gens = self.ctx.generate(reqs, label="lm-eval generate")
            return [truncate_at_stop(g.texts[0], r.params.stop) for g, r in zip(gens, reqs)]

        def loglikelihood(self, requests: list[Any], disable_tqdm: bool = False) -> list[tuple[float, bool]]:
            reqs = [LoglikelihoodRequest(PREFIX + str(i.task_name), int(i.doc_id), i.args[0], i.args[1])
                    for i in requests]
            backend = cast(Backend, self.ctx.backend)  # lm-eval tasks are never retrieval tasks
            return [(float(r.logprob), bool(r.is_greedy)) for r in backend.loglikelihood(reqs)]

        def loglikelihood_rolling(self, requests: list[Any], disable_tqdm: bool = False) -> list[float]:
            raise NotImplementedError("evalkit's lm-eval bridge does not support loglikelihood_rolling "
                                      "(perplexity tasks); run those with lm-eval's own model classes")

    return EvalkitLM


@lru_cache(maxsize=1)
def lm_class() -> type:
    return _make_lm_class()


def evaluate(names: list[str], ctx: "EvalContext", limit: int | None, options: dict[str, Any]) -> dict[str, list[SampleRecord]]:
    """Run lm-eval leaf tasks ``names`` (without prefix) through the evalkit backend."""
    import lm_eval

    include = include_paths(options)
    tm = task_manager(names[0], include)
    tasks = load_tasks(names, tm)
    out = lm_eval.simple_evaluate(model=lm_class()(ctx), tasks=list(tasks.values()), task_manager=tm, limit=limit,
                                  log_samples=True, bootstrap_iters=0, fewshot_random_seed=ctx.seed,
                                  num_fewshot=options.get("num_fewshot"), gen_kwargs=options.get("gen_kwargs"))
    if out is None:
        raise DataError("lm-eval returned no results (non-zero rank?)")
    return {PREFIX + n: to_records(PREFIX + n, out["samples"].get(n, []), mean_metrics(t), filter_names(t))
            for n, t in tasks.items()}


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, ensure_ascii=False, default=str))


def to_records(task: str, samples: list[dict[str, Any]], metrics: list[str], filters: list[str]) -> list[SampleRecord]:
    """lm-eval's logged samples (one per doc and filter) -> one SampleRecord per doc."""
    primary = filters[0]
    main = metric_key(metrics[0], primary)
    per_doc: dict[int, dict[str, float]] = {}
    firsts: dict[int, dict[str, Any]] = {}
    for s in samples:
        doc_id, flt = int(s["doc_id"]), s.get("filter", "none")
        vals = per_doc.setdefault(doc_id, {})
        for m in s.get("metrics", []):
            v = s.get(m)
            if m in metrics and isinstance(v, (int, float)):
                vals[metric_key(m, flt)] = float(v)
        if flt == primary or doc_id not in firsts:
            firsts[doc_id] = s
    return [_record(task, firsts[d], per_doc[d], main) for d in sorted(firsts)]


def _record(task: str, s: dict[str, Any], metrics: dict[str, float], main: str) -> SampleRecord:
    args = s.get("arguments") or [[""]]
    resps = s.get("resps") or [[]]
    target = _jsonable(s.get("target"))
    if args and len(args[0]) > 1 and not isinstance(args[0][1], dict):  # log-likelihood: one (context, choice) per choice
        choices = [a[1] for a in args]
        lls = [r[0] if r else [float("nan"), False] for r in resps]
        best = max(range(len(lls)), key=lambda i: lls[i][0])
        trace = [{"choice": c, "logprob": ll[0], "is_greedy": ll[1]} for c, ll in zip(choices, lls)]
        if isinstance(target, int) and 0 <= target < len(choices):
            target = choices[target].strip()
        return SampleRecord(task, int(s["doc_id"]), str(args[0][0]), [choices[best]], target, choices[best].strip(),
                            metrics.get(main, 0.0), metrics, trace=trace)
    filtered = s.get("filtered_resps") or [""]
    extracted = _jsonable(filtered[0] if isinstance(filtered, list) else filtered)
    outputs = [str(o) for o in resps[0]] if resps and isinstance(resps[0], list) else [str(r) for r in resps]
    return SampleRecord(task, int(s["doc_id"]), str(args[0][0]), outputs, target, extracted, metrics.get(main, 0.0),
                        metrics)
