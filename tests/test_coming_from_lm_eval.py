"""docs/coming-from-lm-eval.md: every row names a test, and every named test exists."""
from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DOC = REPO / "docs" / "coming-from-lm-eval.md"


def test_every_row_names_an_existing_test():
    rows = [line for line in DOC.read_text().splitlines() if line.startswith("| ") and not line.startswith("| lm-eval")
            and not line.startswith("| evalkit |") and not line.startswith("|---")]
    assert len(rows) >= 25
    for row in rows:
        refs = re.findall(r"`(tests/[\w/]+\.py)::(\w+)`", row)
        assert refs, f"row without a test: {row}"
        for path, name in refs:
            assert re.search(rf"^def {name}\(", (REPO / path).read_text(), re.M), f"{path}::{name} is missing"


def test_the_shown_error_is_what_the_cli_prints(cli, data_dir, store_path):
    shown = re.search(r"^\$ evalkit (.*)\n(error: .*)$", DOC.read_text(), re.M)
    res = cli(*shown.group(1).split(), "--store", store_path)
    assert res.code != 0 and res.err.strip() == shown.group(2)
