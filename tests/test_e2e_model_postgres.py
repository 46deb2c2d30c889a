"""The real packaged CPU model on a PostgreSQL store: a second runner (a new process,
as on another CI machine) gets every generation from the shared cache, and the
run copies back to SQLite whole."""
from __future__ import annotations

import json

import pytest

from evalkit.store import open_reader

pytestmark = pytest.mark.model
pytest_plugins = ("pgserver",)


def test_smollm_on_postgres_shares_its_cache(cli, tmp_path, data_dir, pg_url):
    args = ["run", "--model", "smollm2-135m", "--tasks", "bbh_navigate", "--limit", "2", "--data-dir", data_dir,
            "--store", pg_url]
    first = cli(*args, "--output", tmp_path / "a")
    assert first.code == 0, first.err
    second = cli(*args, "--output", tmp_path / "b")
    assert second.code == 0, second.err
    a, b = (json.loads((tmp_path / d / "results.json").read_text()) for d in ("a", "b"))
    assert a["config"]["requests"]["sent"] == 2 and b["config"]["requests"]["sent"] == 0
    assert b["config"]["requests"]["samples_from_cache"] == 2 and a["results"] == b["results"]
    st = open_reader(pg_url)
    assert st.engine.query("SELECT COUNT(*) FROM generations")[0][0] == 2
    copy = cli("store", "copy", pg_url, tmp_path / "back.db")
    assert copy.code == 0 and "copied 2 runs" in copy.out
    back = open_reader(tmp_path / "back.db")
    assert back.samples(a["run_id"]) == st.samples(a["run_id"])
