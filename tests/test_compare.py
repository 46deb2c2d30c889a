"""`evalkit compare` on real stored runs: BBH gold replay vs a perturbed replay."""
from __future__ import annotations

import json

import pytest
from replay_runs import gold_targets, pick_wrong, replay_run, write_replay


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
    tmp = tmp_path_factory.mktemp("compare")
    store = tmp / "s.db"
    targets = gold_targets(data_dir)
    wrong = pick_wrong({k: v for k, v in targets.items() if k[0] == "bbh_navigate"}, 0.2, seed=1)
    gold = replay_run(write_replay(tmp / "gold.jsonl", targets), store, data_dir, output=tmp / "gold")
    pert = replay_run(write_replay(tmp / "pert.jsonl", targets, wrong), store, data_dir, output=tmp / "pert")
    short = replay_run(tmp / "gold.jsonl", store, data_dir, limit=100)
    return {"store": store, "gold": gold, "pert": pert, "short": short, "wrong": wrong, "tmp": tmp}


def _one_line_error(res, *needles):
    assert res.code not in (0, 1), res
    lines = [ln for ln in res.err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in res.err, res.err
    for n in needles:
        assert n in lines[0], lines[0]


def test_regression_fails_the_gate(cli, runs):
    res = cli("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--fail-on", "regression")
    assert res.code == 1, res
    nav = [ln for ln in res.out.splitlines() if ln.startswith("bbh_navigate ")][0]
    assert "REGRESSION" in nav and "mcnemar" in nav
    assert "verdict: REGRESSION in 1 task(s): bbh_navigate" in res.out
    for t in ("bbh_boolean_expressions", "bbh_date_understanding"):
        row = [ln for ln in res.out.splitlines() if ln.startswith(t + " ")][0]
        assert "+0.00" in row and "1.0000" in row


def test_without_fail_on_the_exit_code_is_zero(cli, runs):
    assert cli("compare", runs["gold"], runs["pert"], "--store", runs["store"]).code == 0


def test_json_lists_every_flip_and_matches_the_perturbation(cli, runs):
    res = cli("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--format", "json")
    data = json.loads(res.out)
    nav = next(t for t in data["tasks"] if t["task"] == "bbh_navigate")
    assert sorted(nav["worse"]) == sorted(d for _, d in runs["wrong"]) and nav["better"] == []
    assert nav["n"] == 250 and nav["test"] == "mcnemar" and nav["verdict"] == "regression"
    assert nav["delta"] == pytest.approx(-len(runs["wrong"]) / 250)
    assert data["regressions"] == ["bbh_navigate"]
    holm = sorted(t["p_value"] for t in data["tasks"])
    assert nav["p_holm"] == pytest.approx(min(1.0, 3 * holm[0]))


def test_text_truncates_flips(cli, runs):
    res = cli("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--max-flips", "3")
    line = [ln for ln in res.out.splitlines() if ln.strip().startswith("bbh_navigate: worse")][0]
    assert f"(+{len(runs['wrong']) - 3} more)" in line


def test_markdown_is_a_pr_comment(cli, runs):
    res = cli("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--format", "markdown")
    assert res.out.startswith("### evalkit compare: :x: regression in 1 task(s)")
    assert "| bbh_navigate | 250 |" in res.out and "**regression**" in res.out
    assert "<details><summary>Flipped samples" in res.out


def test_results_dirs_and_latest_model(cli, runs):
    tmp = runs["tmp"]
    res = cli("compare", tmp / "gold", tmp / "pert", "--format", "json")
    assert json.loads(res.out)["regressions"] == ["bbh_navigate"]
    res = cli("compare", tmp / "gold", f"latest:replay:{tmp / 'pert.jsonl'}", "--store", runs["store"], "--format", "json")
    assert json.loads(res.out)["candidate"]["run_id"] == runs["pert"]


def test_unpaired_docs_are_counted(cli, runs):
    res = cli("compare", runs["short"], runs["gold"], "--store", runs["store"], "--format", "json")
    for t in json.loads(res.out)["tasks"]:
        assert t["n"] == 100 and t["only_baseline"] == 0 and t["only_candidate"] == 150 and t["p_value"] == 1.0
    text = cli("compare", runs["short"], runs["gold"], "--store", runs["store"]).out
    assert "bbh_navigate: 0 only in baseline, 150 only in candidate" in text


def test_identical_runs(cli, runs):
    res = cli("compare", runs["gold"], runs["gold"], "--store", runs["store"], "--fail-on", "regression")
    assert res.code == 0 and "verdict: no significant regression" in res.out


def test_min_delta_and_task_filter(cli, runs):
    args = ("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--fail-on", "regression")
    drop = len(runs["wrong"]) / 250 * 100
    assert cli(*args, "--min-delta", str(drop + 1)).code == 0
    assert cli(*args, "--min-delta", str(drop - 1)).code == 1
    assert cli(*args, "--tasks", "bbh_boolean_expressions").code == 0


def test_errors_are_one_line(cli, runs, tmp_path, data_dir):
    store = runs["store"]
    _one_line_error(cli("compare", "no-such-run", runs["gold"], "--store", store), "'no-such-run' is neither a run id")
    _one_line_error(cli("compare", tmp_path / "missing", runs["gold"], "--store", store), "does not exist")
    _one_line_error(cli("compare", "latest:nobody", runs["gold"], "--store", store), "no complete run of model 'nobody'")
    _one_line_error(cli("compare", "a", "b", "--store", tmp_path / "none.db"), "no store at")
    _one_line_error(cli("compare", runs["gold"], runs["pert"], "--store", store, "--format", "xml"), "unknown --format")
    _one_line_error(cli("compare", runs["gold"], runs["pert"], "--store", store, "--fail-on", "any"), "unknown --fail-on")
    (tmp_path / "empty").mkdir()
    _one_line_error(cli("compare", tmp_path / "empty", runs["gold"], "--store", store), "no results.json")
    other = replay_run(write_replay(tmp_path / "o.jsonl", gold_targets(data_dir, ["bbh_snarks"])), store, data_dir,
                       tasks=["bbh_snarks"])
    _one_line_error(cli("compare", runs["gold"], other, "--store", store), "no common tasks")


def test_by_group_pools_the_subtasks(cli, runs):
    res = cli("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--by", "group", "--format", "json")
    (bbh,) = json.loads(res.out)["tasks"]
    assert bbh["task"] == "bbh" and bbh["n"] == 750 and bbh["verdict"] == "regression"
    wrong = sorted(runs["wrong"], key=lambda k: k[1])
    assert bbh["worse"] == [f"{t}/{d}" for t, d in wrong]
    assert bbh["p_holm"] == bbh["p_value"]
    res = cli("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--by", "group", "--tasks", "bbh")
    assert res.code == 0 and "bbh/" not in res.out.split("flipped")[0]
    res = cli("compare", runs["gold"], runs["pert"], "--store", runs["store"], "--by", "suite")
    assert res.code != 0 and "unknown --by 'suite'" in res.err


def test_the_ci_workflow_uses_real_commands():
    """docs/github-actions-evalkit.yml parses and every evalkit command and flag it uses exists."""
    import re

    import yaml
    from conftest import REPO
    from typer.main import get_command

    from evalkit.cli import app

    wf = yaml.safe_load((REPO / "docs" / "github-actions-evalkit.yml").read_text())
    script = "\n".join(s.get("run", "") for s in wf["jobs"]["gate"]["steps"]).replace("\\\n", " ")
    root = get_command(app)
    calls = re.findall(r"evalkit ([a-z-]+(?: build)?)([^\n>|]*)", script)
    assert {c for c, _ in calls} >= {"run", "compare", "site build"}
    for name, args in calls:
        cmd = root
        for part in name.split():
            cmd = cmd.commands[part]
        known = {o for p in cmd.params for o in getattr(p, "opts", [])}
        for flag in re.findall(r"(--[a-z-]+)", args):
            assert flag in known, (name, flag)


def test_by_group_prefers_the_group_the_run_asked_for():
    from evalkit.report.compare import RunScores, compare
    from evalkit.run.layout import group_of as layout_group_of
    from evalkit.run.layout import run_layout
    from evalkit.spec.taskspec import load_catalog

    cat = load_catalog()
    default = layout_group_of(cat, ())
    # a leaf in two groups, and the group that pooling would not pick by itself
    leaf, other = next((leaf, g) for leaf in sorted(default) for g in sorted(cat.groups)
                       if g != default[leaf] and leaf in cat.expand(g))
    a = RunScores("a", "m", "r1", {leaf: {0: 1.0, 1: 0.0}}, requested=(other,), layout=run_layout(cat, [other], [leaf]))
    assert [t.task for t in compare(a, a, by="group").tasks] == [other]
    b = RunScores("b", "m", "r2", {leaf: {0: 1.0, 1: 0.0}}, layout=run_layout(cat, [leaf], [leaf]))
    assert [t.task for t in compare(b, b, by="group").tasks] == [default[leaf]]


def test_by_group_never_reads_todays_yaml_for_a_run_without_its_layout():
    from evalkit.core.errors import ConfigError
    from evalkit.report.compare import RunScores, compare

    old = RunScores("old", "m", "r0", {"bbh_navigate": {0: 1.0, 1: 0.0}})
    with pytest.raises(ConfigError, match="stored none"):
        compare(old, old, by="group")
    assert [t.task for t in compare(old, old).tasks] == ["bbh_navigate"]
