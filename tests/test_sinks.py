"""--log-to sinks, each for real: MLflow's local file store, W&B offline files,
and the HF Hub's HTTP protocol against a local server that records requests.
mlflow-skinny and wandb come with `make install` (the `trackers` extra), so these never skip."""
from __future__ import annotations

import base64
import glob
import json
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

TASK = "bbh_date_understanding"


def run_dummy(cli, data_dir, store_path, *extra):
    res = cli("run", "--model", "dummy", "--tasks", TASK, "--limit", "4", "--data-dir", data_dir,
              "--store", store_path, *extra)
    assert res.code == 0, res.err
    from evalkit.store import Store

    st = Store(store_path)
    run = st.runs()[0]
    return res, st.run(run["run_id"])


def test_mlflow_file_store(cli, tmp_path, data_dir, store_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res, run = run_dummy(cli, data_dir, store_path, "--log-to", "mlflow")
    assert "logged to mlflow" in res.out
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=(tmp_path / "mlruns").as_uri())
    [found] = client.search_runs([client.get_experiment_by_name("evalkit").experiment_id])
    assert found.info.run_name == run["run_id"]
    assert found.data.metrics[f"{TASK}/exact_match"] == pytest.approx(run["results"][TASK]["exact_match"])
    assert found.data.params["model"] == "dummy"
    assert found.data.params[f"data_sha256/{TASK}"] == run["config"]["task_specs"][TASK]["data_sha256"][:16]
    art = Path(client.download_artifacts(found.info.run_id, "results.json", str(tmp_path / "dl")))
    assert json.loads(art.read_text())["run_id"] == run["run_id"]


def wandb_records(path: Path):
    """Records of a .wandb file (W&B's LevelDB-style log of protobuf Records)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, buf = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk, pos = data[pos + 7:pos + 7 + length], pos + 7 + length
        if kind == 1:
            full = chunk
        elif kind in (2, 3):
            buf = (buf if kind == 3 else b"") + chunk
            continue
        elif kind == 4:
            full, buf = buf + chunk, b""
        else:
            continue
        rec = pb.Record()
        rec.ParseFromString(full)
        yield rec


def test_wandb_offline_files(cli, tmp_path, data_dir, store_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    res, run = run_dummy(cli, data_dir, store_path, "--log-to", "wandb=evalkit-test")
    assert "logged to wandb" in res.out, res.err
    [run_dir] = glob.glob(str(tmp_path / "wandb" / "offline-run-*"))
    files = Path(run_dir) / "files"
    assert json.loads((files / "results.json").read_text())["results"] == run["results"]
    [log] = list(Path(run_dir).glob("run-*.wandb"))
    summary, config, name = {}, {}, None
    for rec in wandb_records(log):
        kind = rec.WhichOneof("record_type")
        if kind == "run":
            name = rec.run.display_name
            config.update({u.key: json.loads(u.value_json) for u in rec.run.config.update})
        elif kind == "summary":
            summary.update({u.key: json.loads(u.value_json) for u in rec.summary.update if u.key})
    assert name == run["run_id"], [r.WhichOneof("record_type") for r in wandb_records(log)]
    assert config["model"] == "dummy"
    assert summary[f"{TASK}/exact_match"] == pytest.approx(run["results"][TASK]["exact_match"])


class _Hub(BaseHTTPRequestHandler):
    """The three hub endpoints `create_repo` + `upload_file` call; every request is kept."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        _Hub.requests.append({"path": self.path, "body": body, "auth": self.headers.get("authorization")})
        if self.path == "/api/repos/create":
            out = {"url": f"http://{self.headers['host']}/datasets/me/evals", "name": "me/evals"}
        elif "/preupload/" in self.path:
            files = json.loads(body)["files"]
            out = {"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False} for f in files]}
        elif "/commit/" in self.path:
            out = {"commitUrl": f"http://{self.headers['host']}/datasets/me/evals/commit/abc123",
                   "commitOid": "abc123", "pullRequestUrl": None}
        else:
            self.send_response(404)
            self.end_headers()
            return
        data = json.dumps(out).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_hf_hub_upload_matches_recorded_request(cli, tmp_path, data_dir, store_path, monkeypatch):
    from huggingface_hub import constants
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    _Hub.requests = []
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.setenv("HF_TOKEN", "hf_test_token")
    try:
        res, run = run_dummy(cli, data_dir, store_path, "--log-to", "hf-hub=me/evals")
    finally:
        server.shutdown()
    assert "logged to hf-hub" in res.out, res.err
    paths = [r["path"] for r in _Hub.requests]
    assert paths == ["/api/repos/create", "/api/datasets/me/evals/preupload/main", "/api/datasets/me/evals/commit/main"]
    assert all(r["auth"] == "Bearer hf_test_token" for r in _Hub.requests)
    lines = [json.loads(x) for x in _Hub.requests[2]["body"].decode().splitlines()]
    recorded = json.loads((Path(__file__).parent / "fixtures" / "hub" / "commit_request.json").read_text())
    assert [ln["key"] for ln in lines] == recorded["keys"]
    assert lines[0]["value"]["summary"] == f"evalkit run {run['run_id']}"
    assert lines[1]["value"]["path"] == f"dummy/results_{run['run_id']}.json"
    uploaded = json.loads(base64.b64decode(lines[1]["value"]["content"]))
    # the same file `evalkit export --format lm-eval` writes, in lm-eval's shape
    exported = json.loads(cli("export", run["run_id"], "--store", store_path, "--output", "-").out)
    for key in ("results", "group_subtasks", "n-samples", "higher_is_better"):
        assert uploaded[key] == exported[key]
    assert set(recorded["lm_eval_keys"]) <= set(uploaded)
    assert uploaded["results"][TASK]["exact_match,none"] == pytest.approx(run["results"][TASK]["exact_match"])


def test_failed_sink_warns_and_run_is_stored(cli, tmp_path, data_dir, store_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res, run = run_dummy(cli, data_dir, store_path, "--log-to", "hf-hub=me/evals")
    assert res.code == 0
    assert "warning: --log-to hf-hub failed" in res.err and run["run_id"] in res.err
    assert run["status"] == "complete"


def test_unknown_sink_fails_before_the_run(cli, data_dir, store_path):
    res = cli("run", "--model", "dummy", "--tasks", TASK, "--limit", "1", "--data-dir", data_dir,
              "--store", store_path, "--log-to", "mlfow")
    assert res.code != 0 and "unknown sink 'mlfow'" in res.err and "mlflow" in res.err
    assert not store_path.exists() or "complete" not in store_path.read_bytes().decode(errors="ignore")
