"""Text that can always be stored: model outputs with lone surrogates made valid.

A JSON escape such as ``"\\ud800"`` (from an API server or a replay file) decodes
to a lone surrogate, which Python holds but UTF-8 cannot encode, so SQLite and
results.json would fail on it. A Python str never holds a valid surrogate pair
(those decode to one code point), so every surrogate code point is lone and is
replaced by U+FFFD, as a UTF-8 decoder with errors="replace" would do.
"""
from __future__ import annotations

import re

_SURROGATE = re.compile("[\ud800-\udfff]")


def storable(text: str) -> str:
    """``text`` with each lone surrogate replaced by U+FFFD (unchanged when it has none)."""
    return _SURROGATE.sub("\ufffd", text) if isinstance(text, str) else text
