"""--formats: every format of the grammar is meaning-preserving.

On real BBH and AGIEval data, in every sampled format: format 0 is the task's
own prompt byte for byte, every question and option text is still in the
prompt, and the gold answer written in the format's label style is read back
as the gold answer by the task's own extractor (a gold replay scores 1.0).
"""
from __future__ import annotations

import pytest

from evalkit.evaluators.generate import DocScorer
from evalkit.spec.formats import (
    LABELS,
    FormattedPrompts,
    PromptFormat,
    canonical_output,
    restyle_bbh,
    rewrite_skeleton,
    sample_formats,
    style_label,
)
from evalkit.spec.loaders import load_docs
from evalkit.spec.option_order import bbh_options
from evalkit.spec.prompts import PromptBuilder
from evalkit.spec.taskspec import FormatSlots, load_catalog

FORMATS = sample_formats(24, 7)
BBH = ["bbh_direct_date_understanding", "bbh_direct_snarks", "bbh_direct_ruin_names", "bbh_direct_navigate",
       "bbh_direct_object_counting"]
AGI = ["agieval_aqua_rat", "agieval_logiqa_en", "agieval_lsat_ar", "agieval_sat_math", "agieval_math"]


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _task(catalog, name, data_dir, n=6):
    spec = catalog.tasks[name]
    return spec, load_docs(spec.dataset, data_dir, n), PromptBuilder(spec, data_dir)


def test_draw_is_seeded_distinct_and_prefix_stable():
    assert FORMATS[0] == PromptFormat()
    assert len(set(FORMATS)) == len(FORMATS)
    assert sample_formats(5, 7) == FORMATS[:5]  # format i of a seed does not depend on N
    assert sample_formats(5, 8) != FORMATS[:5]
    assert {f.label for f in FORMATS} == set(LABELS)


def _gold_output(task: str, target: str, fmt: PromptFormat) -> str:
    """What a model that knows the answer writes after the cue, in this format's label style."""
    t = str(target).strip()
    if task.startswith("bbh") and len(t) == 3 and t.startswith("("):
        return " " + style_label(t[1], fmt.label)
    if task.startswith("agieval") and t.isalpha() and t.isupper():
        return " " + " ".join(style_label(c, fmt.label) for c in t)
    return " " + t


@pytest.mark.parametrize("name", BBH + AGI)
def test_every_format_keeps_the_question_and_the_gold_answer(catalog, data_dir, name):
    spec, docs, base = _task(catalog, name, data_dir)
    assert spec.formats is not None and spec.formats.enabled
    prompts = [FormattedPrompts(base, spec.formats, f) for f in FORMATS]
    for doc in docs:
        assert prompts[0].render(doc) == base.render(doc)
        rendered = {p.render(doc) for p in prompts}
        assert len(rendered) > len(FORMATS) // 2  # the formats really differ
        for fp in prompts:
            text = fp.render(doc)
            if name.startswith("bbh"):
                question = doc.fields["input"].rpartition("Options:")[0] or doc.fields["input"]
                assert question in text
                assert all(body in text for _, body in bbh_options(doc.fields["input"]))
            else:
                assert doc.fields["question"] in text
                assert all(o[3:] in text for o in doc.fields.get("options") or [])
            scorer = DocScorer(spec.model_copy(update={"name": "x"}), "first", fp.canonical)
            out = _gold_output(name, doc.fields[spec.target], fp.fmt)
            rec = scorer.record(doc, text, [out])
            assert rec.score == 1.0, (fp.fmt, out, rec.extracted, rec.target)


def test_exemplars_and_question_share_the_format(catalog, data_dir):
    spec, docs, base = _task(catalog, "bbh_direct_date_understanding", data_dir, 1)
    fmt = PromptFormat(casing=2, separator=" - ", field_spacing="\n", block_spacing="\n\n\n", label="[A]")
    text = FormattedPrompts(base, spec.formats, fmt).render(docs[0])
    assert text.count("QUESTION - ") == 4 and "Q: " not in text  # 3 exemplars + the question
    assert text.endswith("ANSWER -") and text.count("ANSWER - [") == 3
    assert "(A)" not in text and "[A] " in text


def test_field_labels_inside_a_record_are_never_rewritten(catalog, data_dir):
    """A record that itself contains "A:" keeps it: only the template's text changes."""
    spec, docs, base = _task(catalog, "bbh_direct_date_understanding", data_dir, 1)
    from evalkit.core.types import Doc

    doc = Doc(0, {**docs[0].fields, "input": "Note A: keep me.\nQ: me too\n" + docs[0].fields["input"]})
    text = FormattedPrompts(base, spec.formats, FORMATS[3]).render(doc)
    assert "Note A: keep me.\nQ: me too\n" in text


@pytest.mark.parametrize("label,output,canonical", [
    ("[A]", "[C] because", "(C) because"), ("a.", "c.", "(C)"), ("a.", "e.g. the answer is b.", "e.g. the answer is (B)"),
    ("A.", "C.", "C."), ("(A)", "(C)", "(C)"),
])
def test_answers_in_the_format_read_back(label, output, canonical):
    assert canonical_output(output, label) == canonical


def test_skeleton_rewrite_cue_and_stops():
    slots = FormatSlots(fields={"Q": "question", "A": "answer"}, options="bbh")
    fmt = PromptFormat(casing=1, separator=":\n", field_spacing=" ", block_spacing="\n", label="A)")
    assert rewrite_skeleton("D\n\nQ: x\nA: y\n\nQ: z\nA:", slots, fmt) == "D\nQuestion:\nx Answer:\ny\nQuestion:\nz Answer:\n"
    assert restyle_bbh("Which?\nOptions:\n(A) one\n(B) two", "a.") == "Which?\nOptions:\na. one\nb. two"


def test_chinese_subsets_have_no_formats(catalog):
    assert catalog.tasks["agieval_gaokao_biology"].formats.enabled is False
    assert catalog.tasks["agieval_lsat_ar"].formats.enabled is True
