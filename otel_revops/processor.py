"""A batching :class:`LogRecordProcessor` that counts what it cannot deliver.

Unlike the SDK's ``BatchLogRecordProcessor`` it never drops silently: records refused because the
queue is full, and batches the exporter failed, are counted in :meth:`ExportProcessor.stats` and
reported on standard error. Its worker runs inside :func:`otel_revops.context.exporting`, so what the
exporter (or its driver) logs never comes back to it. After ``os.fork`` the child starts empty with
its own worker.
"""

from __future__ import annotations

import collections
import contextlib
import os
import threading
import time
import weakref
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_revops.context import EXPORTING
from otel_revops.diagnostics import warn

__all__ = ["ExportProcessor"]


class _Flush:
    """A marker in the queue: set once everything queued before it was handed to the exporter."""

    __slots__ = ("done",)

    def __init__(self) -> None:
        self.done = threading.Event()


class ExportProcessor(LogRecordProcessor):
    """Queue records, export them in batches on a worker thread, count every loss.

    ``max_queue_size`` bounds the records held; ``max_batch_size`` the records per export call;
    ``schedule_delay_millis`` how long a record may wait for its batch; ``shutdown_timeout_millis``
    the default deadline of :meth:`shutdown`.
    """

    def __init__(
        self,
        exporter: LogRecordExporter,
        *,
        max_queue_size: int = 100_000,
        max_batch_size: int = 512,
        schedule_delay_millis: int = 500,
        shutdown_timeout_millis: int = 10_000,
    ) -> None:
        self.exporter = exporter
        self._max_queue = max_queue_size
        self._max_batch = max_batch_size
        self._delay = schedule_delay_millis / 1000
        self._shutdown_timeout = shutdown_timeout_millis
        self._name = type(exporter).__name__
        self._counts = {"received": 0, "exported": 0, "dropped_queue_full": 0, "failed": 0, "dropped_shutdown": 0}
        self._init_state()
        self._closed = False
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _init_state(self) -> None:
        self._queue: collections.deque[ReadableLogRecord | _Flush] = collections.deque()
        self._wake = threading.Event()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()

    def _after_fork(self) -> None:
        # The parent still owns (and will export) what was queued before the fork.
        self._init_state()

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=f"otel-revops-{self._name}", daemon=True)
                self._worker.start()

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue one record (called by the SDK's ``Logger.emit``)."""
        if self._closed:
            self._counts["dropped_shutdown"] += 1
            return
        self._counts["received"] += 1
        if len(self._queue) >= self._max_queue:
            self._counts["dropped_queue_full"] += 1
            warn(
                f"queue-full-{self._name}",
                f"{self._name} queue is full ({self._max_queue} records): "
                f"{self._counts['dropped_queue_full']} dropped so far",
            )
            return
        record = log_record.log_record
        self._queue.append(
            ReadableLogRecord(
                log_record=record,
                resource=log_record.resource,  # type: ignore[arg-type]
                instrumentation_scope=log_record.instrumentation_scope,
                limits=log_record.limits,
            )
        )
        if self._worker is None:
            self._ensure_worker()
        if len(self._queue) >= self._max_batch:
            self._wake.set()

    def _run(self) -> None:
        EXPORTING.set(True)
        while True:
            self._wake.wait(self._delay)
            self._wake.clear()
            if not self._drain():
                return

    def _drain(self) -> bool:
        """Export everything queued; False once the processor is closed and empty."""
        batch: list[ReadableLogRecord] = []
        queue = self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, _Flush):
                self._export(batch)
                batch = []
                item.done.set()
                continue
            batch.append(item)
            if len(batch) >= self._max_batch:
                self._export(batch)
                batch = []
        self._export(batch)
        return not (self._closed and not queue)

    def _export(self, batch: list[ReadableLogRecord]) -> None:
        if not batch:
            return
        try:
            result = self.exporter.export(batch)
        except Exception as exc:  # noqa: BLE001 - an exporter's bug must not kill the worker
            result = LogRecordExportResult.FAILURE
            warn(f"export-error-{self._name}", f"{self._name} raised {type(exc).__name__}: {exc}")
        if result is LogRecordExportResult.SUCCESS:
            self._counts["exported"] += len(batch)
        else:
            self._counts["failed"] += len(batch)
            warn(
                f"export-failed-{self._name}",
                f"{self._name} failed to export {len(batch)} records ({self._counts['failed']} so far)",
            )

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand everything queued so far to the exporter and flush it; True if done within the timeout."""
        deadline = time.monotonic() + timeout_millis / 1000
        if self._worker is None or not self._worker.is_alive():
            if not self._queue:
                return self._flush_exporter(deadline)
            self._ensure_worker()
        marker = _Flush()
        self._queue.append(marker)
        self._wake.set()
        if not marker.done.wait(max(0.0, deadline - time.monotonic())):
            return False
        return self._flush_exporter(deadline)

    def _flush_exporter(self, deadline: float) -> bool:
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        try:
            return bool(self.exporter.force_flush(timeout_millis=remaining))
        except Exception:  # noqa: BLE001
            return False

    def shutdown(self, timeout_millis: int | None = None) -> None:
        """Deliver what is queued within the deadline, then shut the exporter down. Idempotent."""
        if self._closed:
            return
        timeout = self._shutdown_timeout if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + timeout / 1000
        self.force_flush(timeout)
        self._closed = True
        self._wake.set()
        if self._worker is not None:
            self._worker.join(max(0.0, deadline - time.monotonic()))
        left = sum(1 for item in self._queue if not isinstance(item, _Flush))
        if left:
            self._counts["dropped_shutdown"] += left
            warn(f"shutdown-{self._name}", f"{self._name}: {left} records not exported before the shutdown deadline")
        with contextlib.suppress(Exception):
            self.exporter.shutdown()  # type: ignore[no-untyped-call]

    def stats(self) -> dict[str, Any]:
        """Counts: received, exported, dropped_queue_full, failed, dropped_shutdown, and queued now."""
        counts: dict[str, Any] = dict(self._counts)
        counts["queued"] = sum(1 for item in list(self._queue) if not isinstance(item, _Flush))
        exporter_stats = getattr(self.exporter, "stats", None)
        if callable(exporter_stats):
            counts["exporter"] = exporter_stats()
        return counts
