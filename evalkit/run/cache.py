"""The durable generation cache in front of every backend.

Each finished sample is committed as it arrives, keyed by the model identity,
the full prompt, the sampling parameters and the sample index (seeded sampling
included). A killed run therefore loses at most the batch in flight, and the
rerun asks the backend only for what is missing.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable

from evalkit.core.textclean import storable
from evalkit.core.types import Generation, Request, stable_hash
from evalkit.models.base import Backend, Progress
from evalkit.store import Store


def sample_key(identity: dict[str, Any], req: Request, index: int) -> str:
    return stable_hash({"model": identity, "prompt": req.prompt, "params": req.params.key(), "sample": index})


class CachedGenerator:
    """``generate`` with the cache in front; counts what it actually sent."""

    def __init__(self, backend: Backend, store: Store | None):
        self.backend = backend
        self.store = store if backend.cacheable else None
        self.identity = backend.identity()
        self.model = stable_hash(self.identity)[:16]
        self.sent_requests = 0  # requests that reached the backend (tests and reports use these)
        self.sent_samples = 0
        self.cached_samples = 0

    def _lookup(self, keys: list[str]) -> dict[str, tuple[str, str, int, int]]:
        if self.store is None or not keys:
            return {}
        return self.store.get_generations(keys)

    def _commit(self, keys: list[str], gen: Generation) -> dict[str, tuple[str, str, int, int]]:
        """Store these samples; returns the rows the cache holds for them (another runner's
        row wins if it stored the same key first, so every runner goes on with one answer)."""
        pt = gen.usage.get("prompt_tokens", 0)
        per = gen.usage.get("completion_tokens", 0) // max(len(gen.texts), 1)
        rows = [(k, t, (gen.finish_reasons[i] if i < len(gen.finish_reasons) else ""), pt, per)
                for i, (k, t) in enumerate(zip(keys, gen.texts))]
        if self.store is None:
            return {k: (t, fr, p, 0) for k, t, fr, p, _ in rows}
        return self.store.put_generations(self.model, rows)

    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_total: Callable[[int], None] | None = None) -> list[Generation]:
        """One Generation per request, each with ``params.n`` texts."""
        if self.store is None:  # replay and other uncached backends answer per (task, doc)
            if on_total:
                on_total(len(requests))
            self.sent_requests += len(requests)
            self.sent_samples += sum(r.params.n for r in requests)
            return [_storable(g) for g in self.backend.generate(requests, progress=progress)]
        keys = [[sample_key(self.identity, r, r.first_sample + i) for i in range(r.params.n)] for r in requests]
        found = self._lookup([k for ks in keys for k in ks])
        self.cached_samples += len(found)
        missing: list[tuple[int, Request, list[str]]] = []  # (request index, sub-request, its keys)
        queued: set[str] = set()  # identical prompts in two docs are generated once
        for i, (req, ks) in enumerate(zip(requests, keys)):
            for start, stop in _gaps([k in found or k in queued for k in ks]):
                sub = Request(req.task, req.doc_id, req.prompt, _with_n(req, stop - start), req.first_sample + start)
                missing.append((i, sub, ks[start:stop]))
                queued.update(ks[start:stop])
        if on_total:
            on_total(len(missing))
        fresh: dict[str, tuple[str, str, int, int]] = {}
        if missing:
            add_tokens = getattr(progress, "add_tokens", None)  # progress.Tracker counts tokens/s

            def keep(ks: list[str], gen: Generation) -> None:
                gen = _storable(gen)  # one odd character in an output must not sink the commit
                fresh.update(self._commit(ks, gen))
                if add_tokens:
                    add_tokens(gen.usage.get("completion_tokens", 0))

            subs = [m[1] for m in missing]
            self.sent_requests += len(subs)
            self.sent_samples += sum(s.params.n for s in subs)
            gens = self.backend.generate(subs, progress=progress, on_result=lambda j, gen: keep(missing[j][2], gen))
            for (_, _, ks), gen in zip(missing, gens):  # backends that skip on_result still count
                if ks[0] not in fresh:
                    keep(ks, gen)
        out = []
        for ks in keys:
            got = [found.get(k) or fresh[k] for k in ks]
            out.append(Generation([g[0] for g in got], [g[1] for g in got],
                                  {"prompt_tokens": got[0][2] if got else 0}))
        return out


def _storable(gen: Generation) -> Generation:
    return replace(gen, texts=[storable(t) for t in gen.texts])


def _pairs(gen: Generation) -> list[tuple[str, str]]:
    frs = gen.finish_reasons or [""] * len(gen.texts)
    return list(zip(gen.texts, frs))


def _with_n(req: Request, n: int):
    return replace(req.params, n=n)


def _gaps(have: list[bool]) -> list[tuple[int, int]]:
    """Contiguous runs of missing sample indices, as (start, stop)."""
    runs, start = [], None
    for i, ok in enumerate(have + [True]):
        if not ok and start is None:
            start = i
        elif ok and start is not None:
            runs.append((start, i))
            start = None
    return runs
