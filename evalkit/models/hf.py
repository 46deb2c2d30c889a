"""transformers backend: CPU by default (the embedded default), GPU when present.

Rows of a batch are one (request, sample index) each. Sampling does not use
transformers' batch-wide RNG: every row draws from its own generator seeded
by ``Request.sample_seed``, so a sample's text does not depend on which other
prompts shared its batch, and a resumed run reproduces it exactly.
"""
from __future__ import annotations

import copy
import hashlib
import os
from typing import Any, Callable, Sequence

from evalkit.core.errors import BackendError, ConfigError
from evalkit.core.hashing import folder_fingerprint
from evalkit.core.types import Generation, Loglikelihood, LoglikelihoodRequest, Request
from evalkit.models.aliases import resolve_model_path
from evalkit.models.autobatch import AUTO_START, BatchSizer
from evalkit.models.base import BaseBackend, Progress, truncate_at_stop
from evalkit.models.engine_settings import encode_prompt, tokenizer_settings
from evalkit.models.hf_decode import Done, GreedyDecoder, Row, cache_kwarg
from evalkit.models.hf_loaded import adapter_sha256, loaded_identity, resolve_chat_template, with_adapter


class HFBackend(BaseBackend):
    path: str | None
    revision: str | None
    peft: str | None
    device_map: str | None

    def __init__(self, target: str, batch_size: int | str = 8, dtype: str = "float32", device: str | None = None,
                 apply_chat_template: bool = False, system_prompt: str | None = None,
                 max_length: int | None = None, trust_remote_code: bool = False, revision: str | None = None,
                 device_map: str | None = None, peft: str | None = None, chat_template: str | None = None,
                 max_batch_size: int = AUTO_START, **unknown: Any):
        if unknown:
            raise ConfigError(f"hf backend: unknown --model-args {', '.join(sorted(unknown))}")
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from evalkit.core.logs import adopt_transformers

        adopt_transformers()  # its warnings go to the log file unless --verbose
        if dtype != "auto" and not isinstance(getattr(torch, str(dtype), None), torch.dtype):
            raise ConfigError(f"hf backend: unknown dtype '{dtype}'; use float32, bfloat16, float16 or auto")
        path = resolve_model_path(target)
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        try:
            tok = AutoTokenizer.from_pretrained(path, revision=revision, trust_remote_code=trust_remote_code)
            model: Any = AutoModelForCausalLM.from_pretrained(
                path, dtype="auto" if dtype == "auto" else getattr(torch, dtype), revision=revision,
                trust_remote_code=trust_remote_code, **({"device_map": device_map} if device_map else {}))
        except (OSError, ValueError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"cannot load model '{target}' ({first[:200]}); give a local model folder, "
                              "or a hub id with network access") from None
        if not device_map:  # with a device_map, accelerate has placed the layers already
            model = model.to(device)
        if peft:
            model = with_adapter(model, peft)
        self.path, self.revision, self.peft, self.device_map = path, revision, peft, device_map
        self._setup(model, tok, target, batch_size, dtype, device, apply_chat_template, system_prompt, max_length,
                    chat_template, max_batch_size)

    @classmethod
    def from_loaded(cls, model: Any, tokenizer: Any, label: str, batch_size: int | str = 8,
                    apply_chat_template: bool = False, system_prompt: str | None = None,
                    max_length: int | None = None, chat_template: str | None = None,
                    max_batch_size: int = AUTO_START, **unknown: Any) -> "HFBackend":
        """A backend over a model and tokenizer already in memory (a training loop's
        checkpoint). Its cache identity hashes the config and the weights, never id()."""
        if unknown:
            raise ConfigError(f"in-memory transformers model: unknown options {', '.join(sorted(unknown))}")
        self = cls.__new__(cls)
        self.path, self.revision, self.peft, self.device_map = None, None, None, None
        param = next(model.parameters())
        self._setup(model, tokenizer, label, batch_size, str(param.dtype).removeprefix("torch."), str(param.device),
                    apply_chat_template, system_prompt, max_length, chat_template, max_batch_size)
        self._loaded_identity = loaded_identity(model, label)
        return self

    def _setup(self, model: Any, tok: Any, target: str, batch_size: int | str, dtype: str, device: str,
               apply_chat_template: bool, system_prompt: str | None, max_length: int | None,
               chat_template: str | None, max_batch_size: int) -> None:
        import torch

        self.torch = torch
        self.target = target
        self.model, self.tok = model, tok
        self.sizer = BatchSizer(batch_size, max_batch_size)
        self.device = device
        self.dtype = dtype
        self.apply_chat_template = bool(apply_chat_template or chat_template)
        self.system_prompt = system_prompt
        self._loaded_identity: dict[str, Any] | None = None
        if self.device == "cpu":
            torch.set_num_threads(os.cpu_count() or 1)
        self.model.eval()
        self.tok.padding_side = "left"
        if self.tok.pad_token is None:
            self.tok.pad_token = self.tok.eos_token
        self.max_length = int(max_length) if max_length else int(
            getattr(self.model.config, "max_position_embeddings", 4096))
        self.chat_template_name = chat_template
        self.chat_template = resolve_chat_template(tok, chat_template) if chat_template else (
            getattr(self.tok, "chat_template", None) or "")
        if isinstance(self.chat_template, dict):  # several named templates: the default one
            self.chat_template = self.chat_template.get("default", "")
        self._prefix: tuple[tuple[int, ...], Any] | None = None
        if self.apply_chat_template and not self.chat_template:
            raise ConfigError(f"--apply-chat-template: model '{target}' has no chat template")

    @property
    def batch_size(self) -> int:
        return self.sizer.size

    def identity(self) -> dict[str, Any]:
        if self._loaded_identity is not None:
            ident: dict[str, Any] = dict(self._loaded_identity)
        else:
            ident = {"backend": "hf", "model": self.target, "dtype": self.dtype}
        if self.path and self.target != "smollm2-135m":
            ident["path"] = self.path
            ident["files_sha256"] = folder_fingerprint(self.path)
        if self.revision:
            ident["revision"] = self.revision
        if self.peft:
            ident["peft"] = self.peft
            ident["peft_sha256"] = adapter_sha256(self.peft)
        if self.apply_chat_template:
            ident["chat_template_sha256"] = hashlib.sha256(self.chat_template.encode()).hexdigest()
            ident["system_prompt"] = self.system_prompt
            if self.chat_template_name:
                ident["chat_template_name"] = self.chat_template_name
        return ident

    def engine_settings(self) -> dict[str, Any]:
        """Engine, dtype and tokenizer settings for results config (see evalkit.models.engine_settings)."""
        import transformers

        return {"engine": "hf", "engine_version": transformers.__version__,
                "dtype": str(self.model.dtype).removeprefix("torch."),
                "tokenizer": tokenizer_settings(self.tok, False, self.chat_template if self.apply_chat_template else None)}

    def format_prompt(self, prompt: str) -> str:
        if not self.apply_chat_template:
            return prompt
        messages = ([{"role": "system", "content": self.system_prompt}] if self.system_prompt else [])
        messages.append({"role": "user", "content": prompt})
        return self.tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True,
                                            chat_template=self.chat_template)

    # -- generation --------------------------------------------------------
    def generate(self, requests: list[Request], progress: Progress | None = None,
                 on_result: Callable[[int, Generation], None] | None = None) -> list[Generation]:
        encoded = {i: encode_prompt(self.tok, self.format_prompt(r.prompt)) for i, r in enumerate(requests)}
        texts: dict[int, list[str | None]] = {i: [None] * r.params.n for i, r in enumerate(requests)}
        reasons: dict[int, list[str]] = {i: [""] * r.params.n for i, r in enumerate(requests)}
        usage = {i: {"prompt_tokens": len(encoded[i]), "completion_tokens": 0} for i in range(len(requests))}
        results: list[Generation | None] = [None] * len(requests)

        def finish(i: int) -> None:
            if results[i] is None and all(t is not None for t in texts[i]):
                results[i] = gen = Generation([t or "" for t in texts[i]], reasons[i], usage[i])
                if on_result:
                    on_result(i, gen)
                if progress:
                    progress(1)

        greedy = [i for i, r in enumerate(requests) if _rows_needed(r) == 1]
        if greedy:
            def done(row: Row, out: Done) -> None:
                n = requests[row.key].params.n  # greedy: every sample is the same text
                texts[row.key], reasons[row.key] = [out.text] * n, [out.reason] * n
                usage[row.key]["completion_tokens"] += out.n_tokens
                finish(row.key)

            self._decoder().run(self._greedy_groups(requests, encoded, greedy), done)
        sampled = [r if _rows_needed(r) > 1 else None for r in requests]
        for rows in _groups(sampled, encoded):
            prefix = _shared_prefix([encoded[i] for i, _ in rows])
            run_rows = lambda batch, prefix=prefix: self._generate_rows(  # noqa: E731
                [(requests[i], k, encoded[i]) for i, k in batch], prefix)
            for batch, outs in self.sizer.run(rows, run_rows):
                for (i, k), (text, reason, n_new) in zip(batch, outs):
                    n = requests[i].params.n
                    if _rows_needed(requests[i]) == 1 and n > 1:  # greedy: every sample is the same
                        texts[i], reasons[i] = [text] * n, [reason] * n
                    else:
                        texts[i][k], reasons[i][k] = text, reason
                    usage[i]["completion_tokens"] += n_new
                for i in sorted({i for i, _ in batch}):
                    finish(i)
        return [g for g in results if g is not None]

    def _decoder(self) -> GreedyDecoder:
        eos = set(_as_list(self.tok.eos_token_id)) | set(_as_list(getattr(self.model.generation_config, "eos_token_id", None)))
        return GreedyDecoder(self.model, self.tok, self.batch_size, eos, self.tok.pad_token_id, self.device)

    def _greedy_groups(self, requests: list[Request], encoded: dict[int, list[int]], which: list[int]) -> list[list[Row]]:
        """Rows grouped by task (a task's prompts share their few-shot prefix),
        longest first within a group and longest groups first."""
        groups = []
        chosen = set(which)
        for rows in _groups([r if i in chosen else None for i, r in enumerate(requests)], encoded):
            ids = [self._fit(encoded[i], requests[i].params.max_tokens) for i, _ in rows]
            prefix = len(_shared_prefix(ids))
            groups.append([Row(i, x, requests[i].params.max_tokens, tuple(s for s in requests[i].params.stop if s), prefix)
                           for (i, _), x in zip(rows, ids)])
        return sorted(groups, key=lambda g: -len(g[0].ids))

    def _fit(self, ids: list[int], max_new: int) -> list[int]:
        """Keep the end of an over-long prompt, leaving room for max_new tokens."""
        budget = self.max_length - max_new
        if budget <= 0:
            raise ConfigError(f"max_tokens {max_new} does not fit the model's context of {self.max_length}")
        return ids[-budget:]

    def _prefix_cache(self, prefix: tuple[int, ...]):
        """KV cache of a prompt prefix shared by a group of rows (the few-shot
        exemplars), computed once per group instead of once per row."""
        if self._prefix is not None and self._prefix[0] == prefix:
            return self._prefix[1]
        with self.torch.inference_mode():
            ids = self.torch.tensor([list(prefix)], device=self.device)
            cache = self.model(input_ids=ids, use_cache=True).past_key_values
        self._prefix = (prefix, cache)
        return cache

    def _generate_rows(self, rows: list[tuple[Request, int, list[int]]], prefix: tuple[int, ...] = ()
                       ) -> list[tuple[str, str, int]]:
        torch = self.torch
        from transformers import LogitsProcessorList, StoppingCriteriaList

        max_new = max(r.params.max_tokens for r, _, _ in rows)
        budget = self.max_length - max_new
        if budget <= 0:
            raise ConfigError(f"max_tokens {max_new} does not fit the model's context of {self.max_length}")
        if len(prefix) + max(len(e) - len(prefix) for _, _, e in rows) > budget:
            prefix = ()  # over-long prompts are cut from the left, which breaks the shared prefix
        suffixes = [e[len(prefix):][-budget:] for _, _, e in rows]
        width = max(len(x) for x in suffixes)
        pad = self.tok.pad_token_id
        # Padding sits between the shared prefix and each suffix; the attention
        # mask hides it and position ids follow the mask, so every row sees
        # exactly its own prompt.
        input_ids = torch.tensor([list(prefix) + [pad] * (width - len(x)) + x for x in suffixes], device=self.device)
        attn = torch.tensor([[1] * len(prefix) + [0] * (width - len(x)) + [1] * len(x) for x in suffixes],
                            device=self.device)
        kwargs = {}
        if prefix:
            cache = copy.deepcopy(self._prefix_cache(prefix))
            cache.batch_repeat_interleave(len(rows))
            kwargs[cache_kwarg(self.model)] = cache
        total = len(prefix) + width
        sampler = _RowSampler([r for r, _, _ in rows], [k for _, k, _ in rows], self.device)
        stopper = _StopOnStrings(self.tok, [r.params for r, _, _ in rows], total)
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=input_ids, attention_mask=attn, max_new_tokens=max_new, do_sample=False,
                logits_processor=LogitsProcessorList([sampler]), stopping_criteria=StoppingCriteriaList([stopper]),
                pad_token_id=pad, num_beams=1, temperature=None, top_p=None, top_k=None, **kwargs)
        results = []
        eos = set(_as_list(self.tok.eos_token_id)) | set(_as_list(getattr(self.model.generation_config, "eos_token_id", None)))
        for row, (req, _, _) in enumerate(rows):
            new = out[row, total:].tolist()
            limit = req.params.max_tokens  # rows share max_new; each honours its own
            cut = next((j for j, t in enumerate(new[:limit]) if t in eos), None)
            toks = new[:cut] if cut is not None else new[:limit]
            text = self.tok.decode(toks, skip_special_tokens=True)
            stopped = truncate_at_stop(text, req.params.stop)
            reason = "stop" if (cut is not None or len(stopped) < len(text)) else "length"
            results.append((stopped, reason, len(toks)))
        return results

    # -- log-likelihood ------------------------------------------------------
    def loglikelihood(self, requests: list[LoglikelihoodRequest]) -> list[Loglikelihood]:
        out: list[Loglikelihood] = []
        for _, scored in self.sizer.run(requests, self._loglikelihood_batch):
            out.extend(scored)
        return out

    def _loglikelihood_batch(self, batch: Sequence[LoglikelihoodRequest]) -> list[Loglikelihood]:
        torch = self.torch
        out: list[Loglikelihood] = []
        pairs = []
        for r in batch:
            ctx = self.tok(self.format_prompt(r.context), add_special_tokens=False)["input_ids"]
            cont = self.tok(r.continuation, add_special_tokens=False)["input_ids"]
            if not cont:
                raise BackendError(f"empty continuation for {r.task} doc {r.doc_id}")
            whole = (ctx + cont)[-(self.max_length + 1):]
            pairs.append((whole, len(cont)))
        width = max(len(w) - 1 for w, _ in pairs)
        pad = self.tok.pad_token_id
        inp = torch.tensor([[pad] * (width - len(w) + 1) + w[:-1] for w, _ in pairs], device=self.device)
        attn = torch.tensor([[0] * (width - len(w) + 1) + [1] * (len(w) - 1) for w, _ in pairs], device=self.device)
        with torch.inference_mode():
            logits = self.model(input_ids=inp, attention_mask=attn).logits.float()
        logp = torch.log_softmax(logits, dim=-1)
        for row, ((whole, n_cont), r) in enumerate(zip(pairs, batch)):
            target = torch.tensor(whole[-n_cont:], device=self.device)
            lp = logp[row, -n_cont:, :]
            total = lp.gather(1, target[:, None]).sum().item()
            greedy = bool((lp.argmax(-1) == target).all().item())
            out.append(Loglikelihood(total, greedy, n_cont, len(r.continuation)))
        return out


