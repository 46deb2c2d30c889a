"""--fewshot: pools never hold the test item; kNN never returns it; skill
descriptions go through the generation cache and survive kill -9."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import numpy as np
import pytest

from evalkit.run import fewshot_select as fs
from evalkit.spec.loaders import load_docs
from evalkit.spec.taskspec import load_catalog


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def _fake_vectors(texts: list[str]) -> np.ndarray:
    """Identical texts get identical unit vectors, so a test item left in the pool would be its own nearest."""
    rows = [np.frombuffer(hashlib.sha256(t.encode()).digest(), dtype=np.uint8).astype(np.float32) - 127.5 for t in texts]
    v = np.stack(rows)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_math500_pool_is_the_other_4500(catalog, data_dir):
    spec = catalog.tasks["math500"]
    whole = spec.model_copy(update={"fewshot_pool": spec.fewshot_pool.model_copy(update={"max_chars": None})})
    pool = fs.build_pool(whole, data_dir, 0)
    test = load_docs(spec.dataset, data_dir)
    assert len(pool.items) == 4500
    problems = {d.fields["problem"] for d in test}
    assert not any(it.text in problems for it in pool.items)
    short = fs.build_pool(spec, data_dir, 0)
    assert all(sum(len(str(v)) for k, v in it.example.items() if k != "id" and v) <= 1200 for it in short.items)
    assert "minus the records of math/math500_test.jsonl" in short.description


@pytest.mark.parametrize("name", ["bbh_direct_date_understanding", "bbh_direct_ruin_names", "agieval_fewshot_lsat_ar"])
def test_knn_and_random_never_return_the_test_item(catalog, data_dir, name):
    spec = catalog.tasks[name]
    docs = load_docs(spec.dataset, data_dir)  # every item is a test item once
    pool = fs.build_pool(spec, data_dir, 0)
    assert len(pool.items) == len(docs)  # leave-one-out happens per question, not in the pool
    texts = [fs.doc_text(spec, d) for d in docs]
    knn = fs.select_knn(pool, docs, _fake_vectors(texts), _fake_vectors([it.text for it in pool.items]), texts, 3)
    rnd = fs.select_random(pool, docs, texts, 3, 0, name)
    for chosen in (knn, rnd):
        for d, t in zip(docs, texts):
            assert len(chosen[d.id]) == 3
            assert all(pool.items[i].doc_id != d.id and pool.items[i].text != t for i in chosen[d.id])
    assert fs.select_random(pool, docs, texts, 3, 0, name) == rnd  # seeded


def test_knn_picks_the_most_similar_last():
    pool = fs.Pool([fs.PoolItem(f"f#{i}", i, t, {}) for i, t in enumerate(["a", "b", "c", "d"])], "")
    from evalkit.core.types import Doc

    q = np.array([[1.0, 0.0]])
    p = np.array([[0.0, 1.0], [0.6, 0.8], [1.0, 0.0], [0.8, 0.6]])
    assert fs.select_knn(pool, [Doc(2, {})], q, p, ["c"], 2) == {2: [1, 3]}  # item 2 is the question itself
    assert fs.select_knn(pool, [Doc(9, {})], q, p, ["z"], 2) == {9: [3, 2]}


def test_knn_with_minilm_on_real_questions(catalog, data_dir):
    spec = catalog.tasks["bbh_direct_date_understanding"]
    docs = load_docs(spec.dataset, data_dir, 4)
    pool = fs.build_pool(spec, data_dir, 0, size=60)
    texts = [fs.doc_text(spec, d) for d in docs]
    embed = fs.embedder("minilm")
    qv, pv = embed(texts), embed([it.text for it in pool.items])
    chosen = fs.select_knn(pool, docs, qv, pv, texts, 3)
    for row, d in enumerate(docs):
        assert all(pool.items[i].doc_id != d.id for i in chosen[d.id])
        sims = qv[row] @ pv.T
        assert sims[chosen[d.id][-1]] == pytest.approx(max(sims[i] for i in pool.candidates(d, texts[row])))


def _cmd(store, out, data_dir, delay, cache):
    return [sys.executable, "-m", "evalkit.cli", "run", "--model", "dummy", "--model-args", f"delay={delay}",
            "--tasks", "bbh_direct_date_understanding", "--limit", "4", "--fewshot", "skill-knn", "--fewshot-pool", "30",
            "--store", str(store), "--output", str(out), "--data-dir", str(data_dir)]


def _cached(store) -> int:
    try:
        with sqlite3.connect(store, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def test_skill_descriptions_are_cached_and_resume_after_kill_9(tmp_path, data_dir):
    env = dict(os.environ, EVALKIT_CACHE=str(tmp_path / "cache"))
    store = tmp_path / "s.db"
    # at most 4 + 30 + 4: skill lines for 4 questions and 30 pool items, then the 4 answers
    # (fewer when a question is also in the pool: the same prompt is one cached generation)
    proc = subprocess.Popen(_cmd(store, tmp_path / "killed", data_dir, 0.1, None), env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while _cached(store) < 10 and time.time() < deadline and proc.poll() is None:
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    before = _cached(store)
    assert 10 <= before < 34, "the kill should land while skill lines are being written"
    rerun = subprocess.run(_cmd(store, tmp_path / "resumed", data_dir, 0.0, None), env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    res = json.loads((tmp_path / "resumed" / "results.json").read_text())
    assert res["config"]["requests"]["samples_from_cache"] == before
    total = _cached(store)
    assert 34 <= total <= 38
    assert res["config"]["requests"]["sent"] == total - before
    fewshot = res["config"]["robustness"]["fewshot"]
    assert fewshot["method"] == "skill-knn" and "leave-one-out" in fewshot["pools"]["bbh_direct_date_understanding"]
    samples = [json.loads(x) for x in (tmp_path / "resumed" / "samples" / "bbh_direct_date_understanding.jsonl").read_text().splitlines()]
    for s in samples:
        ids = s["extra"]["exemplar_ids"]
        assert len(ids) == 3 and f"bbh/date_understanding.json#{s['doc_id']}" not in ids
        assert s["extra"]["skill"]
    again = subprocess.run(_cmd(store, tmp_path / "again", data_dir, 0.0, None), env=env, capture_output=True, text=True)
    assert again.returncode == 0
    assert json.loads((tmp_path / "again" / "results.json").read_text())["config"]["requests"]["sent"] == 0
