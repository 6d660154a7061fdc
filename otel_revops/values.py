"""Pure helpers making arbitrary Python values safe to show or export; none of them raises."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["plain_value", "safe_repr", "safe_str"]

_MAX_DEPTH = 32
_INT64 = 2**63


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


def _type_name(value: Any) -> str:
    try:
        return type(value).__qualname__
    except Exception:  # noqa: BLE001
        return "object"


def plain_value(value: Any, *, for_json: bool, _depth: int = 0, _seen: frozenset[int] = frozenset()) -> Any:
    """A copy of ``value`` made of str, bool, int, float, lists and string-keyed dicts (plus bytes
    unless ``for_json``, where bytes become their repr and huge ints stay ints).

    Non-finite floats, ints beyond 64 bits (OTel) and any other object become text; cycles and
    nesting deeper than 32 become ``<cycle>`` / ``<too deep>``.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        return value if for_json or -_INT64 <= value < _INT64 else str(value)
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if isinstance(value, (bytes, bytearray, memoryview)):
        return safe_repr(bytes(value)) if for_json else bytes(value)
    if _depth >= _MAX_DEPTH:
        return "<too deep>"
    if isinstance(value, Mapping):
        if id(value) in _seen:
            return "<cycle>"
        seen = _seen | {id(value)}
        try:
            return {
                safe_str(k): plain_value(v, for_json=for_json, _depth=_depth + 1, _seen=seen)
                for k, v in list(value.items())
            }
        except Exception:  # noqa: BLE001 - a broken mapping
            return safe_repr(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        if id(value) in _seen:
            return "<cycle>"
        seen = _seen | {id(value)}
        return [plain_value(v, for_json=for_json, _depth=_depth + 1, _seen=seen) for v in list(value)]
    for base in (bool, int, float, str):  # subclasses (enums, numpy-like scalars) as their base value
        if isinstance(value, base):
            try:
                return plain_value(base(value), for_json=for_json, _depth=_depth)
            except Exception:  # noqa: BLE001
                break
    return safe_str(value)
