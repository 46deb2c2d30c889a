"""The ``code_exec`` evaluator: generate programs, run them against the task's
tests in the sandbox, report pass@k (HumanEval).

One Request per doc asks for all n samples (native n); every sample of every
doc then runs at once in the sandbox pool. Per doc: pass@k for each k in the
task's ``options.ks`` with k <= n (the unbiased estimator), ``pass@1`` as the
main metric, and each sample's verdict and reason in the record.

Task settings (``options``): ``ks`` (default [1, 10, 100]; a run's
``RunConfig.options["ks"]`` overrides it); ``mode``:
``completion`` (the prompt is the problem's prompt, the output is appended)
or ``instruct`` (the answer holds the function in a code block, see
``extract_code``); ``timeout_s``: CPU seconds per sample (default: scaled from the
canonical solution's CPU time; a wall-clock backstop sits above it).

With ``--aggregate mpsc`` the model is also asked, in one batch per
perspective, for specifications and test cases (``prompts/mpsc_specs.j2``,
``prompts/mpsc_tests.j2``), and the solution MPSC ranks first is scored as
``mpsc_pass@1`` (see ``evalkit.scoring.aggregators.mpsc``).
"""
from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from evalkit.benchmarks.humaneval import check_humaneval, extract_code, wall_backstop
from evalkit.core.errors import ConfigError
from evalkit.core.registry import evaluators, rankers
from evalkit.core.types import Doc, Request, SampleRecord
from evalkit.run.context import EvalContext, TaskRun
from evalkit.sandbox import ExecResult, isolation_level, run_many
from evalkit.scoring.aggregators import mpsc
from evalkit.scoring.passk import pass_at_k
from evalkit.spec.prompts import template

log = logging.getLogger("evalkit")

DEFAULT_KS = (1, 10, 100)
MPSC_STOP = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")
MPSC_CPU_S = 30.0  # per consistency program (CPU time: the graph must not depend on machine load)


def completion(text: str, doc: Doc, mode: str) -> str:
    """What is appended to the problem's prompt for one sample."""
    if mode == "instruct":
        return extract_code(text, doc.fields["entry_point"], doc.fields["prompt"])
    return text


def _ks(task: TaskRun, n: int, override: Any = None) -> list[int]:
    ks = override or task.spec.options.get("ks", DEFAULT_KS)
    if not isinstance(ks, (list, tuple)) or not all(isinstance(k, int) and k >= 1 for k in ks):
        raise ConfigError(f"{task.spec.source_file}: field 'options.ks' must be a list of positive integers, got {ks!r}")
    return sorted({k for k in ks if k <= n})


def record(task: TaskRun, doc: Doc, prompt: str, outputs: list[str], codes: list[str],
           results: list[ExecResult], isolation: str, ks: Any = None) -> SampleRecord:
    spec = task.spec
    n = len(outputs)
    passed = [1.0 if r.passed else 0.0 for r in results]
    c = int(sum(passed))
    metrics = {f"pass@{k}": pass_at_k(n, c, k) for k in _ks(task, n, ks)}
    metrics["pass@1"] = pass_at_k(n, c, 1) if n else 0.0
    trace = [{"sample": i, "status": r.status, "reason": r.reason, "duration_s": round(r.duration_s, 3),
              "isolation": r.isolation or isolation} for i, r in enumerate(results)]
    return SampleRecord(spec.name, doc.id, prompt, outputs, doc.fields.get("task_id"), codes[0] if codes else None,
                        metrics["pass@1"], metrics, codes, passed, trace=trace,
                        extra={k: doc.fields.get(k) for k in spec.breakdown})


