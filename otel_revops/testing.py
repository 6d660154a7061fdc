"""Test helpers: capture what the pipeline exports, and drive Inngest functions as the executor does.

Capture the records your code logs, as plain dicts::

    from otel_revops.testing import capture_logs

    with capture_logs() as captured:
        run_my_job()
    assert captured.messages() == ["Job execution started: incremental sync"]

or with the ``capture_logs`` pytest fixture, available in every test once otel-revops is installed
(its pytest plugin, :mod:`otel_revops.pytest_plugin`, is registered by the package). Drive an Inngest
function through the SDK's real HTTP handler — every request, replay and retry the Inngest executor
would make — and assert on its logs::

    result = drive_function(client, sync_contacts, {"name": "revops/sync.requested", "data": {...}})
    assert result.status == "completed"

Flask, FastAPI and the Inngest SDK are imported only when a run needs them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.trace import format_span_id, format_trace_id

from otel_revops.attributes import user_properties
from otel_revops.categories import record_category
from otel_revops.exporters.console import severity_to_level
from otel_revops.integrations.inngest_executor import (
    ExecutorError,
    ExecutorRequest,
    RunResult,
    drive_function,
    drive_function_async,
    serve_functions,
)
from otel_revops.pipeline import LoggingPipeline, pipeline_for_a_block

__all__ = [
    "ExecutorError",
    "ExecutorRequest",
    "InMemoryLogExporter",
    "LogCapture",
    "RunResult",
    "capture_logs",
    "drive_function",
    "drive_function_async",
    "record_to_dict",
    "serve_functions",
]


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def record_to_dict(readable: ReadableLogRecord) -> dict[str, Any]:
    """An exported record as a plain dict.

    Keys: ``message``, ``level`` (``debug`` … ``critical``), ``severity_number``, ``severity_text``,
    ``category``, ``timestamp`` (aware UTC datetime), ``properties`` (the user's: execution context,
    ``extra=`` and bound properties), ``attributes`` (all, with ``code.*`` …), ``exception``
    (``type``/``message``/``stacktrace`` or None), ``trace_id`` and ``span_id`` (hex or None).
    """
    record = readable.log_record
    attributes: dict[str, Any] = _plain(dict(record.attributes or {}))
    severity = record.severity_number.value if record.severity_number is not None else None
    nanos = record.timestamp or record.observed_timestamp or 0
    exception = None
    if "exception.type" in attributes or "exception.message" in attributes:
        exception = {
            "type": attributes.get("exception.type"),
            "message": attributes.get("exception.message"),
            "stacktrace": attributes.get("exception.stacktrace"),
        }
    return {
        "message": "" if record.body is None else str(record.body),
        "level": logging.getLevelName(severity_to_level(severity)).lower(),
        "severity_number": severity,
        "severity_text": record.severity_text,
        "category": record_category(readable),
        "timestamp": datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc),
        "properties": user_properties(attributes),
        "attributes": attributes,
        "exception": exception,
        "trace_id": format_trace_id(record.trace_id) if record.trace_id else None,
        "span_id": format_span_id(record.span_id) if record.span_id else None,
    }


class InMemoryLogExporter(LogRecordExporter):
    """Keeps every exported record as a :func:`record_to_dict` dict. After shutdown, exports fail."""

    def __init__(self) -> None:
        self._records: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._shutdown = False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Store the batch."""
        if self._shutdown:
            return LogRecordExportResult.FAILURE
        converted = [record_to_dict(readable) for readable in batch]
        with self._lock:
            self._records.extend(converted)
        return LogRecordExportResult.SUCCESS

    def records(self) -> list[dict[str, Any]]:
        """The records stored so far, oldest first (a copy)."""
        with self._lock:
            return list(self._records)

    def clear(self) -> None:
        """Forget the stored records."""
        with self._lock:
            self._records.clear()

    def shutdown(self) -> None:
        """Stop storing."""
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here."""
        return True


class LogCapture:
    """The records a pipeline exported to its :class:`InMemoryLogExporter`; reading flushes first."""

    def __init__(self, pipeline: LoggingPipeline, exporter: InMemoryLogExporter) -> None:
        self.pipeline = pipeline
        self.exporter = exporter

    def records(self, **properties: Any) -> list[dict[str, Any]]:
        """Every record exported so far, or those whose properties include all of ``properties``."""
        self.pipeline.force_flush()
        records = self.exporter.records()
        if not properties:
            return records
        return [r for r in records if all(r["properties"].get(k) == v for k, v in properties.items())]

    def messages(self, **properties: Any) -> list[str]:
        """The messages of :meth:`records`, in order."""
        return [r["message"] for r in self.records(**properties)]

    def clear(self) -> None:
        """Forget what was captured so far."""
        self.pipeline.force_flush()
        self.exporter.clear()


@contextmanager
def capture_logs(**settings: Any) -> Iterator[LogCapture]:
    """Capture what is logged in the block with an in-memory exporter; afterwards the pipeline that was
    running before (if any) is back, as it was.

    ``settings`` go to :func:`~otel_revops.configure_logging` (the console is off unless you set
    ``console``); exporters configured from the environment are active too.
    """
    exporter = InMemoryLogExporter()
    with pipeline_for_a_block(exporters=[exporter], **{"console": "none", **settings}) as pipeline:
        yield LogCapture(pipeline, exporter)
