"""evalkit: an LLM evaluation harness.

task spec -> requests -> backend -> responses -> aggregator/critic -> scorer -> metrics -> store -> report

``from evalkit import evaluate`` is the Python API (evalkit.api); it is imported
on first use so that ``import evalkit`` stays cheap.
"""
from typing import Any

__version__ = "0.1.0"
__all__ = ["evaluate", "EvalResult"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from evalkit import api

        return getattr(api, name)
    raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
