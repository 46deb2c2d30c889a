"""The OpenAI-compatible backend against a small HTTP server on 127.0.0.1:
native n, retries through 503s and dropped connections, one-line errors.
(The lane in tests/vllm runs it against a real `vllm serve`, killed mid-run.)"""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from evalkit.core.errors import BackendError
from evalkit.core.types import GenParams, Request
from evalkit.models.openai import OpenAIBackend


class _Server:
    def __init__(self, fail_first: int = 0, status: int = 503):
        self.bodies: list[dict] = []
        self.fail_left = fail_first
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # keep pytest output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                if outer.fail_left > 0:
                    outer.fail_left -= 1
                    self.send_response(status)
                    self.end_headers()
                    return
                if body.get("model") == "missing":
                    self.send_response(404)
                    self.end_headers()
                    self.wfile.write(b'{"error": "model not found"}')
                    return
                prompt = body.get("prompt") or body["messages"][-1]["content"]
                choices = [{"index": i, "text": f"{prompt}|{i}|{body.get('seed')}", "finish_reason": "stop"}
                           for i in range(body["n"])]
                out = json.dumps({"choices": choices, "usage": {"prompt_tokens": 3, "completion_tokens": 5}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = _Server()
    yield s
    s.close()


def _req(prompt: str, n: int = 1, temperature: float = 0.0) -> Request:
    return Request("t", 0, prompt, GenParams(max_tokens=5, temperature=temperature, n=n, seed=7, stop=("\n",)))


def test_native_n_is_one_request(server):
    b = OpenAIBackend("m", base_url=server.url, backoff=0.01)
    out = b.generate([_req("a", n=4, temperature=0.8), _req("b")])
    assert len(server.bodies) == 2
    sampled = next(x for x in server.bodies if x["prompt"] == "a")
    assert sampled["n"] == 4 and sampled["seed"] == _req("a", 4, 0.8).sample_seed(0) and sampled["stop"] == ["\n"]
    assert out[0].texts == [f"a|{i}|{sampled['seed']}" for i in range(4)]
    assert out[1].usage == {"prompt_tokens": 3, "completion_tokens": 5}


def test_retries_ride_out_server_errors():
    s = _Server(fail_first=3)
    try:
        b = OpenAIBackend("m", base_url=s.url, backoff=0.01, concurrency=1)
        out = b.generate([_req("x")])
        assert out[0].texts == ["x|0|None"] and b.retries == 3
    finally:
        s.close()


def test_dead_server_gives_up_with_one_clear_line():
    s = _Server()
    url = s.url
    s.close()
    b = OpenAIBackend("m", base_url=url, backoff=0.01, max_retries=2)
    with pytest.raises(BackendError, match="failed after 2 retries.*re-run to resume"):
        b.generate([_req("x")])


def test_client_errors_are_not_retried(server):
    b = OpenAIBackend("missing", base_url=server.url, backoff=0.01)
    with pytest.raises(BackendError, match="answered 404"):
        b.generate([_req("x")])
    assert len(server.bodies) == 1


def test_chat_endpoint_and_per_sample_fallback(server):
    b = OpenAIBackend("m", base_url=server.url, apply_chat_template=True, system_prompt="be brief", native_n=False)
    out = b.generate([_req("q", n=2, temperature=1.0)])
    assert [x["n"] for x in server.bodies] == [1, 1]
    assert server.bodies[0]["messages"][0] == {"role": "system", "content": "be brief"}
    assert len(out[0].texts) == 2 and out[0].texts[0] != out[0].texts[1]  # each sample has its own seed


def test_cli_run_through_the_server(cli, server, tmp_path, data_dir):
    res = cli("run", "--model", "openai:m", "--base-url", server.url, "--tasks", "bbh_navigate", "--limit", "3",
              "--data-dir", data_dir, "--store", tmp_path / "s.db", "--output", tmp_path / "out")
    assert res.code == 0, res.err
    again = cli("run", "--model", "openai:m", "--base-url", server.url, "--tasks", "bbh_navigate", "--limit", "3",
                "--data-dir", data_dir, "--store", tmp_path / "s.db")
    assert again.code == 0 and len(server.bodies) == 3  # the second run came from the cache
