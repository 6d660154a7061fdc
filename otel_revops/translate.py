"""Pure translation of a stdlib record (plus its context snapshot) into an OpenTelemetry ``LogRecord``."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

from otel_revops.attributes import RECORD_UID, level_severity_number, level_severity_text, new_record_uid, to_any_value
from otel_revops.categories import CATEGORY_ATTR
from otel_revops.records import record_message, record_properties
from otel_revops.redacted import RedactedLogRecord
from otel_revops.redaction import Redactor
from otel_revops.values import cut_text, safe_str, valid_text

__all__ = ["to_otel_record"]


def _exception_attributes(record: logging.LogRecord, attributes: dict[str, Any], max_length: int | None) -> None:
    exc_info = record.exc_info
    if not exc_info or exc_info[0] is None:
        return
    exc_type, exc, _tb = exc_info
    attributes["exception.type"] = cut_text(
        valid_text(getattr(exc_type, "__qualname__", safe_str(exc_type))), max_length
    )
    attributes["exception.message"] = cut_text(valid_text(safe_str(exc)), max_length) if exc is not None else ""
    try:
        stacktrace = "".join(traceback.format_exception(*exc_info))
    except Exception:  # noqa: BLE001 - a raising __str__ inside the chain
        stacktrace = attributes["exception.message"]
    attributes["exception.stacktrace"] = cut_text(valid_text(stacktrace), max_length)


def to_otel_record(
    record: logging.LogRecord,
    base: Mapping[str, Any],
    span: SpanContext | None,
    redactor: Redactor | None = None,
    max_length: int | None = None,
    category: str | None = None,
) -> LogRecord:
    """The OTel record for ``record``: body, severity, timestamp, trace ids, the user's properties
    (``base`` = execution context, then ``extra=`` and bound properties) as attributes, ``code.*``,
    ``exception.*`` and a fixed ``log.record.uid``; secrets masked by ``redactor``; the message and string
    values (keys, exception type, message and stack trace too) longer than ``max_length`` characters
    cut with a marker; ``category``, when the record's scope is only its static part, as ``otel_revops.category``."""
    properties = record_properties(record, base)
    if redactor is not None:
        properties = redactor.properties(properties)
    attributes: dict[str, Any] = {
        cut_text(valid_text(safe_str(key)), max_length): to_any_value(value, max_length)
        for key, value in properties.items()
    }
    attributes["code.file.path"] = record.pathname
    attributes["code.function.name"] = record.funcName
    attributes["code.line.number"] = record.lineno
    _exception_attributes(record, attributes, max_length)
    body = cut_text(valid_text(record_message(record)), max_length)
    if redactor is not None:
        body = redactor.text(body)
        for key in ("exception.message", "exception.stacktrace"):
            if key in attributes:
                attributes[key] = redactor.text(str(attributes[key]))
    if record.stack_info:
        attributes["code.stacktrace"] = cut_text(valid_text(record.stack_info), max_length)
    if category is not None:
        attributes[CATEGORY_ATTR] = category
    attributes[RECORD_UID] = new_record_uid(record.created)
    context = set_span_in_context(NonRecordingSpan(span), Context()) if span is not None else None
    record_type = LogRecord if redactor is None else RedactedLogRecord
    return record_type(
        timestamp=int(record.created * 1e9),
        observed_timestamp=time.time_ns(),
        context=context,
        severity_text=level_severity_text(record.levelno),
        severity_number=level_severity_number(record.levelno),
        body=body,
        attributes=attributes,
    )