def _groups(requests: list[Request | None], encoded: dict[int, list[int]]) -> list[list[tuple[int, int]]]:
    """(request, sample) rows grouped by task, longest prompts first within a
    task: a task's prompts share their few-shot prefix, and long-first puts an
    out-of-memory in the first batch rather than after an hour."""
    by_task: dict[str, list[tuple[int, int]]] = {}
    for i, r in enumerate(requests):
        if r is None:  # handled elsewhere
            continue
        by_task.setdefault(r.task, []).extend((i, k) for k in range(_rows_needed(r)))
    return [sorted(rows, key=lambda ik: (-len(encoded[ik[0]]), ik)) for rows in by_task.values()]


def _shared_prefix(seqs: list[list[int]], minimum: int = 32) -> tuple[int, ...]:
    """Longest common token prefix, leaving each row at least one token of its
    own; () when it is too short to be worth a separate forward pass."""
    if len(seqs) < 2:
        return ()
    limit = min(len(s) for s in seqs) - 1
    n = 0
    first = seqs[0]
    while n < limit and all(s[n] == first[n] for s in seqs[1:]):
        n += 1
    return tuple(first[:n]) if n >= minimum else ()


def _rows_needed(req: Request) -> int:
    return 1 if req.params.temperature == 0 else req.params.n


