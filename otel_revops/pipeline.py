"""``configure_logging()``: the whole pipeline in one readable function, and its lifecycle.

resource → ``LoggerProvider`` → one :class:`~otel_revops.delivery.ExportProcessor` per destination
(MongoDB, OTLP, the file, yours) → forwarder → :class:`BridgeHandler` on the root logger, with the
console written synchronously.

Calling it again replaces the previous pipeline without losing a record: the new handler takes the
old one's place on the root logger in one step, the old one passes on what still reaches it, and the
old pipeline then delivers what it holds and shuts down. An exit hook, registered when this module is
first imported, shuts the current pipeline down within its deadline; records logged after it (by
exit handlers that run later) are still written, spooled or counted. ``multiprocessing`` children
shut it down too (:mod:`otel_revops.child_processes`).
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import LoggerProvider, LogRecordProcessor
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource

from otel_revops._metrics import PipelineMetrics
from otel_revops.child_processes import arm_child_processes
from otel_revops.config import Settings
from otel_revops.delivery import Destination, ExportProcessor, as_destination
from otel_revops.delivery._spool import Spool, default_spool_dir
from otel_revops.diagnostics import warn
from otel_revops.exporters.console import ConsoleWriter
from otel_revops.forwarder import RecordForwarder
from otel_revops.handler import BridgeHandler
from otel_revops.redacted import redactor_for

__all__ = [
    "LoggingPipeline",
    "configure_logging",
    "current_pipeline",
    "force_flush",
    "pipeline_for_a_block",
    "shutdown_logging",
]

_lock = threading.RLock()
_current: LoggingPipeline | None = None


class LoggingPipeline:
    """A configured pipeline: its settings, provider, handler and processors.

    Built by :func:`configure_logging`; use :meth:`force_flush`, :meth:`shutdown` and :meth:`stats`.
    """

    def __init__(
        self,
        settings: Settings,
        exporters: Sequence[LogRecordExporter | Destination] = (),
        processors: Sequence[LogRecordProcessor] = (),
    ) -> None:
        self.settings = settings
        for why in Settings.replaced():
            warn(f"replaced-{why.split()[0]}", why, every_seconds=float("inf"))
        self.resource = Resource.create({SERVICE_NAME: settings.service_name})
        self.logger_provider = LoggerProvider(resource=self.resource, shutdown_on_exit=False)
        self.processors: list[LogRecordProcessor] = []
        redactor = self.redactor = redactor_for(settings)
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
        # Records are forwarded once there is somewhere to send them (add_processor connects the forwarder).
        self.handler = BridgeHandler(console=console, redactor=redactor)
        #: The pipeline's health as OpenTelemetry metrics (:mod:`otel_revops._metrics`).
        self.metrics = PipelineMetrics(settings, self.resource, self.forwarder, self._export_processors)
        for exporter in [*_exporters_from_settings(settings), *exporters]:
            self.add_exporter(exporter)
        for processor in processors:
            self.add_processor(processor)
        self._saved_levels: dict[str, int] = {}
        self._closed = False
        arm_child_processes(self, _shutdown_current)

    def add_exporter(self, exporter: LogRecordExporter | Destination) -> ExportProcessor:
        """Deliver to ``exporter`` too (a ``LogRecordExporter`` or a :class:`~otel_revops.delivery.Destination`),
        through a delivery processor of its own."""
        s = self.settings
        destination = as_destination(exporter)
        processor = ExportProcessor(
            destination,
            max_queue_size=s.max_queue_size,
            max_batch_size=s.export_batch_size,
            schedule_delay_millis=s.export_delay_ms,
            retry_deadline_millis=s.retry_deadline_ms,
            shutdown_timeout_millis=s.shutdown_timeout_ms,
            spool=self._spool_for(destination),
            redactor=self.redactor,
        )
        self.metrics.observe(processor)
        self.add_processor(processor)
        return processor

    def _spool_for(self, destination: Destination) -> Spool | None:
        s = self.settings
        if not s.spool:
            return None
        directory = Path(s.spool_dir) if s.spool_dir else default_spool_dir()
        # One sub-directory per service and destination (the service name was checked to be one path part).
        safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in destination.key).lstrip(".") or "_"
        try:
            return Spool(directory / s.service_name / safe, s.spool_max_bytes)
        except OSError as exc:
            warn("spool-dir", f"spool disabled: cannot use {directory}: {exc}")
            return None

    def add_processor(self, processor: LogRecordProcessor) -> None:
        """Register any OTel ``LogRecordProcessor`` on this pipeline's provider."""
        self.logger_provider.add_log_record_processor(processor)
        self.processors.append(processor)
        self.handler.forwarder = self.forwarder

    def install(self, replacing: LoggingPipeline | None = None) -> None:
        """Attach the handler to the root logger and set levels.

        An earlier bridge handler is replaced in one step (its place in ``root.handlers``), after it was
        told to pass on whatever still reaches it; the levels ``replacing`` saved are kept as the ones to
        restore.
        """
        root = logging.getLogger()
        if replacing is not None:
            replacing.handler.successor = self.handler
            replacing.forwarder.successor = self.forwarder
            self._saved_levels.update(replacing._saved_levels)
        logging._acquireLock()  # type: ignore[attr-defined] # the lock logging guards handler lists with
        try:
            bridges = [index for index, handler in enumerate(root.handlers) if isinstance(handler, BridgeHandler)]
            if bridges:
                for index in bridges:
                    bridge = root.handlers[index]
                    assert isinstance(bridge, BridgeHandler)
                    bridge.successor = bridge.successor or self.handler
                root.handlers[bridges[0]] = self.handler
                for index in reversed(bridges[1:]):
                    del root.handlers[index]
            else:
                root.handlers.append(self.handler)
        finally:
            logging._releaseLock()  # type: ignore[attr-defined]
        levels = {"": self.settings.log_level, **self.settings.log_levels}
        for category, original in self._saved_levels.items():
            if category not in levels:
                logging.getLogger(category or None).setLevel(original)
        for category, level in levels.items():
            self._set_level(category, level)

    def _set_level(self, category: str, level: int) -> None:
        logger = logging.getLogger(category or None)
        self._saved_levels.setdefault(category, logger.level)
        logger.setLevel(level)

    def _export_processors(self) -> list[ExportProcessor]:
        return [p for p in self.processors if isinstance(p, ExportProcessor)]

    def force_flush(self, timeout_millis: int | None = None) -> bool:
        """Export everything logged so far; True if it was done within the timeout."""
        timeout = self.settings.shutdown_timeout_ms if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + timeout / 1000
        done = self.forwarder.flush(timeout)
        for export_processor in self._export_processors():
            export_processor.prepare_flush(deadline)
        for processor in self.processors:
            done = processor.force_flush(_remaining(deadline)) and done
        self.handler.flush()
        return done

    def shutdown(self, timeout_millis: int | None = None, *, at_exit: bool = False) -> bool:
        """Detach, deliver what is queued within the deadline, and shut the exporters down. Idempotent.

        ``at_exit`` (the exit hook) leaves the handler attached and the destinations open: what is logged
        later in the interpreter's exit is written at once, spooled or counted.
        """
        if self._closed:
            return True
        self._closed = True
        timeout = self.settings.shutdown_timeout_ms if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + timeout / 1000
        replaced = self.handler.successor is not None
        if not (at_exit or replaced):
            root = logging.getLogger()
            if self.handler in root.handlers:
                root.removeHandler(self.handler)
            for category, level in self._saved_levels.items():
                logging.getLogger(category or None).setLevel(level)
        done = self.forwarder.close(timeout)
        processors = self._export_processors()
        for export_processor in processors:
            export_processor.prepare_flush(deadline)
        for export_processor in processors:
            export_processor.shutdown(_remaining(deadline), at_exit=at_exit)
        for processor in self.processors:
            if not isinstance(processor, ExportProcessor):
                processor.force_flush(_remaining(deadline))
        self.metrics.close(_remaining(deadline))
        if not at_exit:
            self.logger_provider.shutdown()
        self.handler.flush()
        return done

    def stats(self) -> dict[str, Any]:
        """Counts from every stage: the handler, the forwarder and each destination's delivery processor."""
        return {
            "handler_errors": self.handler.errors,
            "console_errors": self.handler.console.errors if self.handler.console else 0,
            "forwarder": self.forwarder.stats(),
            "exporters": {p.name: p.stats() for p in self._export_processors()},
        }


