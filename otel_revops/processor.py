"""A batching :class:`LogRecordProcessor` that keeps what it cannot deliver and counts every loss.

Unlike the SDK's ``BatchLogRecordProcessor`` it never drops silently. A batch the exporter fails is
held — in a disk :class:`~otel_revops.spool.Spool` when one is configured, else in memory (bounded)
— and replayed in order, with exponential backoff and jitter, before any newer batch. Records that
find the queue full go to the spool too (or are counted as dropped without one). Its worker runs
inside :func:`otel_revops.context.exporting`, so what the exporter or its driver logs never comes
back to it. After ``os.fork`` the child starts empty with its own worker.
"""

from __future__ import annotations

import collections
import contextlib
import hashlib
import os
import random
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_revops.context import EXPORTING
from otel_revops.diagnostics import warn
from otel_revops.flushing import FlushMarker
from otel_revops.spool import Spool

__all__ = ["ExportProcessor"]

_BACKOFF_START = 0.5
_BACKOFF_MAX = 30.0
_RESCAN_SECONDS = 30.0


class ExportProcessor(LogRecordProcessor):
    """Queue records, export them in batches on a worker thread, hold and replay failed batches.

    ``max_queue_size`` bounds the records queued (and, without a spool, those held for retry);
    ``max_batch_size`` the records per export call; ``schedule_delay_millis`` how long a record may
    wait for its batch; ``shutdown_timeout_millis`` the default deadline of :meth:`shutdown`;
    ``spool`` where undeliverable batches wait on disk.
    """

    def __init__(
        self,
        exporter: LogRecordExporter,
        *,
        max_queue_size: int = 20_000,
        max_batch_size: int = 512,
        schedule_delay_millis: int = 500,
        shutdown_timeout_millis: int = 10_000,
        spool: Spool | None = None,
    ) -> None:
        self.exporter = exporter
        self.spool = spool
        if spool is not None and hasattr(exporter, "hold_unwritten"):
            # The exporter's own in-memory holding would hide failures from the spool.
            exporter.hold_unwritten = False
        self._max_queue = max_queue_size
        self._max_batch = max_batch_size
        self._delay = schedule_delay_millis / 1000
        self._shutdown_timeout = shutdown_timeout_millis
        #: The exporter's name in :meth:`stats` and warnings: its ``exporter_name``, else its class name.
        self.name: str = getattr(exporter, "exporter_name", None) or type(exporter).__name__
        self._counts = {
            "received": 0,
            "exported": 0,
            "failed_attempts": 0,
            "held": 0,
            "replayed": 0,
            "dropped_queue_full": 0,
            "dropped_backlog_full": 0,
            "dropped_shutdown": 0,
            "bad_records": 0,
        }
        self._closed = False
        self._init_state()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._init_state)
            os.register_at_fork(after_in_child=lambda: (m := ref()) and m())

    def _init_state(self) -> None:
        # Also the fork handler: the parent keeps (and exports) what was queued before the fork.
        self._queue: collections.deque[ReadableLogRecord | FlushMarker] = collections.deque()
        self._overflow: list[ReadableLogRecord] = []
        self._backlog: collections.deque[list[ReadableLogRecord]] = collections.deque()
        self._backlog_records = 0
        self._spooled_batches = len(self.spool.pending_files()) if self.spool is not None else 0
        self._last_scan = time.monotonic()
        self._backoff = 0.0
        self._next_attempt = 0.0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        if self._spooled_batches:
            self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=f"otel-revops-{self.name}", daemon=True)
                self._worker.start()

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue one record (called by the SDK's ``Logger.emit``)."""
        if self._closed:
            self._counts["dropped_shutdown"] += 1
            return
        self._counts["received"] += 1
        readable = ReadableLogRecord(
            log_record=log_record.log_record,
            resource=log_record.resource,  # type: ignore[arg-type]
            instrumentation_scope=log_record.instrumentation_scope,
            limits=log_record.limits,
        )
        if len(self._queue) >= self._max_queue:
            self._overflowed(readable)
            return
        self._queue.append(readable)
        if self._worker is None:
            self._ensure_worker()
        if len(self._queue) >= self._max_batch:
            self._wake.set()

    def _overflowed(self, readable: ReadableLogRecord) -> None:
        if self.spool is None:
            self._counts["dropped_queue_full"] += 1
            warn(
                f"queue-full-{self.name}",
                f"{self.name} queue is full ({self._max_queue} records): "
                f"{self._counts['dropped_queue_full']} dropped so far",
            )
            return
        self._overflow.append(readable)
        if len(self._overflow) >= self._max_batch:
            batch, self._overflow = self._overflow, []
            self._hold(batch)

    def _run(self) -> None:
        EXPORTING.set(True)
        while True:
            wait = self._delay
            if self._has_backlog():
                wait = min(wait, max(0.0, self._next_attempt - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            self._replay()
            if not self._drain():
                return

    def _drain(self) -> bool:
        """Export everything queued; False once the processor is closed and empty."""
        batch: list[ReadableLogRecord] = []
        queue = self._queue
        while queue:
            item = queue.popleft()
            if isinstance(item, FlushMarker):
                self._export(batch)
                batch = []
                if self._overflow:
                    overflow, self._overflow = self._overflow, []
                    self._hold(overflow)
                self._replay()
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
        if self._has_backlog() or not self._deliver(batch):
            self._hold(batch)

    def _deliver(self, batch: list[ReadableLogRecord]) -> bool:
        """Export ``batch``; True when it is done with (delivered, or its poison records isolated)."""
        try:
            result = self.exporter.export(batch)
        except Exception as exc:  # noqa: BLE001 - an exporter's bug must not kill the worker
            warn(f"export-error-{self.name}", f"{self.name} raised {type(exc).__name__}: {exc}")
            return self._isolate(batch)
        if result is LogRecordExportResult.SUCCESS:
            self._counts["exported"] += len(batch)
            self._backoff = 0.0
            return True
        self._failed()
        return False

    def _failed(self) -> None:
        self._counts["failed_attempts"] += 1
        self._backoff = min(_BACKOFF_MAX, max(_BACKOFF_START, self._backoff * 2))
        self._next_attempt = time.monotonic() + random.uniform(self._backoff / 2, self._backoff)
        warn(
            f"export-failed-{self.name}",
            f"{self.name} could not export a batch; holding it for retry "
            f"({'spool ' + str(self.spool.directory) if self.spool is not None else 'in memory'})",
        )

    def _isolate(self, batch: list[ReadableLogRecord]) -> bool:
        """A batch whose export raised: export its records one by one, so that a record the exporter
        cannot handle (a poison record) is dropped and counted instead of blocking every later batch."""
        unsent: list[ReadableLogRecord] = []
        for record in batch:
            try:
                result = self.exporter.export([record])
            except Exception:  # noqa: BLE001 - this record is the poison
                self._counts["bad_records"] += 1
                continue
            if result is LogRecordExportResult.SUCCESS:
                self._counts["exported"] += 1
            else:
                unsent.append(record)
        if unsent:
            self._failed()
            self._hold(unsent)
        return True

    def _has_backlog(self) -> bool:
        return bool(self._backlog) or self._spooled_batches > 0

    def _hold(self, batch: list[ReadableLogRecord]) -> None:
        self._counts["held"] += len(batch)
        if self.spool is not None:
            try:
                self.spool.write(batch)
                self._spooled_batches += 1
                return
            except OSError as exc:
                warn(f"spool-error-{self.name}", f"cannot write the spool {self.spool.directory}: {exc}")
        self._backlog.append(batch)
        self._backlog_records += len(batch)
        while self._backlog_records > self._max_queue and len(self._backlog) > 1:
            dropped = self._backlog.popleft()
            self._backlog_records -= len(dropped)
            self._counts["dropped_backlog_full"] += len(dropped)
            warn(
                f"backlog-full-{self.name}",
                f"{self.name}: retry backlog over {self._max_queue} records; "
                f"{self._counts['dropped_backlog_full']} oldest dropped so far",
            )

    def _replay(self, deadline: float | None = None) -> None:
        """Deliver held batches oldest first until one fails (then back off) or none is left."""
        if self.spool is not None and time.monotonic() - self._last_scan > _RESCAN_SECONDS:
            self._spooled_batches = len(self.spool.pending_files())  # other processes' leftovers
            self._last_scan = time.monotonic()
        while self._has_backlog():
            now = time.monotonic()
            if deadline is None and now < self._next_attempt:
                return
            if deadline is not None and now >= deadline:
                return
            if self._backlog:
                batch = self._backlog[0]
                if not self._deliver(batch):
                    return
                self._backlog.popleft()
                self._backlog_records -= len(batch)
                self._counts["replayed"] += len(batch)
                continue
            assert self.spool is not None
            claimed = self.spool.claim_oldest()
            if claimed is None:
                self._spooled_batches = 0
                return
            path, records = claimed
            delivered = self._deliver(records) if records else True
            self.spool.release(path, delivered)
            if not delivered:
                return
            self._spooled_batches = max(0, self._spooled_batches - 1)
            self._counts["replayed"] += len(records)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand everything queued so far to the exporter, replaying held batches first; a replay that
        fails is tried again (with the backoff) until the timeout. True if nothing is left waiting."""
        return self._flush(time.monotonic() + timeout_millis / 1000, retry=True)

    def _flush(self, deadline: float, *, retry: bool) -> bool:
        self._next_attempt = 0.0
        if self._worker is None or not self._worker.is_alive():
            if not self._queue and not self._has_backlog() and not self._overflow:
                return self._flush_exporter(deadline)
            self._ensure_worker()
        while True:
            marker = FlushMarker()
            self._queue.append(marker)
            self._wake.set()
            if not marker.done.wait(max(0.0, deadline - time.monotonic())):
                return False
            if retry and self._has_backlog():
                pause = max(0.0, self._next_attempt - time.monotonic())
                if time.monotonic() + pause < deadline and not self._stopping.wait(pause):
                    continue
            return self._flush_exporter(deadline) and not self._has_backlog()

    def _flush_exporter(self, deadline: float) -> bool:
        remaining = max(0, int((deadline - time.monotonic()) * 1000))
        try:
            return bool(self.exporter.force_flush(timeout_millis=remaining))
        except Exception:  # noqa: BLE001
            return False

    def shutdown(self, timeout_millis: int | None = None) -> None:
        """Deliver what is queued within the deadline, then shut the exporter down. Idempotent.

        Batches still held in the spool stay there for the next process (they are tried once, not
        until the deadline); held in memory, they are retried until the deadline, then counted as dropped.
        """
        if self._closed:
            return
        timeout = self._shutdown_timeout if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + timeout / 1000
        # Held batches a spool keeps are not lost: only a backlog in memory is worth the whole deadline.
        self._flush(deadline, retry=self.spool is None)
        self._closed = True
        self._stopping.set()
        self._wake.set()
        if self._worker is not None:
            self._worker.join(max(0.0, deadline - time.monotonic()))
        # The worker may still be exporting: take what is left out of its reach (popleft is atomic) so
        # that no record is both exported and spooled, which would push it twice after a replay.
        remaining, self._overflow = self._overflow, []
        while True:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            if not isinstance(item, FlushMarker):
                remaining.append(item)
        left = len(remaining)
        if left and self.spool is not None:
            with contextlib.suppress(OSError):
                self.spool.write(remaining)
                left = 0
        left += self._backlog_records
        if left:
            self._counts["dropped_shutdown"] += left
            warn(f"shutdown-{self.name}", f"{self.name}: {left} records not exported before the shutdown deadline")
        elif self._spooled_batches:
            where = self.spool.directory if self.spool is not None else "memory"
            warn(f"spooled-{self.name}", f"{self.name}: undelivered batches kept in {where}")
        with contextlib.suppress(Exception):
            self.exporter.shutdown()  # type: ignore[no-untyped-call]

    def stats(self) -> dict[str, Any]:
        """Counts: received, exported, failed_attempts, held, replayed, dropped_* and what waits now."""
        counts: dict[str, Any] = dict(self._counts)
        counts["queued"] = sum(1 for item in list(self._queue) if not isinstance(item, FlushMarker))
        counts["backlog_records"] = self._backlog_records
        counts["spooled_batches"] = self._spooled_batches
        if self.spool is not None:
            counts["spool_dropped"] = self.spool.dropped
        exporter_stats = getattr(self.exporter, "stats", None)
        if callable(exporter_stats):
            counts["exporter"] = exporter_stats()
        return counts


def spool_key(exporter: LogRecordExporter) -> str:
    """The name of ``exporter``'s destination: its ``spool_key`` attribute, else its class and a digest
    of its endpoint or path, so batches spooled for one destination never replay into another."""
    key = getattr(exporter, "spool_key", None)
    if key:
        return str(key)
    identity = next(
        (
            str(value)
            for value in (getattr(exporter, name, None) for name in ("_endpoint", "endpoint", "path"))
            if value
        ),
        "",
    )
    name = type(exporter).__name__
    return f"{name}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}" if identity else name


def spool_for(exporter: LogRecordExporter, directory: Path, max_bytes: int) -> Spool:
    """The spool of ``exporter`` under ``directory``: one sub-directory per destination."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in spool_key(exporter))
    return Spool(directory / safe, max_bytes)
