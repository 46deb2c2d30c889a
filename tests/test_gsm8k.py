"""GSM8K tasks: gold replays score 100%, a wrong final number scores 0, and the
reference prompts are what the papers' formats say."""
from __future__ import annotations

import json

import pytest

from evalkit.benchmarks.gsm8k import cot_exemplar, extract_cot_number, gold_answer, numeric_equiv, to_number
from evalkit.core.types import Doc
from evalkit.run.runner import RunConfig, run


def gsm8k_test(data_dir):
    return [json.loads(x) for x in (data_dir / "gsm8k/test.jsonl").read_text().splitlines()]


def replay(tmp_path, data_dir, task, lines, limit=None):
    tmp_path.mkdir(exist_ok=True)
    f = tmp_path / "replay.jsonl"
    f.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return run(RunConfig(model=f"replay:{f}", tasks=[task], limit=limit, data_dir=str(data_dir),
                         store=tmp_path / "s.db"))


@pytest.mark.parametrize("text,want", [
    ("She has 3 + 4 = 7 apples. The answer is 7.", "7"),
    ("So it costs $1,250. The answer is $1,250.", "1250"),
    ("Step 1 gives 12.\n#### 18", "18"),
    ("The answer is 5. Then 6 more questions.", "5"),
    ("No final marker, 3 then 4.5", "4.5"),
    ("nothing numeric", None),
])
def test_extract(text, want):
    assert extract_cot_number(text) == want


@pytest.mark.parametrize("a,b,ok", [("18", "18", 1), (18.0, "18", 1), ("$1,250", "1250", 1), ("0.5", ".5", 1),
                                    ("17", "18", 0), (None, "18", 0), ("x", "18", 0), (True, "1", 0)])
def test_numeric_equiv(a, b, ok):
    assert numeric_equiv(a, b, Doc(0, {})).value == ok


def test_gold_answer_and_exemplars(data_dir):
    rec = json.loads((data_dir / "gsm8k/train.jsonl").read_text().splitlines()[0])
    assert gold_answer(rec["answer"]) == "72"
    ex = cot_exemplar(rec)
    assert "<<" not in ex["reasoning"] and ex["answer"] == "72" and "\n" not in ex["reasoning"]
    assert to_number("1,234.5") == 1234.5


def test_gold_replay_is_100_percent_and_a_wrong_final_number_is_0(tmp_path, data_dir):
    recs = gsm8k_test(data_dir)
    assert len(recs) == 1319
    lines = []
    for i, r in enumerate(recs):
        gold = gold_answer(r["answer"])
        # the worked solution itself ("#### N") for even docs, CoT style for odd ones
        out = r["answer"] if i % 2 == 0 else f"{r['answer'].split('####')[0].strip()} The answer is {gold}."
        # a live run stops at the task's "\n\n", and replay cuts as live does (two gold solutions hold one)
        out = out.replace("\n\n", "\n")
        lines.append({"task": "gsm8k", "doc_id": i, "output": out})
    res = replay(tmp_path, data_dir, "gsm8k", lines)
    assert res.results["gsm8k"]["exact_match"] == 1.0
    wrong = []
    for i, r in enumerate(recs[:50]):
        bad = float(gold_answer(r["answer"])) + 1
        out = (r["answer"].rsplit("####", 1)[0] + f"#### {bad:g}") if i % 2 == 0 else f"So. The answer is {bad:g}."
        wrong.append({"task": "gsm8k", "doc_id": i, "output": out})
    res = replay(tmp_path / "w", data_dir, "gsm8k", wrong, limit=50)
    assert res.results["gsm8k"]["exact_match"] == 0.0


def test_cot_prompt_is_8_train_shots(tmp_path, data_dir):
    from evalkit.spec.prompts import PromptBuilder
    from evalkit.spec.taskspec import load_catalog

    spec = load_catalog().tasks["gsm8k"]
    prompt = PromptBuilder(spec, data_dir).render(Doc(0, {"question": "How many?"}))
    assert prompt.count("\nA: ") == 8 and prompt.count("The answer is") == 8
    assert prompt.startswith("Q: Natalia sold clips") and prompt.endswith("Q: How many?\nA:")
