"""Greedy decoding for the transformers backend, batched across tasks.

``model.generate`` keeps every row of a batch until the last one stops, and
grows its KV cache with a ``torch.cat`` per step (a copy of the whole cache
every token). For greedy CoT prompts, where one row may run to ``max_tokens``
while the others stopped after 40, that wastes most of the compute. This loop:

- keeps up to ``batch_size`` rows decoding at once, refilling free slots with
  the next group of rows (continuous batching), so short tasks never wait
  for the batch's longest row and a task with 3 prompts still fills a batch
  of 8 with rows of other tasks;
- prefills a group's shared prompt prefix (the few-shot exemplars) once;
- checks stop strings and EOS after every step and drops finished rows;
- writes new keys and values in place into a preallocated cache.

Each row sees exactly its own prompt: padding is masked, and position ids
count only the row's own tokens, so a row's greedy output does not depend on
which rows share its batch (up to float summation order).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable


@dataclass
class Row:
    """One greedy generation: its prompt ids and when to stop."""

    key: Any  # the caller's handle, passed back to on_done
    ids: list[int]  # full prompt token ids (already cut to the context budget)
    max_new: int
    stops: tuple[str, ...]
    prefix: int = 0  # tokens at the start of ids shared with the rest of its group
    out: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Done:
    """What a finished row produced."""

    text: str
    reason: str  # "stop" (EOS or a stop string) or "length"
    n_tokens: int


def cache_kwarg(model) -> str:
    """The forward argument that takes a KV cache: ``cache`` from transformers
    5.2x (which warns on the old name), ``past_key_values`` before."""
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _layer_class():
    from transformers.cache_utils import DynamicLayer

    class GrowLayer(DynamicLayer):
        """A DynamicLayer whose storage grows in blocks and is written in place,
        instead of being concatenated (copied) at every decoding step."""

        block = 128

        def _store(self, k, v):
            self.buf_k, self.buf_v, self.n = k, v, k.shape[-2]
            self.keys, self.values = k, v

        def update(self, key_states, value_states, *args, **kwargs):
            import torch

            if not self.is_initialized:
                self.lazy_initialization(key_states, value_states)
                self._store(key_states, value_states)
                return self.keys, self.values
            need = self.n + key_states.shape[-2]
            if need > self.buf_k.shape[-2]:
                cap = need + self.block
                shape = (*self.buf_k.shape[:2], cap, self.buf_k.shape[-1])
                k = torch.empty(shape, dtype=self.buf_k.dtype, device=self.buf_k.device)
                v = torch.empty(shape, dtype=self.buf_v.dtype, device=self.buf_v.device)
                k[:, :, :self.n] = self.buf_k[:, :, :self.n]
                v[:, :, :self.n] = self.buf_v[:, :, :self.n]
                self.buf_k, self.buf_v = k, v
            self.buf_k[:, :, self.n:need] = key_states
            self.buf_v[:, :, self.n:need] = value_states
            self.n = need
            self.keys, self.values = self.buf_k[:, :, :need], self.buf_v[:, :, :need]
            return self.keys, self.values

    return GrowLayer


def new_cache(n_layers: int, kv: list[tuple[Any, Any]] | None = None):
    """A cache of GrowLayers, optionally filled with (keys, values) per layer."""
    from transformers import DynamicCache

    cls = _layer_class()
    cache = DynamicCache()
    layers = [cls() for _ in range(n_layers)]
    cache.layers = layers
    for layer, (k, v) in zip(layers, kv or []):
        layer.lazy_initialization(k, v)
        layer._store(k.contiguous(), v.contiguous())
    return cache


def _kv(cache) -> list[tuple[Any, Any]]:
    return [(layer.keys, layer.values) for layer in cache.layers]


class GreedyDecoder:
    """Decodes groups of rows with one model; see the module docstring."""

    def __init__(self, model, tok, batch_size: int, eos: Iterable[int], pad: int, device: str):
        import torch

        self.torch = torch
        self.model = model
        self.tok = tok
        self.batch_size = max(1, int(batch_size))
        self.eos = set(eos)
        self.pad = pad
        self.device = device
        self.n_layers = model.config.num_hidden_layers
        self.cache_kw = cache_kwarg(model)
        self._prefix: tuple[tuple[int, ...], list[tuple[Any, Any]]] | None = None

    def run(self, groups: list[list[Row]], on_done: Callable[[Row, Done], None]) -> None:
        """Decode every row of every group; ``on_done`` is called as each finishes."""
        torch = self.torch
        chunks = [c for g in groups for c in _split(g, self.batch_size)]
        rows: list[Row] = []
        cache: Any = None  # the batch's KV cache, attention mask, positions and last tokens (torch objects)
        mask: Any = None
        pos: Any = None
        last: Any = None
        with torch.inference_mode():
            while chunks or rows:
                # Refill free slots; a chunk (rows of one group) enters whole so its prefix is shared.
                while chunks and len(rows) + len(chunks[0]) <= self.batch_size:
                    chunk = chunks.pop(0)
                    g_cache, g_mask, g_pos, logits = self._prefill(chunk)
                    nxt = logits.argmax(-1)
                    if rows:
                        cache, mask = self._merge(cache, mask, g_cache, g_mask)
                        pos, last = torch.cat([pos, g_pos]), torch.cat([last, nxt])
                    else:
                        cache, mask, pos, last = g_cache, g_mask, g_pos, nxt
                    rows.extend(chunk)
                keep = self._advance(rows, last.tolist(), on_done)
                if len(keep) < len(rows):
                    if not keep:
                        rows, cache = [], None
                        continue
                    idx = torch.tensor(keep, device=self.device)
                    cache.batch_select_indices(idx)
                    for layer in cache.layers:
                        layer._store(layer.keys, layer.values)
                    mask, pos, last = mask[idx], pos[idx], last[idx]
                    rows = [rows[i] for i in keep]
                    cache, mask = self._trim(cache, mask)
                mask = torch.cat([mask, mask.new_ones((len(rows), 1))], dim=1)
                out = self.model(input_ids=last[:, None], attention_mask=mask, position_ids=pos[:, None],
                                 use_cache=True, **{self.cache_kw: cache})
                last = out.logits[:, -1].argmax(-1)
                pos = pos + 1

    def _advance(self, rows: list[Row], tokens: list[int], on_done: Callable[[Row, Done], None]) -> list[int]:
        """Append each row's new token; report finished rows; indices of the rest."""
        keep = []
        for i, (row, t) in enumerate(zip(rows, tokens)):
            if t in self.eos:
                on_done(row, self._finish(row, eos=True))
                continue
            row.out.append(t)
            if row.stops:
                text = self.tok.decode(row.out, skip_special_tokens=True)
                if any(s in text for s in row.stops):
                    on_done(row, self._finish(row, eos=False, text=text))
                    continue
            if len(row.out) >= row.max_new:
                on_done(row, self._finish(row, eos=False))
                continue
            keep.append(i)
        return keep

    def _finish(self, row: Row, eos: bool, text: str | None = None) -> Done:
        from evalkit.models.base import truncate_at_stop

        if text is None:
            text = self.tok.decode(row.out, skip_special_tokens=True)
        cut = truncate_at_stop(text, row.stops)
        reason = "stop" if eos or len(cut) < len(text) else "length"
        return Done(cut, reason, len(row.out))

    def _prefix_kv(self, prefix: tuple[int, ...]) -> list[tuple[Any, Any]]:
        """KV of a group's shared prefix, computed once and kept for its next chunk."""
        if self._prefix is None or self._prefix[0] != prefix:
            ids = self.torch.tensor([list(prefix)], device=self.device)
            cache = new_cache(self.n_layers)
            self.model(input_ids=ids, use_cache=True, logits_to_keep=1, **{self.cache_kw: cache})
            self._prefix = (prefix, _kv(cache))
        return self._prefix[1]

    def _prefill(self, rows: list[Row]):
        """(cache, mask, next positions, last logits) for a chunk of one group.
        Padding sits between the shared prefix and each row's own suffix."""
        torch = self.torch
        p = min(r.prefix for r in rows)
        prefix = tuple(rows[0].ids[:p])
        suffixes = [r.ids[p:] for r in rows]
        width = max(len(s) for s in suffixes)
        ids = torch.tensor([[self.pad] * (width - len(s)) + s for s in suffixes], device=self.device)
        own = torch.tensor([[0] * (width - len(s)) + [1] * len(s) for s in suffixes], device=self.device)
        if p:
            kv = [(k.expand(len(rows), -1, -1, -1), v.expand(len(rows), -1, -1, -1))
                  for k, v in self._prefix_kv(prefix)]
            cache = new_cache(self.n_layers, kv)
            mask = torch.cat([own.new_ones((len(rows), p)), own], dim=1)
        else:
            cache, mask = new_cache(self.n_layers), own
        positions = (p + own.cumsum(-1) - 1).clamp(min=0)
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True,
                         logits_to_keep=1, **{self.cache_kw: cache})
        nxt_pos = torch.tensor([len(r.ids) for r in rows], device=self.device)
        return cache, mask, nxt_pos, out.logits[:, -1]

    def _merge(self, a, mask_a, b, mask_b):
        """One cache holding a's rows then b's, left-padded to one length."""
        torch = self.torch
        la, lb = mask_a.shape[1], mask_b.shape[1]
        width = max(la, lb)

        def padl(t, n):  # left-pad dim 2 (keys/values) by n zero columns
            return t if n == 0 else torch.cat([t.new_zeros((*t.shape[:2], n, t.shape[-1])), t], dim=2)

        kv = [(torch.cat([padl(ka, width - la), padl(kb, width - lb)]),
               torch.cat([padl(va, width - la), padl(vb, width - lb)]))
              for (ka, va), (kb, vb) in zip(_kv(a), _kv(b))]
        mask = torch.cat([torch.cat([mask_a.new_zeros((mask_a.shape[0], width - la)), mask_a], dim=1),
                          torch.cat([mask_b.new_zeros((mask_b.shape[0], width - lb)), mask_b], dim=1)])
        return new_cache(self.n_layers, kv), mask

    def _trim(self, cache, mask, slack: int = 64):
        """Drop leading columns that every remaining row masks out (left by rows
        that finished), once there are enough of them to be worth a copy."""
        lead = int((mask.cumsum(1) == 0).all(0).sum().item())
        if lead < slack:
            return cache, mask
        kv = [(k[:, :, lead:], v[:, :, lead:]) for k, v in _kv(cache)]
        return new_cache(self.n_layers, kv), mask[:, lead:]


def _split(rows: list[Row], size: int) -> list[list[Row]]:
    return [rows[i:i + size] for i in range(0, len(rows), size)]
