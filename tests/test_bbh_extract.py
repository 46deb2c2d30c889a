"""BBH answer extraction on the forms real models emit, for every answer format."""
from __future__ import annotations

import json

import pytest

from evalkit.benchmarks.bbh import extract_bbh, normalize_target
from evalkit.core.types import Doc

MC_INPUT = ("Today is Christmas Eve of 1937. What is the date tomorrow in MM/DD/YYYY?\nOptions:\n"
            "(A) 12/11/1937\n(B) 12/25/1937\n(C) 01/04/1938\n(D) 12/04/1937\n(E) 12/25/2006\n(F) 07/25/1937")
MOVIE_INPUT = ("Find a movie similar to Minority Report, Shrek:\nOptions:\n(A) Monsters\n(B) Inc\n"
               "(C) Children of the Night\n(D) The Incredible Shrinking Man")
mc = Doc(0, {"input": MC_INPUT})
movie = Doc(1, {"input": MOVIE_INPUT})
plain = Doc(2, {"input": "not ( True ) and ( True ) is"})

CASES = [
    # (output, doc, format, expected)
    ("Let's think. So the answer is (B).", mc, "mc", "(B)"),
    ("So the answer is B.", mc, "mc", "(B)"),
    ("So the answer is **(B)**.", mc, "mc", "(B)"),
    ("the answer is: (B) 12/25/1937", mc, "mc", "(B)"),
    ("So the answer is 12/25/1937.", mc, "mc", "(B)"),  # option text maps to its letter
    ("So the answer is option C.", mc, "mc", "(C)"),
    (" (D)\n\nQ: next question", mc, "mc", "(D)"),  # answer-only: first line
    ("<think>maybe (A)? the answer is (A)</think>So the answer is (E).", mc, "mc", "(E)"),
    ("I think the answer is (F). Let me double-check... yes, the answer is (C).", mc, "mc", "(C)"),  # last one wins
    ("So the answer is Monsters, Inc.", movie, "mc", "monsters, inc"),  # free text that is no option
    ("So the answer is Children of the Night.", movie, "mc", "(C)"),
    ("So the answer is False.", plain, "bool", "False"),
    ("the answer is **True**", plain, "bool", "True"),
    (" True", plain, "bool", "True"),
    ("So the answer is false", plain, "bool", "False"),
    ("So the answer is Yes.", plain, "yesno", "Yes"),
    ("So the answer is no.", plain, "yesno", "No"),
    (" No\n", plain, "yesno", "No"),
    ("So the answer is invalid.", plain, "validity", "invalid"),
    ("So the answer is valid.", plain, "validity", "valid"),
    ("So the answer is 24.", plain, "number", "24"),
    ("So the answer is -11520.", plain, "number", "-11520"),
    ("So the answer is 1,024.", plain, "number", "1024"),
    ("So the answer is seven.", plain, "number", "7"),
    ("So the answer is 8.0.", plain, "number", "8"),
    (" 15", plain, "number", "15"),
    ("So the answer is ] } ].", plain, "dyck", "] } ]"),
    ("the answer is: ) >", plain, "dyck", ") >"),
    (" ]})", plain, "dyck", "] } )"),
    ("So the answer is apple banana cherry.", plain, "words", "apple banana cherry"),
    ("So the answer is Apple, Banana, cherry.", plain, "words", "apple banana cherry"),
    (" it&t malton obstetric", plain, "words", "it&t malton obstetric"),
    ("", plain, "bool", None),
    ("I don't know.", mc, "mc", None),  # after reasoning, no "answer is": no answer
    ("So the answer is ( Z ).", plain, "dyck", "( Z )"),  # the whole sequence is compared, not its closers
]


@pytest.mark.parametrize("output,doc,fmt,expected", CASES)
def test_extraction(output, doc, fmt, expected):
    """Outputs starting with a space are answer-only continuations of "A:"."""
    answer_at = "start" if output.startswith(" ") else "end"
    assert extract_bbh(output, doc, format=fmt, answer_at=answer_at) == expected


@pytest.mark.parametrize("target,doc,fmt,expected", [
    ("(B)", mc, "mc", "(B)"),
    ("Monsters, Inc", movie, "mc", "monsters, inc"),
    ("yes", plain, "yesno", "Yes"),
    ("-50", plain, "number", "-50"),
    ("] ] >", plain, "dyck", "] ] >"),
])
def test_targets_normalise_like_answers(target, doc, fmt, expected):
    assert normalize_target(target, doc, format=fmt) == expected


def test_every_subtask_target_is_a_fixed_point(data_dir):
    """Each real reference answer, written as a model would, extracts to itself."""
    from evalkit.spec.taskspec import load_catalog

    cat = load_catalog()
    for name in cat.expand("bbh"):
        spec = cat.tasks[name]
        records = json.loads((data_dir / spec.dataset.path).read_text())["examples"]
        for i, rec in enumerate(records):
            doc = Doc(i, rec)
            want = normalize_target(rec["target"], doc, **spec.extractor_args)
            assert want, (name, i)
            assert extract_bbh(f"So the answer is {rec['target']}.", doc, **spec.extractor_args) == want, (name, i)
            assert extract_bbh(f" {rec['target']}\n", doc, format=spec.extractor_args["format"],
                               answer_at="start") == want, (name, i)
