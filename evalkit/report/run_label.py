"""How a stored run is named on leaderboards and the site.

A replay re-scores another run's outputs: its model string is a file path
(``replay:out/demo``), but the outputs came from the model that produced
them, so it is shown as ``smollm2-135m (replayed)``.
"""
from __future__ import annotations

from typing import Any


def display_model(model: str, config: dict[str, Any] | None) -> str:
    """The label of a run's model: the replayed model for a replay, else the model string."""
    source = (config or {}).get("source_model")
    return f"{source} (replayed)" if source else model
