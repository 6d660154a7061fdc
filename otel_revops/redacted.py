"""Redaction at the outputs: every record an output of this project receives is redacted once.

The bridge handler redacts on the calling thread and marks what it forwards as
:class:`RedactedLogRecord`. Records from anywhere else — the OpenTelemetry Logs API, the SDK's own
``LoggingHandler`` under the stock distro — are not marked: the delivery layer, and the project's
exporters when the SDK drives them, redact those before they are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import ReadableLogRecord

from otel_revops.redaction import Redactor

if TYPE_CHECKING:
    from otel_revops.config import Settings

__all__ = ["RedactedLogRecord", "redact_batch", "redact_record", "redactor_for", "redactor_from_environment"]

# Attributes that are the library's own, never secrets: left as they are.
_OWN = frozenset({"code.file.path", "code.function.name", "code.line.number", "log.record.uid"})


class RedactedLogRecord(LogRecord):
    """An OpenTelemetry log record whose body and attributes were redacted by this pipeline."""


def redactor_for(settings: Settings) -> Redactor | None:
    """The redactor ``settings`` describe (``None`` when ``redact`` is off)."""
    if not settings.redact:
        return None
    return Redactor(settings.redact_keys, settings.redact_patterns, settings.redact_allow_keys)


def redactor_from_environment() -> Redactor | None:
    """The redactor the environment describes; the default one when the environment's settings are
    not valid (an exporter never writes in clear because of an unrelated bad setting)."""
    from otel_revops.config import ConfigurationError, Settings

    try:
        return redactor_for(Settings.resolve())
    except ConfigurationError:
        return Redactor()


def redact_batch(batch: Sequence[ReadableLogRecord], redactor: Redactor | None) -> Sequence[ReadableLogRecord]:
    """``batch`` with every record not yet redacted replaced by its redacted copy."""
    if redactor is None or all(isinstance(r.log_record, RedactedLogRecord) for r in batch):
        return batch
    return [redact_record(readable, redactor) for readable in batch]


def redact_record(readable: ReadableLogRecord, redactor: Redactor | None) -> ReadableLogRecord:
    """``readable`` itself when it is marked redacted (or there is no redactor), else a redacted copy."""
    record = readable.log_record
    if redactor is None or isinstance(record, RedactedLogRecord):
        return readable
    attributes: dict[str, Any] = {}
    for key, value in (record.attributes or {}).items():
        attributes[key] = value if key in _OWN else _attribute(redactor, key, value)
    body = record.body
    body = redactor.text(body) if isinstance(body, str) else redactor.value(body)
    redacted = RedactedLogRecord(
        timestamp=record.timestamp,
        observed_timestamp=record.observed_timestamp,
        context=record.context,
        severity_text=record.severity_text,
        severity_number=record.severity_number,
        body=body,
        attributes=attributes,
        event_name=record.event_name,
    )
    # As given, whatever the context says (a record may carry ids without a span in its context).
    redacted.trace_id, redacted.span_id, redacted.trace_flags = record.trace_id, record.span_id, record.trace_flags
    return ReadableLogRecord(
        log_record=redacted,
        resource=readable.resource,
        instrumentation_scope=readable.instrumentation_scope,
        limits=readable.limits,
    )


def _attribute(redactor: Redactor, key: str, value: Any) -> Any:
    redacted = redactor.value(value, key)
    if isinstance(value, tuple) and isinstance(redacted, list):
        return tuple(redacted)  # OTel attribute values are sequences of one type
    return redacted
