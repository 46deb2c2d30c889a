"""Plain data across the sandbox wall: a tagged JSON text that holds only
None, bool, int, float, complex, str, bytes, list, tuple, set, frozenset and dict.

An untrusted program hands its results to the harness as this text, never as
objects: whatever the program sends, ``loads`` builds only values of exactly
those types (no subclass, no ``__eq__`` of the program's), or raises
``NotPlainData``. So the comparison with expected values, done on the trusted
side, compares real data.

``CODEC_SOURCE`` is stdlib-only code that sandboxed programs run to read
their inputs and write their return values (a value of any other type is
refused, so the program can report "not plain data" instead of crashing). The text is exact about types: ints
and floats travel in hex (so -0.0, inf, nan and ints of any size survive, and
no decimal-digit limit applies), tuples stay tuples, dict keys keep their type.
"""
from __future__ import annotations

from typing import Any

MAX_DEPTH = 64  # nesting; deeper is refused on both sides (and stops cycles)
MAX_TEXT = 8 << 20  # bytes of encoded text the harness will parse at all


class NotPlainData(ValueError):
    """The text is malformed, too deep or too large, or names a type that is not plain data."""


# One codec, run from this source both in the sandboxed program and here (exec'd
# below), so the two sides can never drift apart. It builds only exact plain types.
CODEC_SOURCE = '''
def _evalkit_plain_codec():
    import json
    _type, _hex, _fromhex, _dumps, _loads = type, float.hex, float.fromhex, json.dumps, json.loads
    _int, _float, _complex, _str, _bytes, _bool = int, float, complex, str, bytes, bool
    _list, _tuple, _set, _frozenset, _dict, _len = list, tuple, set, frozenset, dict, len
    tags = {_list: "l", _tuple: "t", _set: "s", _frozenset: "fs"}
    kinds = {"l": _list, "t": _tuple, "s": _set, "fs": _frozenset}

    class NotPlain(Exception):
        pass

    def node(x, depth):
        if depth > %(depth)d:
            raise NotPlain("nested deeper than %(depth)d")
        t = _type(x)
        if x is None or t is _bool or t is _str:
            return x
        if t is _int:
            return ["i", _int.__format__(x, "x")]
        if t is _float:
            return ["f", _hex(x)]
        if t is _complex:
            return ["c", _hex(x.real), _hex(x.imag)]
        if t is _bytes:
            return ["b", _bytes.hex(x)]
        if t in tags:
            return [tags[t], [node(v, depth + 1) for v in x]]
        if t is _dict:
            return ["d", [[node(k, depth + 1), node(v, depth + 1)] for k, v in _dict.items(x)]]
        raise NotPlain("not plain data")

    def encode(x):
        """The text of ``x``, or raises NotPlain."""
        try:
            return _dumps(node(x, 0), ensure_ascii=True, check_circular=False)
        except RecursionError:
            raise NotPlain("nested too deep") from None

    def number(v):
        if _type(v) is not _str:
            raise NotPlain("malformed number")
        return v

    def build(n, depth):
        if depth > %(depth)d:
            raise NotPlain("nested deeper than %(depth)d")
        if n is None or _type(n) is _bool or _type(n) is _str:
            return n
        if _type(n) is not _list or not n or _type(n[0]) is not _str:
            raise NotPlain("malformed node")
        tag, args = n[0], n[1:]
        if tag == "i" and _len(args) == 1:
            return _int(number(args[0]), 16)
        if tag == "f" and _len(args) == 1:
            return _fromhex(number(args[0]))
        if tag == "c" and _len(args) == 2:
            return _complex(_fromhex(number(args[0])), _fromhex(number(args[1])))
        if tag == "b" and _len(args) == 1:
            return _bytes.fromhex(number(args[0]))
        if tag in kinds and _len(args) == 1 and _type(args[0]) is _list:
            return kinds[tag](build(v, depth + 1) for v in args[0])
        if tag == "d" and _len(args) == 1 and _type(args[0]) is _list:
            pairs = args[0]
            if not all(_type(p) is _list and _len(p) == 2 for p in pairs):
                raise NotPlain("malformed dict")
            return {build(k, depth + 1): build(v, depth + 1) for k, v in pairs}
        raise NotPlain("unknown tag")

    def decode(text):
        """The value ``text`` stands for, or raises NotPlain."""
        try:
            return build(_loads(text), 0)
        except NotPlain:
            raise
        except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
            raise NotPlain(_type(exc).__name__) from None

    return encode, decode, NotPlain
''' % {"depth": MAX_DEPTH}

_ns: dict[str, Any] = {}
exec(compile(CODEC_SOURCE, "<plaindata>", "exec"), _ns)
_encode, _decode, _NotPlain = _ns["_evalkit_plain_codec"]()


def dumps(value: Any) -> str:
    """The plain-data text of ``value`` (raises NotPlainData for anything else)."""
    try:
        return _encode(value)
    except _NotPlain as exc:
        raise NotPlainData(str(exc)) from None


def loads(text: str | bytes) -> Any:
    """The value a plain-data text stands for, built only from plain types."""
    if len(text) > MAX_TEXT:
        raise NotPlainData(f"more than {MAX_TEXT} bytes")
    try:
        return _decode(text)
    except _NotPlain as exc:
        raise NotPlainData(f"not plain data: {exc}") from None
