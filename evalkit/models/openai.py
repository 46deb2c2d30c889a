"""Any OpenAI-compatible server (vLLM's `vllm serve`, TGI, SGLang, OpenAI itself).

``openai:<model>`` with ``--base-url`` (or model arg ``base_url``) and the key
from OPENAI_API_KEY. Requests go out concurrently; 429, 5xx, timeouts and
refused connections are retried with exponential backoff and jitter, so a
server restart mid-run is ridden out. Each finished request is handed to the
cache at once, so a run that does give up resumes where it stopped.
Only the standard library is used: one less client to pin.
"""
from __future__ import annotations

import json
import os
import random
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import Any, Callable

from evalkit.core.errors import BackendError, ConfigError
from evalkit.core.types import Generation, Request
from evalkit.models.base import BaseBackend, Progress

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}


class OpenAIBackend(BaseBackend):
    def __init__(self, target: str, base_url: str | None = None, endpoint: str = "completions",
                 concurrency: int = 8, timeout: float = 120.0, max_retries: int = 8, backoff: float = 1.0,
                 max_backoff: float = 16.0, native_n: bool = True, api_key_env: str = "OPENAI_API_KEY",
                 apply_chat_template: bool = False, system_prompt: str | None = None, **unknown: Any):
        if unknown:
            raise ConfigError(f"openai backend: unknown --model-args {', '.join(sorted(unknown))}")
        if not target:
            raise ConfigError("openai backend needs a model name: --model openai:MODEL --base-url URL")
        self.model = target
        self.base_url = (base_url or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1").rstrip("/")
        if endpoint not in ("completions", "chat"):
            raise ConfigError(f"openai backend: endpoint must be completions or chat, not '{endpoint}'")
        # --apply-chat-template means "let the server apply it": the chat endpoint.
        self.endpoint = "chat" if apply_chat_template else endpoint
        self.system_prompt = system_prompt
        self.concurrency, self.timeout = int(concurrency), float(timeout)
        self.max_retries, self.backoff, self.max_backoff = int(max_retries), float(backoff), float(max_backoff)
        self.native_n = bool(native_n)
        self.api_key = os.environ.get(api_key_env, "")
        self.retries = 0  # requests re-sent after a transient failure (reported in tests)

    def identity(self) -> dict[str, Any]:
        # The URL is where the model is served, not what it is: a restarted or
        # moved server keeps the cache valid.
        ident: dict[str, Any] = {"backend": "openai", "model": self.model, "endpoint": self.endpoint}
        if self.system_prompt:
            ident["system_prompt"] = self.system_prompt
        return ident

    # -- one HTTP call, with retries ----------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        delay = self.backoff
        for attempt in range(self.max_retries + 1):
            req = urllib.request.Request(f"{self.base_url}/{path}", data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read())
            except urllib.error.HTTPError as exc:
                detail = exc.read()[:300].decode(errors="replace")
                if exc.code not in RETRY_STATUS:
                    raise BackendError(f"{self.base_url}/{path} answered {exc.code}: {detail}") from None
                err = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                err = str(getattr(exc, "reason", exc))
            if attempt == self.max_retries:
                raise BackendError(f"{self.base_url}/{path} failed after {self.max_retries} retries ({err}); "
                                   "finished requests are cached: re-run to resume", retryable=True)
            self.retries += 1
            time.sleep(delay * (0.5 + random.random() / 2))
            delay = min(delay * 2, self.max_backoff)
        raise AssertionError("unreachable")

    def _body(self, req: Request, n: int, seed: int | None) -> tuple[str, dict[str, Any]]:
        p = req.params
        body: dict[str, Any] = {"model": self.model, "max_tokens": p.max_tokens, "temperature": p.temperature,
                                "top_p": p.top_p, "n": n}
        if p.stop:
            body["stop"] = list(p.stop)
        if seed is not None:
            body["seed"] = seed
        if self.endpoint == "chat":
            msgs = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else [])
            body["messages"] = msgs + [{"role": "user", "content": req.prompt}]
            return "chat/completions", body
        body["prompt"] = req.prompt
        return "completions", body

    def _one(self, req: Request) -> Generation:
        greedy = req.params.temperature == 0
        if self.native_n or greedy:
            path, body = self._body(req, req.params.n, None if greedy else req.sample_seed(0))
            resp = self._post(path, body)
            choices = sorted(resp.get("choices", []), key=lambda c: c.get("index", 0))
            usage = resp.get("usage") or {}
        else:  # servers without n: one call per sample, each with its own seed
            choices, usage = [], {}
            for i in range(req.params.n):
                path, body = self._body(req, 1, req.sample_seed(i))
                resp = self._post(path, body)
                choices += resp.get("choices", [])
                for k, v in (resp.get("usage") or {}).items():
                    usage[k] = usage.get(k, 0) + v
        texts = [c["message"]["content"] if "message" in c else c.get("text", "") for c in choices]
        if len(texts) != req.params.n:
            if greedy and len(texts) == 1:
                texts = texts * req.params.n
            else:
                raise BackendError(f"server returned {len(texts)} choices for n={req.params.n}; "
                                   "pass --model-args native_n=false")
        reasons = [c.get("finish_reason") or "" for c in choices] or [""] * len(texts)
        return Generation(texts, (reasons * len(texts))[: len(texts)],
                          {"prompt_tokens": usage.get("prompt_tokens", 0),
                           "completion_tokens": usage.get("completion_tokens", 0)})

    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_result: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        results: list[Generation | None] = [None] * len(requests)
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            futures = {pool.submit(self._one, r): i for i, r in enumerate(requests)}
            try:
                for fut in as_completed(futures):
                    i = futures[fut]
                    results[i] = gen = fut.result()
                    if on_result:
                        on_result(i, gen)  # committed from this thread: SQLite stays single-threaded
                    if progress:
                        progress(1)
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
        return [g for g in results if g is not None]
