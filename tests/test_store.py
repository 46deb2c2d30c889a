"""The store: a run becomes complete only together with its metrics and samples."""
from __future__ import annotations

import dataclasses

import pytest

from evalkit.core.types import SampleRecord
from evalkit.store import Store


def _rec(doc: int) -> SampleRecord:
    return SampleRecord("t", doc, "p", ["o"], "x", "x", 1.0, {"exact_match": 1.0})


def test_complete_run_has_metrics_and_samples(tmp_path):
    st = Store(tmp_path / "s.db")
    st.start_run("r1", "m", ["t"], {})
    assert st.run("r1")["status"] == "running"
    st.finish_run("r1", {"t": {"exact_match": 1.0}}, [("t", "exact_match", 1.0, 0.0, 2)], [_rec(0), _rec(1)], {"k": 1})
    r = st.run("r1")
    assert r["status"] == "complete" and r["results"] == {"t": {"exact_match": 1.0}}
    assert [s["doc_id"] for s in st.samples("r1")] == [0, 1]
    assert st.metrics("r1")[0]["value"] == 1.0


def test_failure_inside_finish_leaves_nothing_half_written(tmp_path):
    st = Store(tmp_path / "s.db")
    st.start_run("r1", "m", ["t"], {})
    # not serialisable: the transaction must roll back
    bad = dataclasses.replace(_rec(0), metrics={"exact_match": object()}, extra={"x": object()})
    with pytest.raises(Exception):
        st.finish_run("r1", {"t": {}}, [("t", "exact_match", "not-a-number", 0.0, 1)], [bad], {})  # type: ignore[list-item]
    assert st.run("r1")["status"] == "running"
    assert st.samples("r1") == [] and st.metrics("r1") == []


def test_dead_running_runs_become_interrupted(tmp_path):
    st = Store(tmp_path / "s.db")
    st.start_run("r1", "m", ["t"], {})
    st.conn.execute("UPDATE runs SET pid=999999999 WHERE run_id='r1'")
    st.mark_dead_runs()
    assert st.run("r1")["status"] == "interrupted"
