"""The generation cache: per-sample keys, resume of partial requests, dedupe."""
from __future__ import annotations

from fakes import ScriptedBackend

from evalkit.core.types import GenParams, Request
from evalkit.run.cache import CachedGenerator, _gaps
from evalkit.store import Store


def _req(prompt: str, n: int = 1, temperature: float = 0.0, doc: int = 0) -> Request:
    return Request("t", doc, prompt, GenParams(max_tokens=8, temperature=temperature, n=n, seed=7))


def echo(r: Request, k: int) -> str:
    return f"{r.prompt}#{k}"


def test_second_pass_sends_nothing(tmp_path):
    store = Store(tmp_path / "s.db")
    reqs = [_req("a"), _req("b"), _req("c", n=3, temperature=1.0)]
    first = CachedGenerator(ScriptedBackend(echo), store).generate(reqs)
    backend = ScriptedBackend(echo)
    gen = CachedGenerator(backend, store)
    again = gen.generate(reqs)
    assert backend.calls == []
    assert [g.texts for g in again] == [g.texts for g in first] == [["a#0"], ["b#0"], ["c#0", "c#1", "c#2"]]
    assert gen.cached_samples == 5


def test_more_samples_reuse_the_first_ones(tmp_path):
    """Sample i of an n=2 request is sample i of an n=5 request: only 3 new samples are drawn."""
    store = Store(tmp_path / "s.db")
    CachedGenerator(ScriptedBackend(echo), store).generate([_req("p", n=2, temperature=0.7)])
    backend = ScriptedBackend(echo)
    out = CachedGenerator(backend, store).generate([_req("p", n=5, temperature=0.7)])
    assert [(r.first_sample, r.params.n) for r in backend.sent] == [(2, 3)]
    assert out[0].texts == [f"p#{k}" for k in range(5)]


def test_key_includes_model_params_and_prompt(tmp_path):
    store = Store(tmp_path / "s.db")
    CachedGenerator(ScriptedBackend(echo, name="m1"), store).generate([_req("p")])
    other_model = ScriptedBackend(echo, name="m2")
    CachedGenerator(other_model, store).generate([_req("p")])
    assert len(other_model.sent) == 1
    other_params = ScriptedBackend(echo, name="m1")
    CachedGenerator(other_params, store).generate([Request("t", 0, "p", GenParams(max_tokens=9))])
    assert len(other_params.sent) == 1


def test_identical_prompts_are_generated_once(tmp_path):
    backend = ScriptedBackend(echo)
    out = CachedGenerator(backend, Store(tmp_path / "s.db")).generate([_req("same", doc=0), _req("same", doc=1)])
    assert len(backend.sent) == 1
    assert out[0].texts == out[1].texts == ["same#0"]


def test_each_result_is_committed_before_the_batch_ends(tmp_path):
    """A crash mid-batch keeps the finished generations."""
    store = Store(tmp_path / "s.db")

    def explode(r: Request, k: int) -> str:
        if r.prompt == "boom":
            raise RuntimeError("killed")
        return echo(r, k)

    try:
        CachedGenerator(ScriptedBackend(explode), store).generate([_req("ok1"), _req("ok2"), _req("boom")])
    except RuntimeError:
        pass
    backend = ScriptedBackend(echo)
    CachedGenerator(backend, store).generate([_req("ok1"), _req("ok2"), _req("boom")])
    assert [r.prompt for r in backend.sent] == ["boom"]


def test_gaps():
    assert _gaps([True, False, False, True, False]) == [(1, 3), (4, 5)]
    assert _gaps([True, True]) == []
