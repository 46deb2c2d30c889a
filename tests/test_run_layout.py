"""A run is read as it was run: its groups, pooling and main metrics are stored with it,
so compare, export, leaderboards and the site need no task YAML (and ignore a changed one)."""
from __future__ import annotations

import json

from evalkit.run.runner import RunConfig, run
from evalkit.store import open_reader

TASKS = ["bbh_navigate", "bbh_date_understanding"]


def test_runs_compare_and_export_as_they_were_run(cli, tmp_path, data_dir, monkeypatch):
    store = tmp_path / "s.db"
    ids = [run(RunConfig(model="dummy", tasks=TASKS, data_dir=str(data_dir), store=store, limit=10, seed=s)).run_id
           for s in (1, 2)]
    layout = open_reader(store).run(ids[0])["layout"]
    assert layout["group_of"] == {"bbh_navigate": "bbh", "bbh_date_understanding": "bbh"}
    assert layout["main_metric"]["bbh_navigate"] == "exact_match" and "bbh" in layout["leaves"]
    before = cli("compare", *ids, "--by", "group", "--format", "json", "--store", store)
    assert before.code == 0, before

    monkeypatch.setenv("EVALKIT_TASKS_DIR", str(tmp_path / "no-yaml-here"))  # today's YAML is gone
    (tmp_path / "no-yaml-here").mkdir()
    after = cli("compare", *ids, "--by", "group", "--format", "json", "--store", store)
    assert after.code == 0, after
    assert [t["task"] for t in json.loads(after.out)["tasks"]] == ["bbh"]
    assert after.out == before.out
    picked = cli("compare", *ids, "--tasks", "bbh", "--format", "json", "--store", store)
    assert picked.code == 0 and {t["task"] for t in json.loads(picked.out)["tasks"]} == set(TASKS)
    site = cli("site", "build", "--out", tmp_path / "site", "--store", store)
    assert site.code == 0, site
    charts = (tmp_path / "site" / "charts.html").read_text()
    assert "bbh_navigate · exact_match" in charts
