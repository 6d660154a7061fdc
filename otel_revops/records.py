"""Pure helpers reading a stdlib :class:`logging.LogRecord`: its message, properties and exception text."""

from __future__ import annotations

import itertools
import logging
import traceback
from collections.abc import Mapping
from typing import Any

from otel_revops.values import safe_repr, safe_str

__all__ = [
    "PROPS_ATTR",
    "STANDARD_ATTRS",
    "adopt_properties_argument",
    "exception_text",
    "freeze_message",
    "properties_argument",
    "record_message",
    "record_properties",
]

#: Attribute a bound logger stores its properties under, so that any name is allowed as a property
#: (stdlib ``extra=`` refuses names such as ``name`` or ``message``).
PROPS_ATTR = "_otel_revops_props"

STANDARD_ATTRS: frozenset[str] = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message",
    "asctime",
    "taskName",
    PROPS_ATTR,
}
_STANDARD_COUNT = len(vars(logging.LogRecord("", 0, "", 0, "", (), None)))


def properties_argument(msg: Any, args: Any) -> Mapping[str, Any] | None:
    """The original's call form, ``log.info("Syncing", {"entity": "contacts"})``: the mapping given as the
    only argument after a message with no ``%(name)`` placeholder, which is then the record's properties;
    else None. With such placeholders (``"Syncing %(entity)s"``) it is the stdlib's mapping form, formatted
    as usual (a mapping is only ever formatted by name)."""
    if isinstance(args, tuple) and len(args) == 1:
        args = args[0]
    if not isinstance(args, Mapping) or not args or type(msg) is not str or "%(" in msg:
        return None
    return args


def adopt_properties_argument(record: logging.LogRecord) -> None:
    """Move a :func:`properties_argument` of ``record`` into its properties (after a bound logger's)."""
    mapping = properties_argument(record.msg, record.args)
    if mapping is not None:
        bound = record.__dict__.get(PROPS_ATTR)
        record.__dict__[PROPS_ATTR] = {**bound, **mapping} if bound else dict(mapping)
        record.args = None


def record_properties(record: logging.LogRecord, base: Mapping[str, Any]) -> dict[str, Any]:
    """The user's properties of ``record``: ``base`` (the execution context), then ``extra=`` keys,
    then a bound logger's properties — later ones win."""
    properties = dict(base)
    attributes = record.__dict__
    if len(attributes) > _STANDARD_COUNT:
        # makeRecord adds ``extra=`` keys after the standard attributes: start there, in their order.
        for key, value in itertools.islice(attributes.items(), _STANDARD_COUNT, None):
            if key not in STANDARD_ATTRS:
                properties[key] = value
        bound = attributes.get(PROPS_ATTR)
        if bound:
            properties.update(bound)
    return properties


def freeze_message(record: logging.LogRecord) -> None:
    """Merge ``args`` into the message now, on the calling thread, so later mutation of the arguments
    cannot change what is exported (the same step :class:`logging.handlers.QueueHandler` takes)."""
    if record.args:
        record.msg = record_message(record)
        record.args = None


def record_message(record: logging.LogRecord) -> str:
    """``record.getMessage()``, or a safe rendering of the template and arguments when formatting fails."""
    msg = record.msg
    if not record.args:
        return msg if type(msg) is str else safe_str(msg)
    try:
        return safe_str(record.getMessage())
    except Exception:  # noqa: BLE001 - bad format strings or raising __str__ must not escape
        return f"{safe_str(msg)} (formatting failed; args: {safe_repr(record.args)})"


def exception_text(record: logging.LogRecord) -> str | None:
    """The formatted traceback and stack of ``record``, if it carries any."""
    parts = []
    if record.exc_info and record.exc_info[0] is not None:
        try:
            parts.append("".join(traceback.format_exception(*record.exc_info)))
        except Exception:  # noqa: BLE001
            parts.append(f"{safe_repr(record.exc_info[1])} (traceback unavailable)")
    elif record.exc_text:
        parts.append(record.exc_text)
    if record.stack_info:
        parts.append(record.stack_info)
    return "\n".join(p.rstrip("\n") for p in parts) if parts else None