def _as_list(x: Any) -> list[int]:
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [int(x)]


class _RowSampler:
    """Per-row temperature/top-p sampling with per-row generators; greedy rows
    are left alone. Returns logits where only the drawn token is finite, so
    transformers' greedy step picks it."""

    def __init__(self, requests: list[Request], sample_idx: list[int], device: str):
        import torch

        self.params = [r.params for r in requests]
        self.gens = []
        for r, k in zip(requests, sample_idx):
            g = torch.Generator(device="cpu")
            g.manual_seed(r.sample_seed(k))
            self.gens.append(g)

    def __call__(self, input_ids, scores):
        import torch

        for row, p in enumerate(self.params):
            if p.temperature == 0:
                continue
            probs = torch.softmax(scores[row].float() / p.temperature, dim=-1).cpu()
            if p.top_p < 1.0:
                sorted_p, order = probs.sort(descending=True)
                keep = sorted_p.cumsum(0) - sorted_p < p.top_p  # always keeps the top token
                probs = torch.zeros_like(probs).scatter(0, order[keep], sorted_p[keep])
            tok = torch.multinomial(probs, 1, generator=self.gens[row]).item()
            row_scores = torch.full_like(scores[row], float("-inf"))
            row_scores[tok] = 0.0
            scores[row] = row_scores
        return scores


class _StopOnStrings:
    """Marks a row finished once its new text contains one of its stop strings."""

    def __init__(self, tok, params, prompt_width: int):
        self.tok = tok
        self.stops = [tuple(s for s in p.stop if s) for p in params]
        self.limits = [p.max_tokens for p in params]
        self.width = prompt_width

    def __call__(self, input_ids, scores, **kwargs):
        import torch

        done = []
        n_new = input_ids.shape[1] - self.width
        for row, stops in enumerate(self.stops):
            if n_new >= self.limits[row]:
                done.append(True)
                continue
            if not stops:
                done.append(False)
                continue
            text = self.tok.decode(input_ids[row, self.width:], skip_special_tokens=True)
            done.append(any(s in text for s in stops))
        return torch.tensor(done, device=input_ids.device)
