"""Leaderboard files validate; boards pick the latest complete run and aggregate correctly."""
from __future__ import annotations

import math

import pytest
from conftest import REPO

from evalkit.core.errors import ConfigError
from evalkit.report.leaderboard import (
    BoardTask,
    LeaderboardSpec,
    board_rows,
    build_board,
    load_leaderboard,
    load_leaderboards,
    parse_leaderboard,
)
from evalkit.store import Store

FILES = sorted((REPO / "leaderboards").glob("*.yaml"))


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_every_leaderboard_file_validates(path):
    spec = parse_leaderboard(path)
    assert spec.name == path.stem and spec.tasks and spec.aggregate


def test_shipped_leaderboards():
    boards = load_leaderboards()
    assert {"reasoning", "code", "retrieval"} <= set(boards)
    assert [t.task for t in boards["reasoning"].tasks] == ["bbh", "agieval", "math"]
    assert [(t.task, t.metric) for t in boards["code"].tasks] == [("humaneval", "pass@1")]
    assert [(t.task, t.metric) for t in boards["retrieval"].tasks] == [("scifact", "ndcg_at_10")]
    for b in boards.values():
        assert "macro" in b.aggregate and {"mean_rank", "borda"} & set(b.aggregate)


@pytest.mark.parametrize("text,needle", [
    ("title: x\ntasks: []\n", "field 'tasks'"),
    ("title: x\ntasks: [{task: bbh, colour: red}]\n", "field 'tasks.0.colour'"),
    ("title: x\ntasks: [{task: bbh}]\naggregate: [median]\n", "field 'aggregate.0'"),
    ("tasks: [{task: bbh}]\n", "field 'title'"),
    ("title: x\nname: other\ntasks: [{task: bbh}]\n", "must match the file name"),
    ("title: x\ntasks: [{task: bbh}, {task: bbh}]\n", "listed twice"),
    ("title: [unclosed\n", "not valid YAML"),
    ("- just a list\n", "expected a mapping"),
])
def test_bad_files_name_file_and_field(tmp_path, text, needle):
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=None) as exc:
        parse_leaderboard(path)
    assert "bad.yaml" in str(exc.value) and needle in str(exc.value)


