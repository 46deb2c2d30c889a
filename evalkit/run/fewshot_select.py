"""Few-shot selection: which exemplars a question gets (``--fewshot``).

* ``fixed``: the task's own exemplars (the paper's), the same for every question.
* ``random``: k pool items drawn per question with the run's seed.
* ``knn``: the k pool items whose question embeds nearest to the test question
  (the packaged all-MiniLM-L6-v2 by default, any ``st:`` model otherwise);
  the nearest is placed last, next to the question (Liu et al. 2022).
* ``skill-knn`` (An et al. 2023, "Skill-Based Few-Shot Selection for In-Context
  Learning"): the model under test first writes a one-line description of the
  skill each question needs (few-shot prompted, ``prompts/skill_description.j2``),
  and the descriptions are embedded instead of the raw questions. The
  descriptions are generated in one batched call through the generation cache,
  so they are stored, reused and resumed like any other sample.

A pool never holds the test item: MATH-500 draws from the other 4,500 MATH test
problems (``exclude_path``), BBH and AGIEval from their own subtask minus the
item itself (leave-one-out; items with the very same question text are left out too).
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from evalkit.core.errors import ConfigError
from evalkit.core.types import Doc, GenParams, Request
from evalkit.spec.loaders import load_docs
from evalkit.spec.prompts import FewShot, PromptBuilder, Prompts, template
from evalkit.spec.taskspec import DatasetSpec, TaskSpec

METHODS = ("fixed", "random", "knn", "skill-knn")
SKILL_PARAMS = GenParams(max_tokens=40, temperature=0.0, stop=("\n",))


def _bbh(r: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return {"question": r["input"], "answer": str(r["target"])}, r["input"]


def _agieval(r: dict[str, Any]) -> tuple[dict[str, Any], str]:
    ex = {k: r.get(k) for k in ("passage", "question", "options", "label", "answer")}
    return ex, f"{r.get('passage') or ''} {r['question']}".strip()


def _math(r: dict[str, Any]) -> tuple[dict[str, Any], str]:
    return {"problem": r["problem"], "solution": r["solution"], "answer": r["answer"]}, r["problem"]


EXEMPLAR = {"bbh": _bbh, "agieval": _agieval, "math": _math}  # record -> (exemplar fields, text to embed)


@dataclass(frozen=True)
class PoolItem:
    id: str  # "<file>#<index in the file>"
    doc_id: int | None  # index in the task's own data file (leave-one-out), None for another file
    text: str  # what knn embeds
    example: dict[str, Any]


@dataclass
class Pool:
    items: list[PoolItem]
    description: str  # said in the results config

    def candidates(self, doc: Doc, query: str) -> list[int]:
        """Indices of the items a doc may draw: never the doc itself nor a copy of its question."""
        return [i for i, it in enumerate(self.items) if it.doc_id != doc.id and it.text != query]


def build_pool(spec: TaskSpec, root: Path | None, seed: int, size: int | None = None) -> Pool:
    ps = spec.fewshot_pool
    if ps is None:
        raise ConfigError(f"{spec.source_file}: task '{spec.name}' declares no fewshot_pool; --fewshot needs one")
    own = ps.path is None
    ds = spec.dataset if own else DatasetSpec(path=ps.path, format=spec.dataset.format)
    docs = load_docs(ds, root)
    excluded: set[Any] = set()
    if ps.exclude_path:
        assert ps.key, "exclude_path needs key"
        excluded = {d.fields.get(ps.key) for d in load_docs(DatasetSpec(path=ps.exclude_path, format=spec.dataset.format), root)}
    make = EXEMPLAR[ps.kind]
    items = []
    for d in docs:
        if ps.key and d.fields.get(ps.key) in excluded:
            continue
        ex, text = make(d.fields)
        if ps.max_chars and sum(len(str(v)) for v in ex.values() if v) > ps.max_chars:
            continue
        items.append(PoolItem(f"{ds.path}#{d.id}", d.id if own else None, text, ex | {"id": f"{ds.path}#{d.id}"}))
    n_all = len(items)
    if size is not None and size < len(items):
        rng = random.Random(f"pool:{seed}:{spec.name}")
        items = sorted(rng.sample(items, size), key=lambda it: docs_index(it.id))
    what = (f"{ds.path}, leave-one-out (the test item and copies of its question are never drawn)" if own else
            f"{ds.path} minus the records of {ps.exclude_path} (matched on {ps.key})")
    if ps.max_chars:
        what += f", items of at most {ps.max_chars} characters"
    what += f": {n_all} items" + (f", a seeded sample of {len(items)}" if len(items) < n_all else "")
    return Pool(items, what)


def docs_index(item_id: str) -> int:
    return int(item_id.rpartition("#")[2])


def doc_text(spec: TaskSpec, doc: Doc) -> str:
    return EXEMPLAR[spec.fewshot_pool.kind](doc.fields)[1]  # type: ignore[union-attr]


# -- selection -----------------------------------------------------------------

def select_random(pool: Pool, docs: list[Doc], texts: list[str], k: int, seed: int, task: str) -> dict[int, list[int]]:
    out = {}
    for d, t in zip(docs, texts):
        cands = pool.candidates(d, t)
        out[d.id] = random.Random(f"fewshot:{seed}:{task}:{d.id}").sample(cands, min(k, len(cands)))
    return out


def select_knn(pool: Pool, docs: list[Doc], query_vecs: np.ndarray, pool_vecs: np.ndarray, texts: list[str],
               k: int) -> dict[int, list[int]]:
    """Top-k by cosine (vectors are unit length), ties to the lower pool index; nearest last."""
    sims = query_vecs @ pool_vecs.T
    out = {}
    for row, (d, t) in enumerate(zip(docs, texts)):
        cands = np.array(pool.candidates(d, t), dtype=int)
        order = cands[np.lexsort((cands, -sims[row, cands]))][:k]
        out[d.id] = [int(i) for i in order[::-1]]
    return out


def embedder(name: str) -> Callable[[list[str]], np.ndarray]:
    """Unit vectors from a sentence-transformers model, cached on disk like the st: backend's."""
    from evalkit.models.aliases import cache_dir
    from evalkit.models.dense import Encoder, SentenceTransformerModel, packaged_model_path
    from evalkit.models.embedding import PACKAGED

    target = name[3:] if name.startswith("st:") else name
    path = packaged_model_path(PACKAGED[target]) if target in PACKAGED else target
    enc = Encoder(SentenceTransformerModel(path), cache_dir=cache_dir() / "embeddings", show_progress=False)
    return lambda texts: enc.encode(texts, desc="few-shot pool")


