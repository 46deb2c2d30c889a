"""data_parallel_size=2: two engine replicas as Ray actors on this CPU machine."""
from __future__ import annotations

import ray

from evalkit.core.types import GenParams, LoglikelihoodRequest, Request
from evalkit.models.vllm import VLLMBackend


def test_replicas_live_for_the_run_and_agree_with_one_engine(smollm, engine_args, date_prompts):
    batch = [Request("t", i, p, GenParams(temperature=0.8, n=2, max_tokens=8))
             for i, p in enumerate(date_prompts + ["Hello", "Paris is"])]
    scored = [LoglikelihoodRequest("t", 0, "The capital of France is", " Paris"),
              LoglikelihoodRequest("t", 1, "1, 2, 3,", " 4")]
    built = VLLMBackend.engines_built
    dp = VLLMBackend("smollm2-135m", data_parallel_size="2", **engine_args)
    try:
        seen: list[int] = []
        first = dp.generate(batch, on_result=lambda i, g: seen.append(i))
        second = dp.generate(batch)
        lls = dp.loglikelihood(scored)
        assert VLLMBackend.engines_built == built + 2  # one per replica, not one per call
    finally:
        dp.close()
    assert sorted(seen) == list(range(len(batch)))
    # Sharding changes which engine ran a request, never what it produced.
    alone = [g.texts for g in smollm.generate(batch)]
    assert [g.texts for g in first] == [g.texts for g in second] == alone
    assert [(x.logprob, x.is_greedy) for x in lls] == [(x.logprob, x.is_greedy) for x in smollm.loglikelihood(scored)]
    assert not ray.is_initialized()  # close() ended the Ray session it started
