"""Pure translation of a stdlib record (plus its context snapshot) into an OpenTelemetry ``LogRecord``."""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.context import Context
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

from otel_revops.attributes import RECORD_UID, as_attributes, level_severity_number, level_severity_text, new_record_uid
from otel_revops.categories import CATEGORY_ATTR
from otel_revops.records import record_message, record_properties
from otel_revops.redacted import RedactedLogRecord
from otel_revops.redaction import Redactor
from otel_revops.values import cut_text, safe_str, valid_text

__all__ = ["to_otel_record"]

# What ``LogRecord.__init__`` sets, for a record outside any span, as the installed SDK sets it. A record
# is made by filling a copy: ``__init__`` would look up the current context and its span for every
# record, on a thread whose context is empty.
_NO_SPAN: dict[str, Any] = {
    **vars(LogRecord()),
    "context": Context(),
    "trace_id": 0,
    "span_id": 0,
    "trace_flags": TraceFlags.DEFAULT,
}


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
    *,
    merged: bool = False,
) -> LogRecord:
    """The OTel record for ``record``: body, severity, timestamp, trace ids, the user's properties
    (``base`` = execution context, then ``extra=`` and bound properties) as attributes, ``code.*``,
    ``exception.*`` and a fixed ``log.record.uid``; secrets masked by ``redactor``; the message and string
    values (keys, exception type, message and stack trace too) longer than ``max_length`` characters
    cut with a marker; ``category``, when the record's scope is only its static part, as ``otel_revops.category``.
    ``merged``: ``base`` already holds the record's whole properties, redacted by ``redactor``, in a dict of
    the caller's that becomes the record's attributes."""
    if merged:
        attributes = as_attributes(base if isinstance(base, dict) else dict(base), max_length)
    else:
        properties = record_properties(record, base)  # a new dict: redacted and converted in place
        if redactor is not None:
            redactor.redact_properties(properties)
        attributes = as_attributes(properties, max_length)
    attributes["code.file.path"] = record.pathname
    attributes["code.function.name"] = record.funcName
    attributes["code.line.number"] = record.lineno
    if record.exc_info:
        _exception_attributes(record, attributes, max_length)
        if redactor is not None:
            for key in ("exception.message", "exception.stacktrace"):
                if key in attributes:
                    attributes[key] = redactor.text(str(attributes[key]))
    body = record.msg
    plain = not record.args and type(body) is str and body.isascii()  # the usual message: nothing to make valid
    if not plain or (max_length is not None and len(body) > max_length):
        body = cut_text(valid_text(record_message(record)), max_length)
    if redactor is not None:
        body = redactor.text(body)
    if record.stack_info:
        attributes["code.stacktrace"] = cut_text(valid_text(record.stack_info), max_length)
    if category is not None:
        attributes[CATEGORY_ATTR] = category
    attributes[RECORD_UID] = new_record_uid(record.created)
    record_type = LogRecord if redactor is None else RedactedLogRecord
    otel = record_type.__new__(record_type)
    fields = otel.__dict__
    fields.update(_NO_SPAN)
    if span is not None:
        fields["context"] = set_span_in_context(NonRecordingSpan(span), Context())
        fields["trace_id"], fields["span_id"], fields["trace_flags"] = span.trace_id, span.span_id, span.trace_flags
    fields["timestamp"] = int(record.created * 1e9)
    fields["observed_timestamp"] = time.time_ns()
    fields["severity_text"] = level_severity_text(record.levelno)
    fields["severity_number"] = level_severity_number(record.levelno)
    fields["body"] = body
    fields["attributes"] = attributes
    return otel
