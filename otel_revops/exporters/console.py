"""The console: the original's pretty format (or JSON lines), written before the logging call returns.

:class:`ConsoleWriter` is what the bridge handler calls on the application's thread.
:class:`ConsoleLogRecordExporter` renders OpenTelemetry records the same way, for pipelines built
by auto-instrumentation (entry point ``revops_console``).
"""

from __future__ import annotations

import collections
import logging
import os
import sys
import threading
from collections.abc import Mapping, Sequence
from typing import Any, TextIO

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.trace import SpanContext, format_span_id, format_trace_id

from otel_revops.attributes import user_properties
from otel_revops.categories import record_category
from otel_revops.config import ColorMode, ConfigurationError, ConsoleMode, Settings
from otel_revops.records import exception_text, record_message
from otel_revops.redacted import redact_batch, redactor_for
from otel_revops.redaction import Redactor
from otel_revops.rendering import (
    ANSI,
    ASCII_GLYPHS,
    EMOJI_GLYPHS,
    PLAIN,
    Glyphs,
    Palette,
    render_json,
    render_pretty,
)

__all__ = ["ConsoleLogRecordExporter", "ConsoleWriter", "choose_glyphs", "use_colors"]


def use_colors(stream: TextIO, mode: ColorMode, env: Mapping[str, str] | None = None) -> bool:
    """Whether to colour: ``always``/``never`` as said; ``auto`` honours ``NO_COLOR``,
    then ``FORCE_COLOR``, then colours only a terminal."""
    if mode != "auto":
        return mode == "always"
    environ = os.environ if env is None else env
    if environ.get("NO_COLOR"):
        return False
    force = environ.get("FORCE_COLOR")
    if force and force != "0":
        return True
    try:
        return bool(stream.isatty())
    except Exception:  # noqa: BLE001 - closed or odd streams
        return False


def choose_glyphs(stream: TextIO) -> Glyphs:
    """The emoji when ``stream`` can encode them, else ASCII markers."""
    encoding = getattr(stream, "encoding", None) or "utf-8"
    try:
        "".join(EMOJI_GLYPHS).encode(encoding)
    except (UnicodeEncodeError, LookupError):
        return ASCII_GLYPHS
    return EMOJI_GLYPHS


def _format_ids(span: SpanContext | None) -> tuple[str | None, str | None]:
    if span is None:
        return None, None
    return format_trace_id(span.trace_id), format_span_id(span.span_id)


class ConsoleWriter:
    """Renders records and writes them to a text stream, synchronously and without raising."""

    def __init__(
        self, stream: TextIO, mode: ConsoleMode = "pretty", colors: ColorMode = "auto", redactor: Redactor | None = None
    ) -> None:
        if mode == "none":
            raise ConfigurationError("ConsoleWriter needs console mode 'pretty' or 'json'")
        self.stream = stream
        self.mode = mode
        self.glyphs = choose_glyphs(stream)
        self.palette: Palette = ANSI if use_colors(stream, colors) else PLAIN
        # Re-entrant, with a depth: a signal handler that logs while this thread is writing must neither
        # wait for itself nor write into the middle of a line; its text is written after the current one.
        self._lock = threading.RLock()
        self._depth = 0
        self._pending: collections.deque[str] = collections.deque()
        self.redactor = redactor
        self.errors = 0

    def write_record(self, record: logging.LogRecord, properties: Mapping[str, Any], span: SpanContext | None) -> None:
        """Render a stdlib record with its properties and write it."""
        message = record_message(record)
        exception = exception_text(record) if (record.exc_info or record.stack_info or record.exc_text) else None
        if exception and self.redactor is not None:
            exception = self.redactor.text(exception)
        if self.mode == "pretty":
            text = render_pretty(
                record.created,
                record.levelno,
                record.name,
                message,
                properties,
                exception,
                self.glyphs,
                self.palette,
                _display_name(record),
            )
        else:
            trace_id, span_id = _format_ids(span)
            text = render_json(
                record.created, record.levelno, record.name, message, properties, exception, trace_id, span_id
            )
        self.write(text)

    def write(self, text: str) -> None:
        """Write ``text``; encoding problems degrade to replacement characters, stream errors are counted."""
        with self._lock:
            if self._depth:
                self._pending.append(text)  # re-entered from a signal handler: after the current line
                return
            self._depth += 1
            try:
                self._write(text)
                while self._pending:
                    self._write(self._pending.popleft())
            finally:
                self._depth -= 1

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
        except UnicodeEncodeError:
            encoding = getattr(self.stream, "encoding", None) or "ascii"
            try:
                self.stream.write(text.encode(encoding, "replace").decode(encoding))
            except Exception:  # noqa: BLE001
                self.errors += 1
        except Exception:  # noqa: BLE001 - a closed or broken stream must not break the application
            self.errors += 1

    def flush(self) -> None:
        """Flush the stream, ignoring errors."""
        with self._lock:
            if self._depth:
                return
            try:
                self.stream.flush()
            except Exception:  # noqa: BLE001
                self.errors += 1


