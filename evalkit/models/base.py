"""The backend protocol: a batch of requests in, one response per request out.

Backends own batching: the runner hands over everything pending at once and
the backend decides how to split it. ``n`` samples of one prompt are one
Request, so backends with native n-sampling (vLLM, OpenAI) prefill the prompt once.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable, Protocol, runtime_checkable

from evalkit.core.errors import BackendError
from evalkit.core.types import Generation, Loglikelihood, LoglikelihoodRequest, Passage, Request

Progress = Callable[[int], None]  # called with the number of requests just finished


@runtime_checkable
class Backend(Protocol):
    #: False for backends whose output does not come from the prompt (replay):
    #: caching them would only copy the file into the store.
    cacheable: bool

    def identity(self) -> dict[str, Any]:
        """What determines the outputs (model, revision, dtype, chat template hash...):
        part of every cache key and of the run's provenance."""
        ...

    def generate(
        self, requests: list[Request], progress: Progress | None = None,
        on_result: Callable[[int, Generation], None] | None = None,
    ) -> list[Generation]:
        """One Generation per Request, in order. ``on_result(i, gen)`` is called as
        each one finishes so the caller can commit it before the batch ends."""
        ...

    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[Loglikelihood]:
        ...

    def close(self) -> None:
        ...


class BaseBackend:
    """Defaults shared by the built-in backends."""

    cacheable = True

    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[Loglikelihood]:
        raise BackendError(
            f"backend '{type(self).__name__}' cannot score log-likelihoods; "
            "use a generative output_type or a model backend such as hf: or vllm:"
        )

    def close(self) -> None:
        pass


def truncate_at_stop(text: str, stop: tuple[str, ...] | list[str]) -> str:
    """Cut ``text`` at the earliest stop sequence, as servers do."""
    cut = len(text)
    for s in stop:
        if s:
            i = text.find(s)
            if i != -1:
                cut = min(cut, i)
    return text[:cut]


# Retrieval models: a retriever searches a whole corpus for a whole query set at once.
Run = dict[str, dict[str, float]]  # query id -> doc id -> score (higher is better)


@runtime_checkable
class Retriever(Protocol):
    name: str

    def search(self, corpus: Mapping[str, Passage], queries: Mapping[str, str], top_k: int) -> Run:
        """At most ``top_k`` scored documents for every query id given."""
        ...


def passage_text(p: Passage) -> str:
    """Title and body as one string, as BEIR's and MTEB's reference models see a document."""
    return f"{p['title']} {p['text']}".strip()
