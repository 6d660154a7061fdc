"""``configure_logging()``: the whole pipeline in one readable function, and its lifecycle.

resource → ``LoggerProvider`` → one :class:`ExportProcessor` per exporter (MongoDB, OTLP, yours) →
forwarder → :class:`BridgeHandler` on the root logger, with the console written synchronously.
Calling it again replaces the previous pipeline: its records are flushed, its handler removed, its
logger levels restored. An at-exit hook flushes the current pipeline within the shutdown deadline.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from otel_revops.config import Settings
from otel_revops.diagnostics import warn
from otel_revops.exporters.console import ConsoleWriter
from otel_revops.forwarder import RecordForwarder
from otel_revops.handler import BridgeHandler
from otel_revops.processor import ExportProcessor, spool_for
from otel_revops.redaction import Redactor
from otel_revops.spool import Spool, default_spool_dir

__all__ = ["LoggingPipeline", "configure_logging", "current_pipeline", "force_flush", "shutdown_logging"]

_lock = threading.RLock()
_current: LoggingPipeline | None = None
_atexit_registered = False


class LoggingPipeline:
    """A configured pipeline: its settings, provider, handler and processors.

    Built by :func:`configure_logging`; use :meth:`force_flush`, :meth:`shutdown` and :meth:`stats`.
    """

    def __init__(
        self,
        settings: Settings,
        exporters: Sequence[LogRecordExporter] = (),
        processors: Sequence[LogRecordProcessor] = (),
    ) -> None:
        self.settings = settings
        self.resource = Resource.create({SERVICE_NAME: settings.service_name})
        self.logger_provider = LoggerProvider(resource=self.resource, shutdown_on_exit=False)
        self.processors: list[LogRecordProcessor] = []
        for exporter in [*_exporters_from_settings(settings), *exporters]:
            self.add_exporter(exporter)
        for processor in processors:
            self.add_processor(processor)
        redactor = Redactor(settings.redact_keys, settings.redact_patterns) if settings.redact else None
        console = (
            ConsoleWriter(settings.console_stream or _stderr(), settings.console, settings.console_colors, redactor)
            if settings.console != "none"
            else None
        )
        self.forwarder = RecordForwarder(
            self.logger_provider,
            max_queue_size=settings.max_queue_size,
            enqueue_timeout_millis=settings.enqueue_timeout_ms,
            batch_size=settings.export_batch_size,
            delay_millis=min(settings.export_delay_ms, 200),
            redactor=redactor,
            max_value_length=settings.max_value_length or None,
        )
        self.handler = BridgeHandler(
            console=console, forwarder=self.forwarder if self.processors else None, redactor=redactor
        )
        self._saved_levels: dict[str, int] = {}
        self._closed = False
        _flush_multiprocessing_children(self)

    def add_exporter(self, exporter: LogRecordExporter) -> ExportProcessor:
        """Export to ``exporter`` too, batched on its own worker thread."""
        s = self.settings
        processor = ExportProcessor(
            exporter,
            max_queue_size=s.export_queue_size,
            max_batch_size=s.export_batch_size,
            schedule_delay_millis=s.export_delay_ms,
            shutdown_timeout_millis=s.shutdown_timeout_ms,
            spool=self._spool_for(exporter),
        )
        self.add_processor(processor)
        return processor

    def _spool_for(self, exporter: LogRecordExporter) -> Spool | None:
        s = self.settings
        if not s.spool:
            return None
        directory = Path(s.spool_dir) if s.spool_dir else default_spool_dir()
        try:
            return spool_for(exporter, directory / s.service_name, s.spool_max_bytes)
        except OSError as exc:
            warn("spool-dir", f"spool disabled: cannot use {directory}: {exc}")
            return None

    def add_processor(self, processor: LogRecordProcessor) -> None:
        """Register any OTel ``LogRecordProcessor`` on this pipeline's provider."""
        self.logger_provider.add_log_record_processor(processor)
        self.processors.append(processor)
        handler = getattr(self, "handler", None)
        if handler is not None and handler.forwarder is None:
            handler.forwarder = self.forwarder

    def install(self) -> None:
        """Attach the handler to the root logger (replacing any earlier bridge handler) and set levels."""
        root = logging.getLogger()
        for existing in list(root.handlers):
            if isinstance(existing, BridgeHandler):
                root.removeHandler(existing)
        root.addHandler(self.handler)
        self._set_level("", self.settings.log_level)
        for category, level in self.settings.log_levels.items():
            self._set_level(category, level)

    def _set_level(self, category: str, level: int) -> None:
        logger = logging.getLogger(category or None)
        self._saved_levels.setdefault(category, logger.level)
        logger.setLevel(level)

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        """Export everything logged so far; True if it was done within the timeout."""
        timeout = self.settings.shutdown_timeout_ms if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + timeout / 1000
        done = self.forwarder.flush(timeout)
        for processor in self.processors:
            done = processor.force_flush(_remaining(deadline)) and done
        self.handler.flush()
        return done

    def shutdown(self, timeout_millis: int | None = None) -> bool:
        """Detach, deliver what is queued within the deadline, and shut the exporters down. Idempotent."""
        if self._closed:
            return True
        self._closed = True
        timeout = self.settings.shutdown_timeout_ms if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + timeout / 1000
        root = logging.getLogger()
        if self.handler in root.handlers:
            root.removeHandler(self.handler)
        for category, level in self._saved_levels.items():
            logging.getLogger(category or None).setLevel(level)
        done = self.forwarder.close(timeout)
        for processor in self.processors:
            if isinstance(processor, ExportProcessor):
                processor.shutdown(_remaining(deadline))
            else:
                processor.force_flush(_remaining(deadline))
        self.logger_provider.shutdown()
        self.handler.flush()
        return done

    def stats(self) -> dict[str, Any]:
        """Counts from every stage: the handler, the forwarder and each exporter's processor."""
        return {
            "handler_errors": self.handler.errors,
            "console_errors": self.handler.console.errors if self.handler.console else 0,
            "forwarder": self.forwarder.stats(),
            "exporters": {p.name: p.stats() for p in self.processors if isinstance(p, ExportProcessor)},
        }


