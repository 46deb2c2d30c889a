"""bench/run.py rewrites only the blocks of the benches it ran, so `--only NAME` keeps
the other benches' measurements (and their dates) in bench/README.md."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.fixture(scope="module")
def run_py():
    sys.path.insert(0, str(BENCH))
    try:
        import run
        yield run
    finally:
        sys.path.remove(str(BENCH))


def test_a_bench_rerun_alone_replaces_its_block_and_keeps_the_others(run_py):
    mark = run_py.MARK
    text = f"# head\n{mark}\n<!-- bench:bbh -->\nold bbh\n<!-- /bench:bbh -->\n<!-- bench:code -->\nold code\n" \
           f"<!-- /bench:code -->\n{mark}\ntail\n"
    out = run_py.merge_sections(text, {"code": "new code\n", "store": "new store\n"})
    assert out.startswith("# head\n") and out.endswith(f"{mark}\ntail\n")
    assert "old bbh" in out and "old code" not in out and "new code" in out
    assert out.index("bench:bbh") < out.index("bench:code") < out.index("bench:store")  # BENCHES order
    assert run_py.merge_sections(out, {}) == out  # idempotent


def test_the_committed_readme_has_one_block_per_bench(run_py):
    text = (BENCH / "README.md").read_text()
    body = text.split(run_py.MARK)[1]
    names = [n for n in run_py.BENCHES if f"<!-- bench:{n} -->" in body]
    assert names and all(body.count(f"<!-- bench:{n} -->") == 1 for n in names)
    assert run_py.merge_sections(text, {}) == text