def _remaining(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))


def _stderr() -> Any:
    import sys

    return sys.stderr


def _exporters_from_settings(settings: Settings) -> list[Destination]:
    from otel_revops.exporters.from_settings import destinations_from_settings

    return destinations_from_settings(settings)


def configure_logging(
    *,
    exporters: Sequence[LogRecordExporter | Destination] = (),
    processors: Sequence[LogRecordProcessor] = (),
    **settings: Any,
) -> LoggingPipeline:
    """Set up logging: OTel provider, exporters, console and the root handler; returns the pipeline.

    ``settings`` are the fields of :class:`~otel_revops.config.Settings` (``service_name``, ``console``,
    ``console_stream``, ``log_level``, ``log_levels``, ``mongodb_uri``, ``otlp_endpoint`` …), each
    resolved argument → environment → default. ``exporters`` (``LogRecordExporter`` or
    :class:`~otel_revops.delivery.Destination`) and ``processors`` add your own.
    A bad value raises :class:`~otel_revops.config.ConfigurationError` before anything changes.
    Calling it again replaces the previous pipeline; no record logged meanwhile, on any thread, is lost.
    """
    pipeline, previous = _install(Settings.resolve(**settings), exporters, processors)
    if previous is not None:
        previous.shutdown()
    return pipeline