def skill_requests(task: str, texts: list[str], seed: int) -> list[Request]:
    """One request per question, asking the model for the skill it needs."""
    tpl = template("skill_description.j2")
    params = GenParams(SKILL_PARAMS.max_tokens, 0.0, 1.0, SKILL_PARAMS.stop, 1, seed)
    return [Request(f"{task}:skill", i, tpl.render(question=t), params) for i, t in enumerate(texts)]


def skill_line(text: str) -> str:
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip()]
    return lines[0] if lines else ""


# -- prompts -------------------------------------------------------------------

@dataclass
class Selection:
    """What one task's questions get: pool indices per doc id, and their skills when asked."""

    pool: Pool
    method: str
    k: int
    chosen: dict[int, list[int]]
    skills: dict[int, str] = field(default_factory=dict)  # doc id -> the model's skill line (skill-knn)

    def exemplar_ids(self, doc_id: int) -> list[str]:
        return [self.pool.items[i].id for i in self.chosen.get(doc_id, [])]


class SelectedPrompts:
    """A task's prompts with per-question exemplars; same interface as PromptBuilder."""

    def __init__(self, base: PromptBuilder, selection: Selection, prompt: str | None):
        self.base, self.selection = base, selection
        self.spec = base.spec
        self.template = template(prompt) if prompt else base.template
        self.description = base.fewshot.description if base.fewshot else ""
        self.hash = base.hash  # exemplars vary per question; the method and pool go in the results config
        self.fewshot = base.fewshot

    def render(self, doc: Doc, **extra: Any) -> str:
        examples = tuple(self.selection.pool.items[i].example for i in self.selection.chosen[doc.id])
        return self.template.render(doc=doc.fields, fewshot=FewShot(self.description, examples), task=self.spec, **extra)


def fixed_ids(spec: TaskSpec, base: Prompts) -> list[str]:
    """Ids of a task's fixed exemplars: its few-shot file's, or its template's inline ones."""
    if base.fewshot is not None and spec.fewshot is not None:
        return [f"{spec.fewshot.path or spec.fewshot.source}#{i}" for i in range(len(base.fewshot.examples))]
    return [f"prompts/{spec.prompt}#inline"]


def default_k(spec: TaskSpec, base: Prompts) -> int:
    if spec.fewshot_pool and spec.fewshot_pool.k:
        return spec.fewshot_pool.k
    if base.fewshot is not None and base.fewshot.examples:
        return len(base.fewshot.examples)
    raise ConfigError(f"{spec.source_file}: task '{spec.name}' has no exemplars to count; set fewshot_pool.k")
