"""A model-free backend whose outputs depend only on the prompt and sample:
for overhead benchmarks and for crash/resume tests in a real subprocess
(``delay`` seconds per request makes a run slow enough to kill mid-way)."""
from __future__ import annotations

import hashlib
import time
from typing import Any, Callable

from evalkit.core.types import Generation, Request
from evalkit.models.base import BaseBackend, Progress

_LETTERS = "ABCDEFG"


class DummyBackend(BaseBackend):
    def __init__(self, target: str = "", delay: float = 0.0, **_: Any):
        self.delay = float(delay)

    def identity(self) -> dict[str, Any]:
        return {"backend": "dummy", "version": 1}

    def _text(self, req: Request, index: int) -> str:
        # greedy output depends on the prompt alone, as a real model's does (and as the cache key assumes)
        seed = req.sample_seed(index) if req.params.temperature > 0 else "greedy"
        h = hashlib.sha256(f"{req.prompt}\0{seed}".encode()).digest()
        return f"Let me think. So the answer is ({_LETTERS[h[0] % len(_LETTERS)]})."

    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_result: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        out = []
        for i, req in enumerate(requests):
            if self.delay:
                time.sleep(self.delay)
            gen = Generation([self._text(req, k) for k in range(req.params.n)], ["stop"] * req.params.n)
            out.append(gen)
            if on_result:
                on_result(i, gen)
            if progress:
                progress(1)
        return out
