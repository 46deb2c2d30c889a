"""The adversarial extraction corpus (tests/fixtures/extraction_corpus.yaml): every
output, cut at its task's stop sequences as a live run (and replay) cuts it, gets
the expected score and extraction_status on the real doc of the real task."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from evalkit.evaluators.generate import DocScorer
from evalkit.models.base import truncate_at_stop
from evalkit.spec.loaders import load_docs
from evalkit.spec.taskspec import load_catalog

CORPUS = yaml.safe_load((Path(__file__).parent / "fixtures" / "extraction_corpus.yaml").read_text(encoding="utf-8"))


@lru_cache(maxsize=None)
def _task(name: str, data_dir: str):
    spec = load_catalog().tasks[name]
    docs = {d.id: d for d in load_docs(spec.dataset, Path(data_dir))}
    return spec, docs, DocScorer(spec, "first")


def judge(case: dict, data_dir: Path) -> tuple[float, str, object]:
    spec, docs, scorer = _task(case["task"], str(data_dir))
    doc = docs[case["doc_id"]]
    text = truncate_at_stop(case["output"], spec.gen_params(1234).stop)
    score, status = scorer.score_explained(text, scorer.target(doc), doc)
    return score.value, status, score.extracted


def test_corpus_is_large_and_covers_every_format():
    assert len(CORPUS) >= 150
    cat = load_catalog()
    formats = {cat.tasks[c["task"]].extractor_args.get("format") for c in CORPUS if c["task"].startswith("bbh")}
    assert formats >= {"mc", "bool", "yesno", "validity", "number", "dyck", "words"}
    assert {c["status"] for c in CORPUS} == {"answered", "no_answer", "hedged"}
    kinds = {c["task"] for c in CORPUS}
    for needed in ("agieval_logiqa_zh", "agieval_lsat_ar", "agieval_jec_qa_kd", "agieval_math",
                   "agieval_gaokao_mathcloze", "agieval_cot_logiqa_zh", "math"):
        assert needed in kinds
    assert all(c["reason"] for c in CORPUS)


@pytest.mark.parametrize("case", CORPUS, ids=[f"{i}-{c['task']}" for i, c in enumerate(CORPUS)])
def test_case_scores_as_stated(case, data_dir):
    value, status, extracted = judge(case, data_dir)
    assert (value, status) == (case["score"], case["status"]), (case["reason"], extracted)