def test_yaml_tags_are_refused(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("title: !!python/object/apply:os.system ['true']\ntasks: [{task: bbh}]\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        parse_leaderboard(path)


def test_unknown_leaderboard_suggests():
    with pytest.raises(ConfigError, match="did you mean reasoning"):
        load_leaderboard("reasonin")


def _run(st: Store, run_id: str, model: str, results: dict, status: str = "complete", limit=None) -> None:
    st.start_run(run_id, model, list(results), {"limit": limit})
    st.conn.execute("UPDATE runs SET started=? WHERE run_id=?", (float(len(st.runs())), run_id))
    if status == "complete":
        st.finish_run(run_id, results, [], [], {"limit": limit})
    else:
        st.set_status(run_id, status)


def _res(value: float, se: float = 0.01, metric: str = "exact_match", n: int = 100) -> dict:
    return {metric: value, f"{metric}_stderr": se, "n": n}


@pytest.fixture
def store(tmp_path):
    st = Store(tmp_path / "s.db")
    _run(st, "a-old", "model-a", {"bbh": _res(0.10), "math": _res(0.90)})
    _run(st, "a-new", "model-a", {"bbh": _res(0.40, 0.02)})
    _run(st, "a-failed", "model-a", {"bbh": _res(0.99)}, status="failed")
    _run(st, "b", "model-b", {"bbh": _res(0.30), "math": _res(0.50)}, limit=5)
    _run(st, "c", "model-c", {"bbh": _res(0.30), "math": _res(0.20)})
    return st


SPEC = LeaderboardSpec(name="t", title="T", tasks=(BoardTask(task="bbh", name="BBH"), BoardTask(task="math"),
                                                   BoardTask(task="agieval")),
                       aggregate=("macro", "mean_rank", "borda"), models={"model-c": "Model C"})


def test_latest_complete_run_per_model_and_task(store):
    board = build_board(SPEC, store)
    a_bbh = board.cells[("model-a", "bbh")]
    assert (a_bbh.run_id, a_bbh.value) == ("a-new", 0.40)  # newer run wins, the failed one is ignored
    assert board.cells[("model-a", "math")].run_id == "a-old"  # the newer run lacks math: the older one still counts
    assert a_bbh.ci == pytest.approx(1.96 * 0.02)
    assert board.cells[("model-b", "bbh")].limited and not a_bbh.limited


def test_task_without_runs_is_tolerated(store):
    board = build_board(SPEC, store)
    assert board.empty_tasks == ["agieval"]
    header, rows = board_rows(board)
    col = header.index("agieval")
    assert all(r[col] == "—" for r in rows)
    assert all(r[-1] == "2/2" for r in rows)


def test_macro_and_rank_aggregates(store):
    board = build_board(SPEC, store)
    assert board.macro["model-a"][0] == pytest.approx(0.65)
    assert board.macro["model-a"][1] == pytest.approx(1.96 * math.sqrt(0.02 ** 2 + 0.01 ** 2) / 2)
    # bbh: a 0.40 (1), b = c 0.30 (tied 2.5); math: a 0.90 (1), b 0.50 (2), c 0.20 (3)
    assert board.mean_rank == pytest.approx({"model-a": 1.0, "model-b": 2.25, "model-c": 2.75})
    assert board.borda == pytest.approx({"model-a": 4.0, "model-b": 1.5, "model-c": 0.5})
    assert board.models == ["model-a", "model-b", "model-c"]
    header, rows = board_rows(board)
    assert rows[2][1] == "Model C"
    assert rows[0][header.index("BBH")] == "40.0 ± 3.9"
    assert rows[1][header.index("BBH")] == "30.0 ± 2.0†"


def test_partial_coverage_sorts_last(store):
    _run(store, "d", "model-d", {"bbh": _res(0.95)})
    board = build_board(SPEC, store)
    assert board.models[-1] == "model-d" and board.coverage["model-d"] == 1
    assert board_rows(board)[1][-1][-1] == "1/2 partial"


def test_lower_is_better_ranks_ascending(store):
    spec = SPEC.model_copy(update={"tasks": (BoardTask(task="math", higher_is_better=False),),
                                   "aggregate": ("mean_rank",)})
    assert build_board(spec, store).models == ["model-c", "model-b", "model-a"]


def test_cli_show(cli, store, tmp_path, monkeypatch):
    lb = tmp_path / "lb"
    lb.mkdir()
    (lb / "mine.yaml").write_text("title: Mine\ntasks:\n  - {task: bbh, name: BBH}\n  - {task: math}\n"
                                  "  - {task: agieval}\naggregate: [macro, borda]\n")
    monkeypatch.setenv("EVALKIT_LEADERBOARDS_DIR", str(lb))
    monkeypatch.setenv("COLUMNS", "200")
    res = cli("leaderboard", "show", "mine", "--store", store.path)
    assert res.code == 0, res
    assert "model-a" in res.out and "40.0 ± 3.9" in res.out and "no runs yet: agieval" in res.out
    assert "Borda" in res.out and "macro avg" in res.out
    res = cli("leaderboard", "show", "nope", "--store", store.path)
    assert res.code != 0 and "unknown leaderboard 'nope'" in res.err


def test_cli_show_real_runs(cli, data_dir, tmp_path, monkeypatch):
    """The shipped reasoning board over real dummy-model BBH runs (other tasks not run)."""
    from evalkit.run.runner import RunConfig, run

    store = tmp_path / "s.db"
    run(RunConfig(model="dummy", tasks=["bbh"], limit=4, data_dir=str(data_dir), store=store))
    monkeypatch.setenv("COLUMNS", "200")
    res = cli("leaderboard", "show", "reasoning", "--store", store)
    assert res.code == 0, res
    assert "dummy" in res.out and "no runs yet: agieval, math" in res.out and "†" in res.out
