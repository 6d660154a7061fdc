"""Pure functions turning one record into console text: the original's pretty format and JSON lines.

Nothing here does I/O or raises on odd values: anything that cannot be shown as JSON is shown by a
safe representation.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from typing import Any

from otel_revops.values import plain_value, safe_repr, safe_str

__all__ = [
    "ANSI",
    "ASCII_GLYPHS",
    "EMOJI_GLYPHS",
    "PLAIN",
    "Glyphs",
    "Palette",
    "format_timestamp",
    "jsonable",
    "render_json",
    "render_pretty",
    "render_properties",
]

Glyphs = tuple[str, str, str, str, str]
#: debug, info, warning, error, critical — the original's emoji.
EMOJI_GLYPHS: Glyphs = ("🔍", "ℹ️", "⚠️", "❌", "🚨")
#: For streams that cannot encode the emoji.
ASCII_GLYPHS: Glyphs = ("[.]", "[i]", "[!]", "[x]", "[X]")

_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PADDED_NAMES = tuple(name.ljust(7) for name in _NAMES)
_JSON_LEVELS = tuple(name.lower() for name in _NAMES)


@dataclass(frozen=True)
class Palette:
    """ANSI sequences for each part of a pretty line (empty strings: no colour)."""

    levels: tuple[str, str, str, str, str] = ("", "", "", "", "")
    dim: str = ""
    bold: str = ""
    reset: str = ""


PLAIN = Palette()
ANSI = Palette(
    levels=("\x1b[36m", "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[1;31m"),
    dim="\x1b[2m",
    bold="\x1b[1m",
    reset="\x1b[0m",
)


def level_index(levelno: int) -> int:
    """0..4 for debug, info, warning, error, critical; custom levels take the nearest one below."""
    if levelno >= 50:
        return 4
    if levelno >= 40:
        return 3
    if levelno >= 30:
        return 2
    if levelno >= 20:
        return 1
    return 0


_second_cache: list[Any] = [-1, ""]
_MILLIS = tuple(f"{millis:03d}Z" for millis in range(1000))


def format_timestamp(created: float) -> str:
    """UTC ISO-8601 with milliseconds and ``Z``: ``2024-01-15T10:30:45.123Z``."""
    seconds = int(created)
    # A float epoch carries ~0.2 µs of error: without the nudge .123 can read back as .122.
    millis = min(999, max(0, int((created - seconds) * 1000 + 0.0005)))
    cache = _second_cache
    if cache[0] != seconds:
        # One strftime per second of wall clock: the prefix is shared by every record within it.
        cache[1] = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(seconds))
        cache[0] = seconds
    prefix: str = cache[1]
    return prefix + _MILLIS[millis]


def jsonable(value: Any) -> Any:
    """A copy of ``value`` made only of JSON types: cycles, non-string keys, bytes and objects made safe."""
    return plain_value(value, for_json=True)


def _default(value: Any) -> Any:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return safe_repr(bytes(value))
    if isinstance(value, (set, frozenset)):
        return list(value)
    return safe_str(value)


# Made once: ``json.dumps`` with any option builds a new encoder for every call.
_ENCODERS = {indent: json.JSONEncoder(indent=indent, ensure_ascii=False, default=_default) for indent in (None, 2)}


def _dumps(value: Any, indent: int | None) -> str:
    try:
        return _ENCODERS[indent].encode(value)
    except Exception:  # noqa: BLE001 - cycles, non-string keys, containers whose methods raise
        # Rebuild from safe parts.
        return json.dumps(jsonable(value), indent=indent, ensure_ascii=False)


def _scalar(value: Any) -> str | None:
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is int:
        return str(value)
    if kind is bool:
        return "true" if value else "false"
    if value is None:
        return "null"
    if kind is float:
        if math.isfinite(value):
            return repr(value)
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return None


def render_properties(properties: Mapping[str, Any], indent: str = "   ") -> str:
    """Properties as 2-space-indented JSON, every line after the first prefixed by ``indent``."""
    lines = []
    inner = indent + "  "
    for key, value in properties.items():
        text = encode_basestring(value) if type(value) is str else _scalar(value)
        if text is None:
            text = _dumps(value, 2).replace("\n", "\n" + inner)
        lines.append(f"{inner}{encode_basestring(key if type(key) is str else safe_str(key))}: {text}")
    if not lines:
        return "{}"
    return "{\n" + ",\n".join(lines) + "\n" + indent + "}"


def render_pretty(
    created: float,
    levelno: int,
    category: str,
    message: str,
    properties: Mapping[str, Any],
    exception: str | None = None,
    glyphs: Glyphs = EMOJI_GLYPHS,
    palette: Palette = PLAIN,
    name: str | None = None,
) -> str:
    """One record in the original's console format, ending with a blank line.

    ``ℹ️ [2024-01-15T10:30:45.123Z] INFO    inngest.sync: message`` then, when there are properties,
    ``   Properties: {...}`` and, for an exception, its traceback indented by three spaces.
    """
    index = level_index(levelno)
    label = _PADDED_NAMES[index] if name is None else name.ljust(7)
    if palette is PLAIN:
        head = glyphs[index] + " [" + format_timestamp(created) + "] " + label + " " + category + ": " + message
    else:
        head = (
            f"{glyphs[index]} {palette.dim}[{format_timestamp(created)}]{palette.reset} "
            f"{palette.levels[index]}{label}{palette.reset} {palette.bold}{category}{palette.reset}: {message}"
        )
    if properties:
        head += "\n   Properties: " + render_properties(properties)
    if exception:
        head += "\n   " + exception.rstrip("\n").replace("\n", "\n   ")
    return head + "\n\n"


def render_json(
    created: float,
    levelno: int,
    category: str,
    message: str,
    properties: Mapping[str, Any],
    exception: str | None = None,
    trace_id: str | None = None,
    span_id: str | None = None,
) -> str:
    """One record as a single JSON line (with its newline): ``time``, ``level``, ``category``, ``message``,
    ``properties``, then ``traceId``/``spanId`` and ``exception`` when there are any."""
    line = (
        f'{{"time": "{format_timestamp(created)}", "level": "{_JSON_LEVELS[level_index(levelno)]}", '
        f'"category": {encode_basestring(category)}, "message": {encode_basestring(message)}, '
        f'"properties": {_dumps(properties, None)}'
    )
    if trace_id:
        line += f', "traceId": {encode_basestring(trace_id)}, "spanId": {_dumps(span_id, None)}'
    if exception:
        line += f', "exception": {encode_basestring(exception)}'
    return line + "}\n"