def _flush_multiprocessing_children(pipeline: LoggingPipeline) -> None:
    """Make multiprocessing children flush before they leave through ``os._exit``.

    A child started by ``multiprocessing`` (fork) skips ``atexit``; it does run the finalizers
    registered after its fork, so one is registered there.
    """
    import multiprocessing.util as mp_util

    def register_in_child(target: LoggingPipeline) -> None:
        mp_util.Finalize(target, target.force_flush, exitpriority=100)

    mp_util.register_after_fork(pipeline, register_in_child)


def _remaining(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))


def _stderr() -> Any:
    import sys

    return sys.stderr


def _exporters_from_settings(settings: Settings) -> list[LogRecordExporter]:
    exporters: list[LogRecordExporter] = []
    if settings.mongodb_uri:
        from otel_revops.exporters.mongodb import MongoLogRecordExporter

        exporters.append(MongoLogRecordExporter.from_settings(settings))
    if settings.file_path:
        from otel_revops.exporters.file import FileLogRecordExporter

        exporters.append(FileLogRecordExporter(settings.file_path, settings.file_max_bytes, settings.file_backup_count))
    if settings.otlp_endpoint:
        from otel_revops.exporters.otlp import create_otlp_exporter

        exporters.append(
            create_otlp_exporter(settings.otlp_endpoint, settings.otlp_protocol, settings.otlp_max_request_bytes)
        )
    return exporters


def configure_logging(
    *,
    exporters: Sequence[LogRecordExporter] = (),
    processors: Sequence[LogRecordProcessor] = (),
    **settings: Any,
) -> LoggingPipeline:
    """Set up logging: OTel provider, exporters, console and the root handler; returns the pipeline.

    ``settings`` are the fields of :class:`~otel_revops.config.Settings` (``service_name``, ``console``,
    ``console_stream``, ``log_level``, ``log_levels``, ``mongodb_uri``, ``otlp_endpoint`` …), each
    resolved argument → environment → default. ``exporters`` and ``processors`` add your own.
    A bad value raises :class:`~otel_revops.config.ConfigurationError` before anything changes.
    Calling it again replaces the previous pipeline.
    """
    global _current, _atexit_registered
    resolved = Settings.resolve(**settings)
    with _lock:
        pipeline = LoggingPipeline(resolved, exporters, processors)
        if _current is not None:
            _current.shutdown()
        pipeline.install()
        _current = pipeline
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
    return pipeline


def current_pipeline() -> LoggingPipeline | None:
    """The pipeline set up by the last :func:`configure_logging`, if it is still running."""
    return _current


def force_flush(timeout_millis: int | None = None) -> bool:
    """Flush the current pipeline (True when there is none)."""
    pipeline = _current
    return pipeline.force_flush(timeout_millis) if pipeline is not None else True


def shutdown_logging(timeout_millis: int | None = None) -> bool:
    """Shut the current pipeline down: flush within the deadline, detach the handler."""
    global _current
    with _lock:
        pipeline, _current = _current, None
    return pipeline.shutdown(timeout_millis) if pipeline is not None else True


def _at_exit() -> None:
    shutdown_logging()
