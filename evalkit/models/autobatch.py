"""``--batch-size auto`` for the hf backend: start large, halve on out-of-memory.

The first batches hold the longest prompts (the hf backend sorts rows long
first), so the size found there fits the rest of the run; the size only ever
shrinks, and a batch that ran out of memory is retried whole at the new size.
"""
from __future__ import annotations

import logging
from typing import Callable, Iterator, Sequence, TypeVar

from evalkit.core.errors import BackendError

log = logging.getLogger("evalkit")

T = TypeVar("T")
R = TypeVar("R")

AUTO_START = 64  # first size tried by auto; model arg max_batch_size changes it


def is_oom(exc: BaseException) -> bool:
    """CUDA's OutOfMemoryError, or the allocator failures CPU and MPS raise as RuntimeError."""
    if type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in text or "can't allocate memory" in text)


class BatchSizer:
    """The batch size of one backend: fixed, or auto (halving on out-of-memory)."""

    def __init__(self, size: int | str, start: int = AUTO_START):
        self.auto = str(size) == "auto"
        self.size = int(start if self.auto else size)
        self.halvings = 0

    def run(self, items: Sequence[T], fn: Callable[[Sequence[T]], R]) -> Iterator[tuple[Sequence[T], R]]:
        """``fn`` over consecutive batches of ``items``; yields (batch, fn(batch))."""
        i = 0
        while i < len(items):
            batch = items[i:i + self.size]
            try:
                out = fn(batch)
            except Exception as exc:
                if not (self.auto and is_oom(exc)):
                    raise
                if self.size == 1:
                    raise BackendError("out of memory at batch size 1; use a smaller model, dtype=bfloat16 "
                                       "or a shorter max_length") from None
                self.size = max(1, self.size // 2)
                self.halvings += 1
                log.warning("out of memory: --batch-size auto halves to %d", self.size)
                _free_memory()
                continue
            yield batch, out
            i += len(batch)


def _free_memory() -> None:
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:
        pass
