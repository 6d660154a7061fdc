"""Pure rendering of stored records and times for the terminal.

A history document is shown with the library's own renderer, so ``otel-revops logs`` prints exactly
what the live console printed for the same record.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from otel_revops.config import LEVEL_NAMES
from otel_revops.exporters.console import severity_to_level
from otel_revops.exporters.mongodb.documents import safe_key
from otel_revops.exporters.mongodb.nesting import logged_properties
from otel_revops.rendering import EMOJI_GLYPHS, PLAIN, Glyphs, Palette, render_json, render_pretty

__all__ = ["RecordView", "format_time", "record_view", "render_record"]


@dataclass(frozen=True)
class RecordView:
    """The parts of a stored record the console renderer takes."""

    created: float
    levelno: int
    category: str
    message: str
    properties: dict[str, Any]
    exception: str | None = None
    trace_id: str | None = None
    span_id: str | None = None


def _epoch_seconds(value: Any) -> float:
    """Seconds since the epoch for a stored datetime (naive ones are UTC, as pymongo returns them).

    The console renders ``int((created - int(created)) * 1000)`` milliseconds; stored times have
    whole milliseconds, so half a millisecond is added to keep the float from landing just below one.
    """
    if not isinstance(value, datetime):
        return 0.0
    moment = value.astimezone(timezone.utc) if value.tzinfo is not None else value
    seconds = calendar.timegm(moment.utctimetuple())
    return seconds + (moment.microsecond // 1000 + 0.5) / 1000


def _exception_text(document: Mapping[str, Any]) -> str | None:
    """The stored traceback (the ``stacktrace`` of the ``exception`` object, or an ``exception`` string),
    without the final newline, as the console shows it."""
    exception = document.get("exception")
    text = exception.get("stacktrace") if isinstance(exception, Mapping) else exception
    if isinstance(text, str) and text.strip():
        return text.rstrip("\n")
    return None


def record_view(document: Mapping[str, Any]) -> RecordView:
    """What the console needs from one history document (``timestamp``, ``level``, ``category``,
    ``message``, ``metadata`` with its ``metadataKeys``, ``exception``, ``traceId``, ``spanId``): the
    properties as they were logged; missing fields are tolerated."""
    metadata = document.get("metadata")
    properties = dict(metadata) if isinstance(metadata, Mapping) else {}
    logged_keys = document.get("metadataKeys")
    if isinstance(logged_keys, list):
        properties = logged_properties(properties, logged_keys, safe_key)
    category = properties.pop("category", None)
    if isinstance(document.get("category"), str):
        category = document["category"]
    level = str(document.get("level") or "").lower()
    if level in LEVEL_NAMES:
        levelno = LEVEL_NAMES[level]
    else:
        severity = document.get("severityNumber")
        levelno = severity_to_level(severity if isinstance(severity, int) else None)
    message = document.get("message")
    trace_id = document.get("traceId")
    span_id = document.get("spanId")
    return RecordView(
        created=_epoch_seconds(document.get("timestamp")),
        levelno=levelno,
        category=category if isinstance(category, str) else "",
        message=message if isinstance(message, str) else ("" if message is None else str(message)),
        properties=properties,
        exception=_exception_text(document),
        trace_id=trace_id if isinstance(trace_id, str) and trace_id else None,
        span_id=span_id if isinstance(span_id, str) and span_id else None,
    )


def render_record(
    document: Mapping[str, Any], *, json: bool = False, glyphs: Glyphs = EMOJI_GLYPHS, palette: Palette = PLAIN
) -> str:
    """One history document as the console shows it: the pretty format, or a JSON line."""
    view = record_view(document)
    if json:
        return render_json(
            view.created,
            view.levelno,
            view.category,
            view.message,
            view.properties,
            view.exception,
            view.trace_id,
            view.span_id,
        )
    return render_pretty(
        view.created, view.levelno, view.category, view.message, view.properties, view.exception, glyphs, palette
    )


def format_time(value: Any) -> str:
    """A stored datetime as ``2024-01-15 10:30:45Z`` (UTC), or ``—`` when there is none."""
    if not isinstance(value, datetime):
        return "—"
    moment = value.astimezone(timezone.utc) if value.tzinfo is not None else value
    return moment.strftime("%Y-%m-%d %H:%M:%SZ")
