"""The hand-off between the application's threads and OpenTelemetry.

The calling thread appends ``(record, properties, span, merged)`` to a bounded deque — nothing else:
``properties`` is the execution context's snapshot, or (``merged``) the record's whole properties,
redacted, when the console already needed them: a dict handed over, which becomes the OTel attributes.
A worker thread turns each into an OTel ``LogRecord`` and emits it on the ``LoggerProvider``, whose
processors batch and export. When the deque is full a logging call waits a bounded time for room
(back-pressure instead of loss), then drops the record and counts it. Once closed, a record is
forwarded at once on the calling thread — or, when the forwarder was replaced, handed to its
successor — so that nothing logged after a shutdown or through a reconfiguration is lost uncounted.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord
from opentelemetry.sdk._logs import Logger, LoggerProvider, ReadWriteLogRecord
from opentelemetry.trace import SpanContext

from otel_revops.categories import scope_name
from otel_revops.child_processes import renew_after_fork
from otel_revops.context import as_exporting_thread
from otel_revops.diagnostics import warn
from otel_revops.flushing import FlushMarker, take_all
from otel_revops.redaction import Redactor
from otel_revops.translate import to_otel_record

__all__ = ["RecordForwarder"]

Item = tuple[logging.LogRecord, Mapping[str, Any], "SpanContext | None", bool]
# Scopes are the registered loggers' names; the cache is held to this many all the same.
_MAX_SCOPES = 1024


def _writable(logger: Logger, record: LogRecord) -> LogRecord | ReadWriteLogRecord:
    """The SDK record for ``record`` without re-validating its attributes.

    ``to_otel_record`` already made every value a valid ``AnyValue``; the SDK's ``BoundedAttributes``
    would check each one again (≈40 % of the worker's time per record). Records over the attribute
    count limit take the SDK's own path, which enforces it.
    """
    limits = logger._log_record_limits  # the provider's configured limits
    maximum = limits.max_log_record_attributes
    if maximum is not None and len(record.attributes or ()) > maximum:
        return record
    writable = ReadWriteLogRecord.__new__(ReadWriteLogRecord)
    writable.log_record = record
    writable.resource = logger.resource
    writable.instrumentation_scope = logger.instrumentation_scope
    writable.limits = limits
    return writable


class RecordForwarder:
    """Bounded queue plus worker that forwards stdlib records into a :class:`LoggerProvider`."""

    def __init__(
        self,
        provider: LoggerProvider,
        *,
        max_queue_size: int = 20_000,
        enqueue_timeout_millis: int = 1000,
        batch_size: int = 512,
        delay_millis: int = 200,
        redactor: Redactor | None = None,
        max_value_length: int | None = None,
    ) -> None:
        self.provider = provider
        self.redactor = redactor
        self.max_value_length = max_value_length
        self._max = max_queue_size
        self._enqueue_timeout = enqueue_timeout_millis / 1000
        # The worker wakes on its timer, or early once a quarter of the queue is waiting: waking it
        # every batch would hand the GIL back and forth with the logging threads during a burst.
        self._wake_at = max(batch_size, max_queue_size // 4)
        self._delay = delay_millis / 1000
        self.forwarded = 0
        self.dropped = 0
        self.failed = 0
        #: Where records go once this forwarder is closed, when a newer pipeline replaced it.
        self.successor: RecordForwarder | None = None
        self._closed = False
        self._loggers: dict[str, Logger | None] = {}
        self._init_state()
        renew_after_fork(self._init_state)

    def _init_state(self) -> None:
        # Also the fork handler: the child starts with an empty queue (its parent exports what it held)
        # and its own locks and worker.
        self._queue: collections.deque[Item | FlushMarker] = collections.deque()
        self._wake = threading.Event()
        # Re-entrant: a signal handler that logs may interrupt its own thread while it holds them.
        self._room = threading.Condition(threading.RLock())
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.RLock()

    def put(self, item: Item) -> None:
        """Queue one record; waits at most the enqueue timeout when full, then drops and counts it.
        Closed, it forwards the record at once (or hands it to its successor)."""
        if self._closed:
            self._after_close(item)
            return
        queue = self._queue
        if len(queue) >= self._max and not self._wait_for_room():
            if self._closed:
                self._after_close(item)
                return
            self.dropped += 1
            warn("forwarder-full", f"export queue full ({self._max} records): {self.dropped} records dropped so far")
            return
        queue.append(item)
        if self._worker is None:
            self._start_worker()
        if len(queue) >= self._wake_at and not self._wake.is_set():
            self._wake.set()

    def _wait_for_room(self) -> bool:
        if self._closed:
            return False
        deadline = time.monotonic() + self._enqueue_timeout
        self._wake.set()
        with self._room:
            while len(self._queue) >= self._max:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return False
                self._room.wait(remaining)
        return True

    def _start_worker(self) -> None:
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name="otel-revops-forwarder", daemon=True)
                self._worker.start()

    def _run(self) -> None:
        as_exporting_thread()
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            self._drain()
            if self._closed:
                self._drain()
                return

    def _drain(self) -> None:
        queue = self._queue
        count = 0
        while queue:
            try:
                item = queue.popleft()
            except IndexError:
                break
            if isinstance(item, FlushMarker):
                item.done.set()
                continue
            self._forward(item)
            count += 1
            if count % 256 == 0:
                self._notify_room()
        self._notify_room()

    def _forward(self, item: Item) -> None:
        """Translate one record and emit it on the provider; never raises."""
        record, base, span, merged = item
        loggers = self._loggers
        try:
            name = record.name
            scope = scope_name(name)
            if scope in loggers:
                logger = loggers[scope]
            else:
                if len(loggers) >= _MAX_SCOPES:
                    loggers.clear()
                created = self.provider.get_logger(scope)
                # A no-op logger (OTEL_SDK_DISABLED=true) exports nothing: skip the translation too.
                logger = loggers[scope] = created if isinstance(created, Logger) else None
            if logger is not None:
                category = name if scope != name else None
                otel = to_otel_record(record, base, span, self.redactor, self.max_value_length, category, merged=merged)
                logger.emit(_writable(logger, otel))  # type: ignore[arg-type] # the SDK takes a ReadWriteLogRecord as is
            self.forwarded += 1
        except Exception as exc:  # noqa: BLE001 - one bad record must not stop the others
            self.failed += 1
            warn("forwarder-error", f"could not forward a record: {type(exc).__name__}: {exc}")

    def _after_close(self, item: Item) -> None:
        successor = self.successor
        if successor is not None:
            successor.put(item)
        else:
            self._forward(item)

    def _notify_room(self) -> None:
        with self._room:
            self._room.notify_all()

    def flush(self, timeout_millis: int) -> bool:
        """Wait until every record queued before this call was emitted to the provider."""
        if self._worker is None or not self._worker.is_alive():
            if not self._queue:
                return True
            self._start_worker()
        marker = FlushMarker()
        self._queue.append(marker)
        self._wake.set()
        return marker.done.wait(max(0.0, timeout_millis / 1000))

    def close(self, timeout_millis: int) -> bool:
        """Forward what is queued (within the timeout) and stop the worker; later records are forwarded
        at once on their own thread (or handed to :attr:`successor`)."""
        deadline = time.monotonic() + timeout_millis / 1000
        self._closed = True
        self._wake.set()
        self._notify_room()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(0.0, deadline - time.monotonic()))
        done = worker is None or not worker.is_alive()
        if done:
            # Records queued by threads that saw the forwarder open a moment before it closed.
            for item in take_all(self._queue):
                self._after_close(item)
            return True
        left = sum(1 for item in list(self._queue) if not isinstance(item, FlushMarker))
        if left:
            self.dropped += left
            warn("forwarder-close", f"{left} records not forwarded before the shutdown deadline")
        return False

    def stats(self) -> dict[str, int]:
        """Counts: forwarded, dropped (queue full or shutdown), failed (translation errors), queued."""
        return {"forwarded": self.forwarded, "dropped": self.dropped, "failed": self.failed, "queued": len(self._queue)}
