"""How much of a score is the prompt: ``--formats``, ``--format``, ``--permute-options``, ``--fewshot``.

Each variant of a task is one more TaskRun, named ``<task>@fmt<i>`` or
``<task>@order<j>`` (variant 0 keeps the task's own name, so the plain score
stays where it always was). Variants go through the task's evaluator in the same
batch as every other task, so they are cached, resumed and stored like any other
sample. After scoring, the variants' scores are summarised onto the task's
results row: ``format_<i>``, ``format_min``/``format_max``/``format_spread``,
``format_mean`` (with stderr over docs), or ``<metric>_order_<j>``,
``<metric>_all_orders``, ``answer_consistency``, ``position_pick_X``/``position_gold_X``.

runner.run calls: ``check`` (before the model loads), ``expand`` (with the
evaluation context), ``annotate`` (records), ``summarize`` (results).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from evalkit.core.errors import ConfigError
from evalkit.core.types import Request, SampleRecord
from evalkit.run import fewshot_select as fs
from evalkit.run.context import EvalContext, TaskRun
from evalkit.scoring.metrics import summarize as mean_se
from evalkit.spec.formats import FormattedPrompts, sample_formats
from evalkit.spec.option_order import n_options, order_metrics, orders, permute_doc

log = logging.getLogger("evalkit")

MetricRow = tuple[str, str, float, float, int]


@dataclass
class Plan:
    """The robustness options of one run and what they did."""

    formats: int | None = None  # --formats N
    format_index: int | None = None  # --format I: run only format I of the seed's draw
    permute: int | None = None  # --permute-options K
    fewshot: str | None = None  # --fewshot METHOD
    pool_size: int | None = None  # --fewshot-pool N: a seeded sample of each pool
    embedder: str = "minilm"  # --fewshot-embedder
    seed: int = 1234
    variants: dict[str, list[str]] = field(default_factory=dict)  # task -> its variant task names, in order
    perms: dict[str, dict[int, list[tuple[int, ...]]]] = field(default_factory=dict)
    selections: dict[str, fs.Selection] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)  # goes to the results config

    @classmethod
    def from_options(cls, options: dict[str, Any], seed: int) -> "Plan":
        return cls(options.get("formats"), options.get("format"), options.get("permute_options"),
                   options.get("fewshot"), options.get("fewshot_pool"), options.get("fewshot_embedder") or "minilm",
                   seed)

    @property
    def active(self) -> bool:
        return any(x is not None for x in (self.formats, self.format_index, self.permute, self.fewshot))

    # -- before the model loads ----------------------------------------------

    def check(self, runs: list[TaskRun]) -> None:
        chosen = [n for n, v in (("--formats", self.formats), ("--format", self.format_index),
                                 ("--permute-options", self.permute)) if v is not None]
        if len(chosen) > 1:
            raise ConfigError(f"{' and '.join(chosen)} cannot be combined; run one kind of variant per run")
        if self.formats is not None and not 2 <= self.formats <= 64:
            raise ConfigError(f"--formats must be between 2 and 64, got {self.formats}")
        if self.format_index is not None and not 0 <= self.format_index < 64:
            raise ConfigError(f"--format must be between 0 and 63, got {self.format_index}")
        if self.permute is not None and not 2 <= self.permute <= 24:
            raise ConfigError(f"--permute-options must be between 2 and 24, got {self.permute}")
        if self.fewshot is not None and self.fewshot not in fs.METHODS:
            raise ConfigError(f"--fewshot must be one of {', '.join(fs.METHODS)}, got '{self.fewshot}'")
        if self.pool_size is not None and self.pool_size < 1:
            raise ConfigError(f"--fewshot-pool must be at least 1, got {self.pool_size}")
        self._require(runs, self.formats is not None or self.format_index is not None, _has_formats,
                      "--formats", "declares format slots (`formats:` in its YAML)")
        self._require(runs, self.permute is not None, _permutable, "--permute-options",
                      "is multiple-choice with option letters")
        self._require(runs, self.fewshot not in (None, "fixed"), _has_pool, f"--fewshot {self.fewshot}",
                      "declares a few-shot pool (`fewshot_pool:` in its YAML)")

    @staticmethod
    def _require(runs: list[TaskRun], on: bool, ok: Any, flag: str, what: str) -> None:
        if not on:
            return
        good = [t.spec.name for t in runs if ok(t)]
        if not good:
            names = ", ".join(t.spec.name for t in runs[:4])
            raise ConfigError(f"{flag}: none of the tasks ({names}) {what}")

    # -- with the model ----------------------------------------------------------

    def expand(self, runs: list[TaskRun], ctx: EvalContext) -> list[TaskRun]:
        if self.fewshot not in (None, "fixed"):
            self._select(runs, ctx)
        elif self.fewshot == "fixed":
            self.record["fewshot"] = {"method": "fixed", "pool": "the task's own exemplars"}
        out: list[TaskRun] = []
        for t in runs:
            out.append(t)
            if (self.formats or self.format_index is not None) and _has_formats(t):
                out[-1:] = self._formats(t)
            elif self.permute and _permutable(t):
                out[-1:] = self._orders(t)
        return out

    def _formats(self, t: TaskRun) -> list[TaskRun]:
        assert t.spec.formats is not None and t.prompts is not None
        n = self.formats or (self.format_index or 0) + 1
        fmts = sample_formats(n, self.seed)
        self.record.setdefault("formats", {i: f.to_json() | {"describe": f.describe()} for i, f in enumerate(fmts)})
        picked = list(enumerate(fmts)) if self.format_index is None else [(self.format_index, fmts[-1])]
        runs = []
        for i, f in picked:
            fp = FormattedPrompts(t.prompts, t.spec.formats, f)
            name = t.spec.name if (i == 0 or self.format_index is not None) else f"{t.spec.name}@fmt{i}"
            gen = t.spec.generation.model_copy(update={"stop": fp.stops(t.spec.generation.stop)})
            runs.append(TaskRun(t.spec.model_copy(update={"name": name, "generation": gen}), t.docs, fp))
        if self.format_index is None:
            self.variants[t.spec.name] = [r.spec.name for r in runs]
        return runs

    def _orders(self, t: TaskRun) -> list[TaskRun]:
        assert self.permute is not None  # only called with --permute
        kind = _option_kind(t)
        perms = {d.id: orders(n, self.permute, self.seed, d.id) for d in t.docs
                 if (n := n_options(d, kind, t.spec.target)) >= 2}
        self.perms[t.spec.name] = perms
        runs = []
        for j in range(self.permute or 0):
            docs = [permute_doc(d, kind, t.spec.target, perms[d.id][j]) if d.id in perms else d for d in t.docs]
            name = t.spec.name if j == 0 else f"{t.spec.name}@order{j}"
            runs.append(TaskRun(t.spec.model_copy(update={"name": name}), docs, t.prompts))
        self.variants[t.spec.name] = [r.spec.name for r in runs]
        self.record["permute_options"] = {"k": self.permute, "rule": "cyclic shifts when K <= #options, "
                                          "else the identity and K-1 permutations seeded by (seed, doc_id)"}
        return runs

    def _select(self, runs: list[TaskRun], ctx: EvalContext) -> None:
        tasks = [t for t in runs if _has_pool(t)]
        prepared = []
        for t in tasks:
            assert t.prompts is not None
            pool = fs.build_pool(t.spec, ctx.data_root, self.seed, self.pool_size)
            texts = [fs.doc_text(t.spec, d) for d in t.docs]
            prepared.append((t, pool, texts, fs.default_k(t.spec, t.prompts)))
        skills: dict[str, tuple[list[str], list[str]]] = {}
        if self.fewshot == "skill-knn":  # one batched call for every task's questions and pools
            reqs: list[Request] = []
            spans: list[tuple[int, int, int]] = []
            for t, pool, texts, _ in prepared:
                spans.append((len(reqs), len(texts), len(pool.items)))
                reqs += fs.skill_requests(t.spec.name, texts + [it.text for it in pool.items], self.seed)
            gens = ctx.generate(reqs, label="skill descriptions")
            for (t, *_), (start, nq, npool) in zip(prepared, spans):
                lines = [fs.skill_line(g.texts[0]) for g in gens[start:start + nq + npool]]
                skills[t.spec.name] = (lines[:nq], lines[nq:])
        embed = fs.embedder(self.embedder) if self.fewshot in ("knn", "skill-knn") else None
        for t, pool, texts, k in prepared:
            if self.fewshot == "random":
                chosen = fs.select_random(pool, t.docs, texts, k, self.seed, t.spec.name)
            else:
                assert embed is not None
                q, p = skills[t.spec.name] if self.fewshot == "skill-knn" else (texts, [it.text for it in pool.items])
                chosen = fs.select_knn(pool, t.docs, embed(q), embed(p), texts, k)
            sel = fs.Selection(pool, self.fewshot or "", k, chosen,
                               dict(zip([d.id for d in t.docs], skills[t.spec.name][0])) if skills else {})
            self.selections[t.spec.name] = sel
            t.prompts = fs.SelectedPrompts(t.prompts, sel, t.spec.fewshot_pool.prompt)  # type: ignore[union-attr,arg-type]
        self.record["fewshot"] = {"method": self.fewshot, "k": {t.spec.name: k for t, _, _, k in prepared},
                                  "embedder": self.embedder if embed else None, "pool_size": self.pool_size,
                                  "pools": {t.spec.name: pool.description for t, pool, _, _ in prepared}}

    # -- after scoring ---------------------------------------------------------------

    def annotate(self, runs: list[TaskRun], records: dict[str, list[SampleRecord]]) -> None:
        """Each sample says which variant it is: its format, option order or exemplars."""
        by_variant = {v: (base, i) for base, vs in self.variants.items() for i, v in enumerate(vs)}
        for name, recs in records.items():
            base, i = by_variant.get(name, (name, 0))
            for r in recs:
                if self.formats or self.format_index is not None:
                    if base in self.variants or self.format_index is not None:
                        r.extra["format"] = i if self.format_index is None else self.format_index
                if base in self.perms and r.doc_id in self.perms[base]:
                    r.extra["option_order"] = list(self.perms[base][r.doc_id][i])
                sel = self.selections.get(name)
                if sel is not None:
                    r.extra["exemplar_ids"] = sel.exemplar_ids(r.doc_id)
                    if r.doc_id in sel.skills:
                        r.extra["skill"] = sel.skills[r.doc_id]
        if self.fewshot == "fixed":
            for t in runs:
                if t.prompts is not None and t.spec.name in records:
                    ids = fs.fixed_ids(t.spec, t.prompts)
                    for r in records[t.spec.name]:
                        r.extra["exemplar_ids"] = ids

    def summarize(self, results: dict[str, Any], records: dict[str, list[SampleRecord]],
                  groups: dict[str, list[str]], metric_of: dict[str, str]) -> list[MetricRow]:
        rows: list[MetricRow] = []
        for base, names in self.variants.items():
            metric = metric_of[base]
            per = [{r.doc_id: r for r in records.get(n, [])} for n in names]
            if self.formats:
                extra = format_metrics(per, metric)
            else:
                extra = order_metrics(per, self.perms[base], metric)
            results.setdefault(base, {}).update(extra)
            n = len(per[0])
            rows += [(base, k, v, extra.get(f"{k}_stderr", float("nan")), n) for k, v in extra.items()
                     if isinstance(v, float) and not k.endswith("_stderr")]
        if self.formats:
            rows += group_format_spread(results, groups, self.formats)
        for name in [v for vs in self.variants.values() for v in vs[1:]]:
            results.get(name, {}).setdefault("variant_of", next(b for b, vs in self.variants.items() if name in vs))
        return rows


def format_metrics(per: list[dict[int, SampleRecord]], metric: str) -> dict[str, Any]:
    docs = [d for d in per[0] if all(d in p for p in per)]
    if not docs:
        return {}
    scores = [sum(p[d].score for d in docs) / len(docs) for p in per]
    mean, se = mean_se([sum(p[d].score for p in per) / len(per) for d in docs])
    out: dict[str, Any] = {f"format_{i}": s for i, s in enumerate(scores)}
    out |= {"format_min": min(scores), "format_max": max(scores), "format_spread": max(scores) - min(scores),
            "format_mean": mean, "format_mean_stderr": se, "format_best": scores.index(max(scores)),
            "format_worst": scores.index(min(scores))}
    return out


def group_format_spread(results: dict[str, Any], groups: dict[str, list[str]], n: int) -> list[MetricRow]:
    """A group's score in format i is the macro mean of its members' format_i."""
    rows: list[MetricRow] = []
    for g, members in groups.items():
        have = [m for m in members if "format_0" in results.get(m, {})]
        if not have or g not in results:
            continue
        scores = [sum(results[m][f"format_{i}"] for m in have) / len(have) for i in range(n)]
        extra = {f"format_{i}": s for i, s in enumerate(scores)}
        extra |= {"format_min": min(scores), "format_max": max(scores), "format_spread": max(scores) - min(scores),
                  "format_mean": sum(scores) / n}
        results[g].update(extra)
        rows += [(g, k, v, float("nan"), int(results[g].get("n", 0))) for k, v in extra.items()]
    return rows


def _has_formats(t: TaskRun) -> bool:
    f = t.spec.formats
    # generate only: in log-likelihood mode the scored continuations would keep the data's labels
    return f is not None and f.enabled and t.prompts is not None and t.spec.output_type == "generate"


def _option_kind(t: TaskRun) -> str:
    return "bbh" if t.spec.extractor == "bbh" else "agieval"


def _permutable(t: TaskRun) -> bool:
    s = t.spec
    if s.output_type == "multiple_choice":
        ok = s.options.get("choices", "choices") == "options"
    else:
        ok = (s.extractor == "bbh" and s.extractor_args.get("format", "mc") == "mc") or s.extractor == "agieval_choice"
    return ok and any(n_options(d, _option_kind(t), s.target) >= 2 for d in t.docs[:20])


def _has_pool(t: TaskRun) -> bool:
    return t.spec.fewshot_pool is not None and t.prompts is not None
