"""What differs between two runs' engine settings (config.engine), for compare's notes."""
from __future__ import annotations

from typing import Any

# The settings that change what a model generates from the same checkpoint (see models/engine_settings.py).
FIELDS = ("engine", "dtype", "tokenizer")


def differences(a: dict[str, Any] | None, b: dict[str, Any] | None) -> list[str]:
    """Human-readable differences between two runs' engine settings."""
    if not a or not b:
        return []
    out = []
    for key in FIELDS:
        va, vb = a.get(key), b.get(key)
        if isinstance(va, dict) and isinstance(vb, dict):
            for sub in sorted(set(va) | set(vb)):
                if va.get(sub) != vb.get(sub):
                    out.append(f"{key}.{sub}: {va.get(sub)!r} vs {vb.get(sub)!r}")
        elif va != vb:
            out.append(f"{key}: {va!r} vs {vb!r}")
    return out
