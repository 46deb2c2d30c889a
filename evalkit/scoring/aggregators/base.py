"""What every aggregator returns, and the equivalence test it is handed."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

Equiv = Callable[[Any, Any], bool]


@dataclass(frozen=True)
class Aggregate:
    """The final answer of one doc, its score, and any extra per-doc metrics (maj@k, pass@k...)."""

    extracted: Any
    score: float
    metrics: dict[str, float] = field(default_factory=dict)
