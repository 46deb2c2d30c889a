"""AGIEval: answer extraction, references, prompts and the task catalog."""
from __future__ import annotations

import pytest

from evalkit.benchmarks.agieval import extract_choice, extract_cloze, gold_letters
from evalkit.core.errors import ScoringError
from evalkit.core.types import Doc
from evalkit.spec.loaders import load_docs
from evalkit.spec.prompts import PromptBuilder, load_fewshot
from evalkit.spec.taskspec import load_catalog

FOUR = Doc(0, {"options": ["(A)w", "(B)x", "(C)y", "(D)z"]})
FIVE = Doc(0, {"options": ["(A)v", "(B)w", "(C)x", "(D)y", "(E)z"]})


@pytest.mark.parametrize("text,expected", [
    ("(B)", "B"),
    (" (B) 5(√3 + 1)", "B"),
    ("B.", "B"),
    ("B", "B"),
    ("答案是B", "B"),
    ("答案：C", "C"),
    ("从A到D, 我们应选择B", "B"),
    ("因此选D。", "D"),
    ("The answer is B", "B"),
    ("A: The answer is B", "B"),
    ("The answer is therefore C", "C"),
    ("The answer is **(C)**", "C"),
    ("**B**", "B"),
    ("`D`", "D"),
    ("\\boxed{\\text{(C)}}", "C"),
    ("【A】", "A"),
    ("<think>A looks right, but no.</think>The answer is B", "B"),
    ("<think>the answer is A", None),  # unfinished thinking states no final answer
    ("The answer is B. A is wrong because", "B"),
    ("The answer is (A) and (C).", "AC"),
    ("Answer: B, C and D", "BCD"),
    ("答案是A、C", "AC"),
    ("AD", "AD"),
    ("The answer is B or C", None),  # alternatives are a hedge: no answer (docs/extraction.md)
    (" (E)\nThe answer is (E)\nThe answer is (", None),  # E is not an option of a 4-option item
    ("I don't know", None),
    ("", None),
])
def test_extract_choice(text, expected):
    assert extract_choice(text, FOUR) == expected


def test_extract_choice_uses_the_items_own_letters():
    assert extract_choice(" (E)\nThe answer is (E)\nThe answer is (", FIVE) == "E"


@pytest.mark.parametrize("text,answer_at,expected", [
    ("Let me see. A is wrong.\nSo the answer is (C).\nDone.", "end", "C"),
    ("Option A fails.\nThe answer is therefore AD", "end", "AD"),
    ("Step one.\nStep two.\n C", "end", "C"),
    ("Step one.\nThe answer is (", "end", None),  # cut off by max_tokens
    (" (B)\nThe answer is (", "start", "B"),
])
def test_extract_choice_after_reasoning(text, answer_at, expected):
    assert extract_choice(text, FIVE, answer_at=answer_at) == expected


@pytest.mark.parametrize("label,expected", [
    ("B", "B"), ("AD", "AD"), ("A B D", "ABD"), (["C", "A"], "AC"), (["A", "C", "D", "。"], "ACD"),
])
def test_gold_letters(label, expected):
    assert gold_letters(label) == expected


@pytest.mark.parametrize("label", [[], None, ""])
def test_a_record_without_gold_is_a_scoring_error(label):
    with pytest.raises(ScoringError, match="no gold answer"):
        gold_letters(label)


@pytest.mark.parametrize("text,answer_at,expected", [
    (" $\\frac{1}{2}$.", "start", "\\frac{1}{2}"),
    (" 5\nQ: next", "start", "5"),
    ("The answer is therefore 5", "start", "5"),
    ("答案是 $5$;$10$", "start", "$5$;$10$"),
    ("so it is \\boxed{7}.", "start", "7"),
    ("Step 1.\nTherefore, the answer is 12.", "end", "12"),
    ("", "start", None),
])
def test_extract_cloze(text, answer_at, expected):
    assert extract_cloze(text, Doc(0, {}), answer_at=answer_at) == expected


# ----------------------------------------------------------------- catalog

SUBSETS = ["aqua_rat", "gaokao_biology", "gaokao_chemistry", "gaokao_chinese", "gaokao_english", "gaokao_geography",
           "gaokao_history", "gaokao_mathcloze", "gaokao_mathqa", "gaokao_physics", "jec_qa_ca", "jec_qa_kd",
           "logiqa_en", "logiqa_zh", "lsat_ar", "lsat_lr", "lsat_rc", "math", "sat_en", "sat_en_without_passage",
           "sat_math"]


