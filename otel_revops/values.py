"""Pure helpers making arbitrary Python values safe to show or export; none of them raises."""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

__all__ = ["INT64_BOUND", "cut_text", "plain_value", "safe_repr", "safe_str", "valid_text"]

_MAX_DEPTH = 32
#: Integers ``-INT64_BOUND <= n < INT64_BOUND`` fit a signed 64-bit integer (OTel, BSON).
INT64_BOUND = 2**63
_SURROGATE = re.compile("[\ud800-\udfff]")


def safe_repr(value: Any) -> str:
    """``repr(value)``, or a placeholder naming the type when ``repr`` itself fails."""
    try:
        return repr(value)
    except Exception:  # noqa: BLE001 - a user's __repr__ may raise anything
        return f"<unrepresentable {_type_name(value)}>"


def safe_str(value: Any) -> str:
    """``str(value)``, falling back to :func:`safe_repr` when ``str`` fails."""
    if type(value) is str:
        return value
    try:
        return str(value)
    except Exception:  # noqa: BLE001 - a user's __str__ may raise anything
        return safe_repr(value)


def valid_text(text: str) -> str:
    """``text`` as valid Unicode: lone surrogates (which no UTF-8 encoder, and so neither OTLP nor BSON,
    accepts) become U+FFFD."""
    if text.isascii() or _SURROGATE.search(text) is None:
        return text
    return _SURROGATE.sub("\ufffd", text)


def _type_name(value: Any) -> str:
    try:
        return type(value).__qualname__
    except Exception:  # noqa: BLE001
        return "object"


def cut_text(text: str, max_length: int | None) -> str:
    """``text`` if it fits ``max_length`` characters, else its head and a marker saying how much was
    left out, together within ``max_length``."""
    if max_length is None or len(text) <= max_length:
        return text
    room = max_length - len(f"…[truncated {len(text)} characters]")  # the marker is never longer than this
    if room <= 0:
        return text[:max_length]
    return f"{text[:room]}…[truncated {len(text) - room} characters]"


def plain_value(
    value: Any,
    *,
    for_json: bool,
    max_length: int | None = None,
    max_depth: int = _MAX_DEPTH,
    _depth: int = 0,
    _seen: frozenset[int] = frozenset(),
) -> Any:
    """A copy of ``value`` made of str, bool, int, float, lists and string-keyed dicts (plus bytes
    unless ``for_json``, where bytes become their repr and huge ints stay ints).

    Non-finite floats, ints beyond 64 bits (OTel) and any other object become text; cycles and
    nesting deeper than ``max_depth`` become ``<cycle>`` / ``<too deep>``; strings longer than ``max_length``
    characters are cut with a marker.
    """
    kind = type(value)
    if kind is str:
        return cut_text(valid_text(value), max_length)
    if kind is bool or value is None:
        return value
    if kind is int:
        return value if for_json or -INT64_BOUND <= value < INT64_BOUND else str(value)
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return safe_repr(bytes(value)) if for_json else bytes(value)
    if _depth >= max_depth:
        return "<too deep>"
    if isinstance(value, Mapping):
        if id(value) in _seen:
            return "<cycle>"
        seen = _seen | {id(value)}
        try:
            return {
                valid_text(safe_str(k)): plain_value(
                    v, for_json=for_json, max_length=max_length, max_depth=max_depth, _depth=_depth + 1, _seen=seen
                )
                for k, v in list(value.items())
            }
        except Exception:  # noqa: BLE001 - a broken mapping
            return safe_repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        if id(value) in _seen:
            return "<cycle>"
        seen = _seen | {id(value)}
        return [
            plain_value(v, for_json=for_json, max_length=max_length, max_depth=max_depth, _depth=_depth + 1, _seen=seen)
            for v in list(value)
        ]
    for base in (bool, int, float, str):  # subclasses (enums, numpy-like scalars) as their base value
        if isinstance(value, base):
            try:
                return plain_value(
                    base(value), for_json=for_json, max_length=max_length, max_depth=max_depth, _depth=_depth
                )
            except Exception:  # noqa: BLE001
                break
    return cut_text(valid_text(safe_str(value)), max_length)
