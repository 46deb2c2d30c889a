"""A scripted fake backend for unit tests: answers from a function, counts every call."""
from __future__ import annotations

from typing import Any, Callable

from evalkit.core.types import Generation, Request
from evalkit.models.base import BaseBackend


class ScriptedBackend(BaseBackend):
    def __init__(self, answer: Callable[[Request, int], str], name: str = "scripted"):
        self.answer = answer
        self.name = name
        self.calls: list[list[Request]] = []

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name}

    def generate(self, requests, progress=None, on_result=None):
        self.calls.append(list(requests))
        out = []
        for i, r in enumerate(requests):
            gen = Generation([self.answer(r, r.first_sample + k) for k in range(r.params.n)], ["stop"] * r.params.n)
            out.append(gen)
            if on_result:
                on_result(i, gen)
        return out

    @property
    def sent(self) -> list[Request]:
        return [r for c in self.calls for r in c]
