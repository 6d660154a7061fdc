"""Pure mapping between a stdlib record's properties and OpenTelemetry log attributes."""

from __future__ import annotations

import itertools
import logging
import math
import os
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import SeverityNumber

from otel_revops.values import INT64_BOUND, cut_text, plain_value, safe_str, valid_text

__all__ = [
    "INTERNAL_PREFIXES",
    "RECORD_UID",
    "as_attributes",
    "level_severity_number",
    "level_severity_text",
    "new_record_uid",
    "to_any_value",
    "user_properties",
]

#: Attribute prefixes the library and OTel add themselves; everything else is the user's property.
INTERNAL_PREFIXES = ("code.", "exception.", "log.record.", "otel.", "otel_revops.", "thread.", "process.")
# Each nested map costs three protobuf messages in OTLP; protobuf parsers stop at 100 (Python's
# default), so deeper values are cut well before that.
_MAX_DEPTH = 16
#: OTel's semantic-convention attribute for a record's unique id (24 hex digits, an ObjectId).
RECORD_UID = "log.record.uid"

_COUNTER = itertools.count(int.from_bytes(os.urandom(3), "big"))
# The middle of every id: random per process, renewed in a forked child so that it never repeats its
# parent's ids.
_process_random = os.urandom(5).hex()


def _renew_process_random() -> None:
    global _process_random
    _process_random = os.urandom(5).hex()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_process_random)


def new_record_uid(timestamp: float) -> str:
    """A new ObjectId-compatible id (24 hex digits) for a record created at ``timestamp``.

    Fixed once, when the record enters the pipeline, so an exporter that retries a batch can
    recognise a record it already stored.
    """
    counter = next(_COUNTER) & 0xFFFFFF  # itertools.count is atomic under the GIL
    return "%08x%s%06x" % (int(timestamp) & 0xFFFFFFFF, _process_random, counter)  # noqa: UP031 - faster here


def user_properties(attributes: Mapping[str, Any] | None) -> dict[str, Any]:
    """The user's properties among a record's attributes (drops ``code.*``, ``exception.*`` and the like)."""
    if not attributes:
        return {}
    return {k: v for k, v in attributes.items() if not k.startswith(INTERNAL_PREFIXES)}


def to_any_value(value: Any, max_length: int | None = None) -> Any:
    """``value`` made into an OTel ``AnyValue``: str, bool, int, float, bytes, lists and string-keyed maps.

    Anything else becomes its ``str``; cycles and over-deep nesting become markers; strings longer than
    ``max_length`` characters are cut with a marker. Never raises.
    """
    return plain_value(value, for_json=False, max_length=max_length, max_depth=_MAX_DEPTH)


def as_attributes(properties: dict[Any, Any], max_length: int | None = None) -> dict[str, Any]:
    """``properties`` made OTel attributes — keys as valid text, values by :func:`to_any_value`, both cut at
    ``max_length`` characters — in place: ``properties`` itself, or a new dict when a key had to change.
    Never raises.

    The usual property (an ASCII key, an ASCII string, a bool, a 64-bit int or a finite float, within
    the length) is left as it is, without walking it."""
    for key, value in properties.items():
        if type(key) is not str or not key.isascii() or (max_length is not None and len(key) > max_length):
            return {
                cut_text(valid_text(safe_str(k)), max_length): to_any_value(v, max_length)
                for k, v in properties.items()
            }
        kind = type(value)
        if kind is str:
            plain = value.isascii() and (max_length is None or len(value) <= max_length)
        elif kind is int:
            plain = -INT64_BOUND <= value < INT64_BOUND
        elif kind is float:
            plain = math.isfinite(value)
        else:
            plain = kind is bool
        if not plain:
            properties[key] = to_any_value(value, max_length)
    return properties


def _severity_number(levelno: int) -> SeverityNumber:
    for base_level, base_number in ((50, 21), (40, 17), (30, 13), (20, 9), (10, 5)):
        if levelno >= base_level:
            return SeverityNumber(base_number + min(3, levelno - base_level))
    return SeverityNumber(max(1, min(4, levelno)))


_SEVERITIES = {levelno: _severity_number(levelno) for levelno in range(61)}


def level_severity_number(levelno: int) -> SeverityNumber:
    """OTel's severity number for a stdlib level: DEBUG 5, INFO 9, WARNING 13, ERROR 17, CRITICAL 21,
    levels in between one to three steps above their base."""
    severity = _SEVERITIES.get(levelno)
    return severity if severity is not None else _severity_number(levelno)


def level_severity_text(levelno: int) -> str:
    """OTel's severity text for a stdlib level (``WARN`` and ``FATAL`` as the spec displays them)."""
    if levelno >= logging.CRITICAL:
        return "FATAL"
    if levelno >= logging.ERROR:
        return "ERROR"
    if levelno >= logging.WARNING:
        return "WARN"
    if levelno >= logging.INFO:
        return "INFO"
    if levelno >= logging.DEBUG:
        return "DEBUG"
    return "TRACE"
