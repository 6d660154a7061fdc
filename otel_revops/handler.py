"""The stdlib → OpenTelemetry bridge handler, attached to the root logger.

Its ``emit`` is the hot path of every logging call, so it does only what must happen on the calling
thread: read the execution context and the active span once, merge a ``%``-formatted message, write
the console line (which must be out before the call returns), and append to the forwarder's bounded
queue. Translation to OTel, attribute validation and exporting happen on worker threads.

Records logged while an exporter runs (:func:`otel_revops.context.exporting`) reach the console only,
so an exporter's own logs — or its driver's — never feed back into the exporters. A handler replaced
by a newer pipeline's passes what still reaches it to its :attr:`~BridgeHandler.successor`.
"""

from __future__ import annotations

import logging

from opentelemetry.trace import get_current_span

from otel_revops.context import EXECUTION, EXPORTING, SUPPRESSED
from otel_revops.diagnostics import warn
from otel_revops.exporters.console import ConsoleWriter
from otel_revops.forwarder import RecordForwarder
from otel_revops.records import adopt_properties_argument, freeze_message, record_properties
from otel_revops.redaction import Redactor

__all__ = ["BridgeHandler"]


class BridgeHandler(logging.Handler):
    """Writes each record to the console (if any) and forwards it to OpenTelemetry (if any)."""

    def __init__(
        self,
        *,
        console: ConsoleWriter | None = None,
        forwarder: RecordForwarder | None = None,
        redactor: Redactor | None = None,
        level: int = logging.NOTSET,
    ) -> None:
        super().__init__(level)
        self.console = console
        self.forwarder = forwarder
        self.redactor = redactor
        self.errors = 0
        #: The handler that replaced this one (set by a newer :func:`~otel_revops.configure_logging`):
        #: records still reaching this one — logged while the root logger's handlers were swapped — go there.
        self.successor: BridgeHandler | None = None

    def handle(self, record: logging.LogRecord) -> bool:
        """Filter and emit without the handler lock: the queue and the console are safe on their own."""
        if self.filters and not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Console line, then a bounded enqueue for export; never raises."""
        successor = self.successor
        if successor is not None:
            successor.emit(record)
            return
        try:
            if SUPPRESSED.get():
                return
            base = EXECUTION.get()
            if record.args:
                adopt_properties_argument(record)
            redactor = self.redactor
            if redactor is not None:
                if record.args:
                    record.args = redactor.arguments(record.args)  # structured arguments, before they are text
                if type(record.msg) is not str:
                    record.msg = redactor.value(record.msg)  # a dict or an object given as the message
            if record.args:
                freeze_message(record)
            console = self.console
            if redactor is not None and console is not None and type(record.msg) is str:
                # The line is written here; the export thread redacts the message for everything else.
                record.msg = redactor.text(record.msg)
            span_context = get_current_span().get_span_context()
            span = span_context if span_context.is_valid else None
            if console is not None:
                base = record_properties(record, base)
                if redactor is not None:
                    redactor.redact_properties(base)
                console.write_record(record, base, span)
            forwarder = self.forwarder
            if forwarder is not None and not EXPORTING.get():
                forwarder.put((record, base, span, console is not None))
        except Exception as exc:  # noqa: BLE001 - a logging call never raises into the application
            self.errors += 1
            warn("handler-error", f"a record could not be handled: {type(exc).__name__}: {exc}")

    def flush(self) -> None:
        """Flush the console stream."""
        if self.console is not None:
            self.console.flush()