_STANDARD_NAMES = frozenset({"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"})


def _display_name(record: logging.LogRecord) -> str | None:
    """Custom level names (``TRACE``, ``NOTICE`` …) are shown as they are; standard ones by index."""
    name = record.levelname
    return None if name in _STANDARD_NAMES else name


_SEVERITY_TO_LEVEL = (
    (21, logging.CRITICAL),
    (17, logging.ERROR),
    (13, logging.WARNING),
    (9, logging.INFO),
    (0, logging.DEBUG),
)


def severity_to_level(severity_number: int | None) -> int:
    """The stdlib level for an OTel severity number (1–24)."""
    number = severity_number or 9
    for threshold, level in _SEVERITY_TO_LEVEL:
        if number >= threshold:
            return level
    return logging.DEBUG


class ConsoleLogRecordExporter(LogRecordExporter):
    """A :class:`LogRecordExporter` writing the console format; created with no arguments it reads
    ``OTEL_REVOPS_CONSOLE`` and ``OTEL_REVOPS_CONSOLE_COLORS`` and writes to standard error."""

    def __init__(
        self, stream: TextIO | None = None, mode: ConsoleMode | None = None, colors: ColorMode | None = None
    ) -> None:
        settings = Settings.resolve(console=mode, console_colors=colors)
        self._writer = ConsoleWriter(
            stream or sys.stderr, settings.console if settings.console != "none" else "pretty", settings.console_colors
        )
        self._redactor = redactor_for(settings)
        self._shutdown = False

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Write each record; returns FAILURE after shutdown."""
        if self._shutdown:
            return LogRecordExportResult.FAILURE
        for readable in redact_batch(batch, self._redactor):
            self._writer.write(self.render(readable))
        self._writer.flush()
        return LogRecordExportResult.SUCCESS

    def render(self, readable: ReadableLogRecord) -> str:
        """The console text for one OTel record."""
        record = readable.log_record
        attributes = dict(record.attributes or {})
        created = (record.timestamp or record.observed_timestamp or 0) / 1e9
        level = severity_to_level(record.severity_number.value if record.severity_number else None)
        category = record_category(readable)
        message = "" if record.body is None else str(record.body)
        stacktrace = attributes.get("exception.stacktrace")
        exception = stacktrace if isinstance(stacktrace, str) else None
        properties = user_properties(attributes)
        if self._writer.mode == "pretty":
            return render_pretty(
                created, level, category, message, properties, exception, self._writer.glyphs, self._writer.palette
            )
        trace_id = format_trace_id(record.trace_id) if record.trace_id else None
        span_id = format_span_id(record.span_id) if record.span_id else None
        return render_json(created, level, category, message, properties, exception, trace_id, span_id)

    def shutdown(self) -> None:
        """Stop writing; later exports fail."""
        self._shutdown = True

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the stream."""
        self._writer.flush()
        return True
