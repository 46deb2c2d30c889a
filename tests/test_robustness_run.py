"""--formats / --format / --permute-options / --fewshot through `evalkit run`, the
store, `evalkit compare`, the leaderboard and the site (dummy backend), plus one
small end-to-end run per capability on the packaged SmolLM2 (marked ``model``)."""
from __future__ import annotations

import json

import pytest

from evalkit.report.leaderboard import Cell, fmt_cell
from evalkit.store import Store

BBH = "bbh_direct_date_understanding"


def _run(cli, store, out, *extra):
    res = cli("run", "--model", "dummy", "--tasks", BBH, "--limit", "6", "--store", str(store), "--output", str(out),
              *extra)
    assert res.code == 0, res
    return json.loads((out / "results.json").read_text())


def test_formats_run_reports_the_spread_and_stores_every_variant(cli, tmp_path, data_dir):
    store = tmp_path / "s.db"
    res = _run(cli, store, tmp_path / "f", "--formats", "3", "--seed", "5")
    row = res["results"][BBH]
    scores = [row[f"format_{i}"] for i in range(3)]
    assert row["format_0"] == row["exact_match"]  # format 0 is the task's own prompt
    assert row["format_min"] == min(scores) and row["format_max"] == max(scores)
    assert row["format_spread"] == pytest.approx(max(scores) - min(scores))
    assert row["format_mean"] == pytest.approx(sum(scores) / 3)
    assert set(res["config"]["robustness"]["formats"]) == {"0", "1", "2"}
    s = Store(store)
    try:
        tasks = {t for (t,) in s.conn.execute("SELECT DISTINCT task FROM samples")}
        assert tasks == {BBH, f"{BBH}@fmt1", f"{BBH}@fmt2"}
        rec = json.loads(s.conn.execute("SELECT record FROM samples WHERE task=?", (f"{BBH}@fmt2",)).fetchone()[0])
        assert rec["extra"]["format"] == 2
    finally:
        s.close()
    # a rerun is served from the cache
    again = _run(cli, store, tmp_path / "f2", "--formats", "3", "--seed", "5")
    assert again["config"]["requests"]["sent"] == 0 and again["results"][BBH] == row


def test_compare_two_runs_that_differ_only_in_format_or_exemplars(cli, tmp_path, data_dir):
    store = tmp_path / "s.db"
    _run(cli, store, tmp_path / "a", "--format", "0")
    b = _run(cli, store, tmp_path / "b", "--format", "2")
    assert b["config"]["robustness"]["formats"]["2"]["describe"]
    res = cli("compare", str(tmp_path / "a"), str(tmp_path / "b"), "--store", str(store), "--format", "json")
    assert res.code == 0, res
    diff = json.loads(res.out)
    assert [t["task"] for t in diff["tasks"]] == [BBH] and diff["tasks"][0]["n"] == 6
    _run(cli, store, tmp_path / "fixed", "--fewshot", "fixed")
    rnd = _run(cli, store, tmp_path / "random", "--fewshot", "random")
    res = cli("compare", str(tmp_path / "fixed"), str(tmp_path / "random"), "--store", str(store), "--format", "json")
    assert res.code == 0, res
    assert json.loads(res.out)["tasks"][0]["n"] == 6
    line = json.loads((tmp_path / "random" / "samples" / f"{BBH}.jsonl").read_text().splitlines()[0])
    assert len(line["extra"]["exemplar_ids"]) == 3
    assert rnd["config"]["robustness"]["fewshot"]["method"] == "random"
    fixed_line = json.loads((tmp_path / "fixed" / "samples" / f"{BBH}.jsonl").read_text().splitlines()[0])
    assert fixed_line["extra"]["exemplar_ids"] == [f"bbh/cot-prompts/date_understanding.txt#{i}" for i in range(3)]


def test_permute_run_reports_order_metrics(cli, tmp_path, data_dir):
    res = _run(cli, tmp_path / "s.db", tmp_path / "p", "--permute-options", "3")
    row = res["results"][BBH]
    assert row["exact_match_order_0"] == row["exact_match"]
    assert row["exact_match_all_orders"] <= min(row[f"exact_match_order_{j}"] for j in range(3))
    assert 0 <= row["answer_consistency"] <= 1
    # every order's gold is one position; picks count only answers naming one option (the dummy also says "(G)")
    assert sum(v for k, v in row.items() if k.startswith("position_gold_")) == pytest.approx(1.0)
    assert 0 < sum(v for k, v in row.items() if k.startswith("position_pick_")) <= 1.0 + 1e-9
    assert f"{BBH}@order2" in res["results"]


@pytest.mark.parametrize("args,msg", [
    (["--formats", "1"], "--formats must be between 2 and 64"),
    (["--fewshot", "nearest"], "--fewshot must be one of"),
    (["--formats", "3", "--permute-options", "2"], "cannot be combined"),
    (["--tasks", "bbh_direct_navigate", "--permute-options", "2"], "is multiple-choice with option letters"),
    (["--tasks", "agieval_aqua_rat", "--fewshot", "knn"], "declares a few-shot pool"),
])
def test_bad_robustness_flags_are_one_line_errors(cli, tmp_path, data_dir, args, msg):
    base = ["run", "--model", "dummy", "--limit", "2", "--store", str(tmp_path / "s.db")]
    if "--tasks" not in args:
        base += ["--tasks", BBH]
    res = cli(*base, *args)
    assert res.code != 0 and msg in res.err and "Traceback" not in res.err


def test_leaderboard_cell_shows_the_format_range():
    cell = Cell(0.4, 0.05, 50, "r", "acc", True, (0.3, 0.55))
    assert fmt_cell(cell) == "40.0 ± 9.8 [30.0–55.0]†"


def test_site_has_the_robustness_page(cli, tmp_path, data_dir):
    store = tmp_path / "s.db"
    _run(cli, store, tmp_path / "f", "--formats", "3")
    _run(cli, store, tmp_path / "p", "--permute-options", "2")
    _run(cli, store, tmp_path / "r", "--fewshot", "random")
    res = cli("site", "build", "--store", str(store), "--out", str(tmp_path / "site"))
    assert res.code == 0, res
    page = (tmp_path / "site" / "robustness.html").read_text()
    assert "spread" in page and "position bias" in page and "few-shot selection" in page
    assert "@fmt" not in (tmp_path / "site" / "charts.html").read_text()


# -- the packaged model ---------------------------------------------------------

@pytest.mark.model
@pytest.mark.parametrize("args", [
    ["--tasks", BBH, "--formats", "2"],
    ["--tasks", "agieval_mc_aqua_rat", "--permute-options", "2"],
    ["--tasks", BBH, "--fewshot", "skill-knn", "--fewshot-pool", "8"],
])
def test_smollm2_end_to_end(cli, tmp_path, data_dir, args):
    out = tmp_path / "o"
    res = cli("run", "--model", "smollm2-135m", "--limit", "2", "--store", str(tmp_path / "s.db"), "--output", str(out),
              *args)
    assert res.code == 0, res
    results = json.loads((out / "results.json").read_text())
    row = results["results"][args[1]]
    assert "format_spread" in row or "answer_consistency" in row or results["config"]["robustness"]["fewshot"]