@evaluators.register("code_exec")
def evaluate_code(tasks: list[TaskRun], ctx: EvalContext) -> dict[str, list[SampleRecord]]:
    if ctx.aggregator not in (None, "first", "mpsc"):
        raise ConfigError(f"--aggregate {ctx.aggregator} does not apply to code tasks; use mpsc (or nothing)")
    per_task = []
    for task in tasks:
        assert task.prompts is not None
        params = ctx.params(task.spec)
        per_task.append((task, [Request(task.spec.name, d.id, task.prompts.render(d), params) for d in task.docs]))
    gens = ctx.generate([r for _, reqs in per_task for r in reqs], "generating programs")
    texts = iter([g.texts for g in gens])
    flat: list[tuple[TaskRun, Doc, Request, list[str], list[str]]] = []
    for task, reqs in per_task:
        mode = task.spec.options.get("mode", "completion")
        for d, r in zip(task.docs, reqs):
            outs = next(texts)
            flat.append((task, d, r, outs, [completion(t, d, mode) for t in outs]))
    problems = [d.fields for _, d, _, outs, _ in flat for _ in outs]
    codes = [c for *_, cs in flat for c in cs]
    timeout = next((t.spec.options.get("timeout_s") for t, *_ in flat if t.spec.options.get("timeout_s")), None)
    results = iter(check_humaneval(problems, codes, timeout_s=timeout))
    isolation = isolation_level()
    records = [record(task, d, r.prompt, outs, cs, [next(results) for _ in outs], isolation, ctx.options.get("ks"))
               for task, d, r, outs, cs in flat]
    if ctx.aggregator == "mpsc":
        _mpsc(flat, records, ctx)
    out: dict[str, list[SampleRecord]] = {t.spec.name: [] for t in tasks}
    for rec in records:
        out[rec.task].append(rec)
    return out




def _perspective(flat: list, ctx: EvalContext, kind: str) -> list[list[str]]:
    """One batch of ``kind`` ("specs" or "tests") requests, one per doc, with
    ``mpsc_specs_n`` / ``mpsc_tests_n`` samples each (default: the solutions' n;
    the paper samples fewer specs and tests than solutions)."""
    tpl = template(f"mpsc_{kind}.j2")
    reqs = []
    for task, d, r, _, _ in flat:
        n = int(ctx.option(task.spec, f"mpsc_{kind}_n", r.params.n))
        if n < 1:
            raise ConfigError(f"mpsc_{kind}_n must be at least 1, got {n}")
        params = replace(r.params, stop=MPSC_STOP, n=n)
        reqs.append(Request(f"{task.spec.name}:mpsc_{kind}", d.id, tpl.render(doc=d.fields, task=task.spec), params))
    return [g.texts for g in ctx.generate(reqs, f"generating {kind}")]


def _mpsc(flat: list, records: list[SampleRecord], ctx: EvalContext) -> None:
    """Adds ``mpsc_pass@1`` (and the ranking in the trace) to each record."""
    spec_texts = _perspective(flat, ctx, "specs")
    test_texts = _perspective(flat, ctx, "tests")
    programs: list[str] = []
    plan: list[tuple[list[str], list[str], int]] = []  # per doc: tests, specs, first program index
    for (task, d, _, _, cs), st, tt in zip(flat, spec_texts, test_texts):
        entry, prompt = d.fields["entry_point"], d.fields["prompt"]
        tests = mpsc.parse_tests(tt, entry, limit=mpsc.MAX_TESTS)
        specs = mpsc.parse_specs(st, limit=mpsc.MAX_SPECS)
        plan.append((tests, specs, len(programs)))
        programs.extend(mpsc.solution_program(prompt, c, entry, tests, specs) for c in cs)
        programs.append(mpsc.spec_test_program(prompt, entry, tests, specs))
    results = run_many(programs, cpu_s=MPSC_CPU_S, timeout_s=wall_backstop(MPSC_CPU_S), memory_mb=1024)
    for (task, _, _, _, cs), rec, (tests, specs, start) in zip(flat, records, plan):
        sol = [r.stdout for r in results[start:start + len(cs)]]
        graph = mpsc.consistency(len(tests), len(specs), sol, results[start + len(cs)].stdout)
        prior = str(ctx.option(task.spec, "mpsc_prior", "semantic"))
        best, scores = rankers.get("mpsc")(graph, prior=prior, texts=(cs, specs, tests))
        for k in (1, 2, 5):
            if k <= len(cs):  # tie-expanded, as the paper (CodeT's evaluation) reports
                rec.metrics[f"mpsc_pass@{k}"] = mpsc.tie_pass_at_k(scores, rec.scores_all, k)
        rec.metrics["mpsc_pick_pass"] = rec.scores_all[best]  # ties to the earliest sample
        rec.trace.append({"mpsc": {"pick": best, "scores": [round(s, 6) for s in scores], "prior": prior,
                                   "tests": tests, "specs": specs}})
