"""How a metric is shown: rates (accuracy, pass@k, no-answer rate) as points on a
0-100 scale, counts (CRITIC rounds, tool calls, tokens) as they are, since
"critic_rounds 150.00" reads as a rate of 150 %."""
from __future__ import annotations

COUNT_SUFFIXES = ("_rounds", "_calls", "_tokens")


def is_count(metric: str) -> bool:
    """A mean number of things per sample, not a rate (``critic_rounds``, ``tool_calls``)."""
    return metric.removesuffix("_stderr").endswith(COUNT_SUFFIXES)


def display_scale(metric: str) -> float:
    return 1.0 if is_count(metric) else 100.0