@pytest.mark.parametrize("group,prefix", [
    ("agieval", "agieval_"), ("agieval_cot", "agieval_cot_"), ("agieval_fewshot", "agieval_fewshot_"),
    ("agieval_fewshot_cot", "agieval_fewshot_cot_"),
])
def test_every_setting_has_all_21_subsets_split_en_zh(group, prefix):
    cat = load_catalog()
    assert cat.expand(group) == [prefix + s for s in SUBSETS]
    en, zh = cat.expand(group + "_en"), cat.expand(group + "_zh")
    assert len(en) == 9 and len(zh) == 12 and sorted(en + zh) == sorted(cat.expand(group))
    assert prefix + "math" in en and prefix + "gaokao_english" in zh


def test_mc_group_has_the_19_multiple_choice_subsets():
    cat = load_catalog()
    names = cat.expand("agieval_mc")
    assert names == [f"agieval_mc_{s}" for s in SUBSETS if s not in ("math", "gaokao_mathcloze")]
    assert all(cat.tasks[n].output_type == "multiple_choice" for n in names)
    assert len(cat.expand("agieval_mc_en")) == 8 and len(cat.expand("agieval_mc_zh")) == 11


def test_doc_ids_are_file_indices_and_counts_match(data_dir):
    cat = load_catalog()
    total = 0
    for name in cat.expand("agieval"):
        docs = load_docs(cat.tasks[name].dataset, data_dir)
        assert [d.id for d in docs] == list(range(len(docs)))
        total += len(docs)
    assert total == 8269  # jec-qa files end without a newline: their last record still counts


# ----------------------------------------------------------------- prompts

def _prompt(name: str, data_dir, doc_index: int = 0) -> str:
    spec = load_catalog().tasks[name]
    return PromptBuilder(spec, data_dir).render(load_docs(spec.dataset, data_dir, doc_index + 1)[doc_index])


@pytest.mark.parametrize("name,start,end", [
    ("agieval_lsat_ar", "Of the eight students", "\nA: Among A through E, the answer is"),
    ("agieval_logiqa_zh", "某乡镇进行新区规划", "\n答案：从A到D, 我们应选择"),
    ("agieval_gaokao_english", "WATCH CONTROL", "\nA: Among A through D, the answer is"),  # English wording, as upstream
    ("agieval_math", "Q: Let $\\lambda$", "\nA: The answer is"),
    ("agieval_gaokao_mathcloze", "问题：已知", "\n答案："),
    ("agieval_cot_lsat_ar", "Of the eight students", "\nLet's think step by step."),
    ("agieval_cot_logiqa_zh", "某乡镇", "\n从A到D, 我们应选择什么？让我们逐步思考："),
])
def test_zero_shot_prompts_use_the_papers_wording(data_dir, name, start, end):
    p = _prompt(name, data_dir)
    assert p.startswith(start) and p.endswith(end)
    if not name.endswith(("math", "mathcloze")):
        assert "Answer Choices: (A)" in p or "选项：(A)" in p


def test_fewshot_prompt_numbers_the_exemplars_then_the_question(data_dir):
    p = _prompt("agieval_fewshot_gaokao_physics", data_dir)
    assert p.startswith("以下是考试中各个问题的答案。\n问题 1.   ")
    assert p.count("答案是 ") == 5 and "答案是 BC\n\n" in p  # a multi-answer exemplar, written as letters
    assert "\n\n问题 6.   " in p and p.endswith("\n") and "的解析" not in p


def test_fewshot_cot_prompt_has_the_explanations(data_dir):
    p = _prompt("agieval_fewshot_cot_lsat_ar", data_dir)
    assert p.startswith("Here are the answers for the problems in the exam.\nProblem 1.   ")
    assert p.count("Explanation for Problem") == 3 and p.count("The answer is therefore ") == 3
    assert "\n\nProblem 4.   " in p and "Choose from the following options:    (A)" in p


def test_fewshot_source_reads_the_csv(data_dir):
    spec = load_catalog().tasks["agieval_fewshot_sat_en_without_passage"].fewshot
    shots = load_fewshot(spec, data_dir)
    assert len(shots.examples) == 3  # sat-en's column, passages dropped
    assert all(ex["passage"] == "" and ex["label"] in "ABCD" for ex in shots.examples)
    math = load_fewshot(load_catalog().tasks["agieval_fewshot_math"].fewshot, data_dir)
    assert [ex["answer"] for ex in math.examples][:1] == ["[2,5)"] and len(math.examples) == 4