@contextmanager
def pipeline_for_a_block(
    *,
    exporters: Sequence[LogRecordExporter | Destination] = (),
    processors: Sequence[LogRecordProcessor] = (),
    **settings: Any,
) -> Iterator[LoggingPipeline]:
    """A pipeline configured as by :func:`configure_logging` for the ``with`` block, then shut down; the
    pipeline running before it (left running meanwhile, its handler passing records on) is put back.
    When the block configured logging again, the newest pipeline stays and the one before is shut down."""
    global _current
    pipeline, previous = _install(Settings.resolve(**settings), exporters, processors)
    try:
        yield pipeline
    finally:
        with _lock:
            restored = _current is pipeline and previous is not None and not previous._closed
            if restored and previous is not None:
                previous.handler.successor = None
                previous.forwarder.successor = None
                previous.install(replacing=pipeline)
            if _current is pipeline:
                _current = previous
        pipeline.shutdown()
        if previous is not None and not restored:
            previous.shutdown()


def _install(
    settings: Settings,
    exporters: Sequence[LogRecordExporter | Destination],
    processors: Sequence[LogRecordProcessor],
) -> tuple[LoggingPipeline, LoggingPipeline | None]:
    global _current
    with _lock:
        pipeline = LoggingPipeline(settings, exporters, processors)
        previous = _current
        pipeline.install(replacing=previous)
        _current = pipeline
        # Exit handlers run last registered first: this one, registered after the destinations' own
        # libraries (pymongo joins its monitor threads at exit), starts the clock of the exit deadline.
        atexit.unregister(_exit_begins)
        atexit.register(_exit_begins)
    return pipeline, previous


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


_exit_began: float | None = None


def _exit_begins() -> None:
    global _exit_began
    _exit_began = time.monotonic()


def _shutdown_current() -> None:
    """The exit hook (registered by :mod:`otel_revops._exit` when the package is imported)."""
    pipeline = _current
    if pipeline is None:
        return
    timeout = pipeline.settings.shutdown_timeout_ms
    if _exit_began is not None:  # the exit deadline counts from the first exit handler after configuring
        timeout = max(0, timeout - int((time.monotonic() - _exit_began) * 1000))
    pipeline.shutdown(timeout, at_exit=True)
