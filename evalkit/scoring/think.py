"""The one rule for reasoning blocks, shared by every extractor.

A model's final answer is what follows its reasoning: a closed
``<think>…</think>`` is dropped, a lone ``</think>`` (the chat template
opened the block in the prompt) drops everything before it, and an unclosed
``<think>`` means the thinking never finished, so nothing after it is a final
answer. One pass of ``str.find``: linear in the output length.
"""
from __future__ import annotations

OPEN, CLOSE = "<think>", "</think>"


def strip_think(text: str) -> str:
    """``text`` without its reasoning blocks (see the module docstring)."""
    out, pos = [], 0
    while (start := text.find(OPEN, pos)) >= 0:
        end = text.find(CLOSE, start)
        out.append(text[pos:start])
        if end < 0:  # thinking never finished: nothing in it is a final answer
            return "".join(out)
        pos = end + len(CLOSE)
    text = "".join(out) + text[pos:]
    return text.rsplit(CLOSE, 1)[-1]
