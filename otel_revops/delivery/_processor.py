"""The delivery layer: one :class:`LogRecordProcessor` per destination that queues, batches, holds,
backs off, spools, replays and counts — the only place in the library that does any of it.

Records are queued on the emitting thread and written in batches by one worker thread, which runs
as an exporter (:func:`otel_revops.context.as_exporting_thread`: what the destination or its driver
logs never comes back, and instrumentations do not trace its traffic). A batch the destination does
not take (:class:`~otel_revops.delivery.Retry`) is **held**, oldest first and ahead of any newer
batch: in memory, retried with backoff (:mod:`otel_revops.delivery._backoff`) for up to
``retry_deadline_millis`` while the destination keeps failing, then in the disk
:class:`~otel_revops.delivery._spool.Spool` (when there is one), which the next process replays
too. A batch the destination refuses (:class:`~otel_revops.delivery.Refused`) is written in halves
down to the records it refuses, which are counted. Memory holds at most ``max_queue_size`` records
(queued and held together); beyond it the oldest queued records go to the spool, or, without one,
new records are dropped and counted. Nothing is lost without being counted in :meth:`stats`.

``force_flush`` and ``shutdown`` never wait past their deadline: an attempt still running then is
left to finish on the worker, and at shutdown what was not delivered — that attempt's batch too — is
written to the spool. Records that arrive after shutdown are written at once on the emitting thread
(or spooled, or counted). After ``os.fork`` the child starts empty, with its own worker.
"""

from __future__ import annotations

import collections
import itertools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import LogRecordProcessor, ReadableLogRecord, ReadWriteLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter

from otel_revops.child_processes import renew_after_fork
from otel_revops.context import as_exporting_thread
from otel_revops.delivery._backoff import backoff_seconds
from otel_revops.delivery._spool import Spool
from otel_revops.delivery.contract import Attempt, Destination, Done, Outcome, Refused, Retry, as_destination
from otel_revops.diagnostics import warn
from otel_revops.flushing import FlushMarker, take_all
from otel_revops.redacted import redact_record
from otel_revops.redaction import Redactor

__all__ = ["ExportProcessor"]

# An attempt is bounded by this, or by the deadline of a flush or shutdown in progress.
_ATTEMPT_SECONDS = 30.0
# How often the spool is rescanned for batches other processes left.
_RESCAN_SECONDS = 30.0
# After a failure this recent, records arriving after shutdown are spooled without an attempt.
_LATE_ATTEMPT_TIMEOUT = 1.0


@dataclass(slots=True)
class _Batch:
    """Records written together, with their identity and the destination's progress on them."""

    records: list[ReadableLogRecord]
    batch: str
    progress: object | None = None

    def halves(self) -> tuple[_Batch, _Batch]:
        middle = len(self.records) // 2
        return _Batch(self.records[:middle], f"{self.batch}.0"), _Batch(self.records[middle:], f"{self.batch}.1")


class ExportProcessor(LogRecordProcessor):
    """Deliver the provider's records to one destination: a :class:`~otel_revops.delivery.Destination`,
    or any ``LogRecordExporter`` (wrapped in :class:`~otel_revops.delivery.ExporterDestination`).

    ``max_queue_size`` bounds the records held in memory (queued and held together);
    ``max_batch_size`` the records per write; ``schedule_delay_millis`` how long a record may wait for
    its batch; ``retry_deadline_millis`` how long held batches stay in memory while the destination
    keeps failing before they go to ``spool``; ``shutdown_timeout_millis`` the default deadline of
    :meth:`shutdown`.
    """

    def __init__(
        self,
        exporter: LogRecordExporter | Destination,
        *,
        max_queue_size: int = 20_000,
        max_batch_size: int = 512,
        schedule_delay_millis: int = 500,
        retry_deadline_millis: int = 10_000,
        shutdown_timeout_millis: int = 10_000,
        spool: Spool | None = None,
        redactor: Redactor | None = None,
    ) -> None:
        #: What was given: the exporter or destination.
        self.exporter = exporter
        #: What the batches are written to.
        self.destination = as_destination(exporter)
        #: The destination's name in :meth:`stats` and warnings.
        self.name: str = self.destination.name
        self.spool = spool
        #: Called on the worker after each attempt with the destination's name, ``"ok"``, ``"retry"``
        #: or ``"refused"``, and the attempt's duration in milliseconds (the pipeline's metrics).
        self.attempt_observer: Callable[[str, str, float], None] | None = None
        self._redactor = redactor
        self._max_queue = max_queue_size
        self._max_batch = max_batch_size
        self._delay = schedule_delay_millis / 1000
        self._retry_deadline = retry_deadline_millis / 1000
        self._shutdown_timeout = shutdown_timeout_millis
        self._counts = dict.fromkeys(
            (
                "received",
                "exported",
                "refused",
                "held",
                "replayed",
                "failed_attempts",
                "dropped_queue_full",
                "dropped_shutdown",
            ),
            0,
        )
        self._closed = False
        self._at_exit = False
        self._init_state()
        renew_after_fork(self._init_state)

    def _init_state(self) -> None:
        # Also the fork handler: the parent keeps (and delivers) what it queued before the fork.
        self._queue: collections.deque[ReadableLogRecord | FlushMarker] = collections.deque()
        self._backlog: collections.deque[_Batch] = collections.deque()
        self._backlog_records = 0
        self._inflight: _Batch | None = None
        self._salvaged: _Batch | None = None  # the attempt still running when shutdown spooled its batch
        self._attempt_started = 0.0
        self._state_lock = threading.RLock()
        self._writer = secrets.token_hex(8)
        self._numbers = itertools.count(1)
        self._spooled = len(self.spool.pending_files()) if self.spool is not None else 0
        self._last_scan = time.monotonic()
        self._failures = 0
        self._failing_since: float | None = None
        self._next_attempt = 0.0
        self._flush_deadline: float | None = None
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._worker: threading.Thread | None = None
        self._worker_lock = threading.Lock()
        if self._spooled:
            self._ensure_worker()

    def _ensure_worker(self) -> None:
        if self._worker is not None:
            return
        with self._worker_lock:
            if self._worker is None:
                self._worker = threading.Thread(target=self._run, name=f"otel-revops-{self.name}", daemon=True)
                self._worker.start()

    # -- records in ----------------------------------------------------------------------------

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Queue one record (called by the SDK's ``Logger.emit``); after shutdown, write it at once."""
        readable = redact_record(_readable(log_record), self._redactor)  # the API's records, and the SDK's, are not yet
        self._counts["received"] += 1
        if self._closed:
            self._late(readable)
            return
        queue = self._queue
        if len(queue) + self._backlog_records >= self._max_queue:
            self._overflowed(readable)
            return
        queue.append(readable)
        if self._worker is None:
            self._ensure_worker()
        if len(queue) >= self._max_batch and not self._wake.is_set():
            self._wake.set()

    def _overflowed(self, readable: ReadableLogRecord) -> None:
        """Memory is full: the oldest queued records go to the spool (order kept), or this one is dropped."""
        if self.spool is None:
            self._drop("dropped_queue_full", 1, f"queue is full ({self._max_queue} records)")
            return
        self._queue.append(readable)
        oldest: list[ReadableLogRecord] = []
        while len(oldest) < self._max_batch:
            try:
                item = self._queue.popleft()
            except IndexError:
                break
            if isinstance(item, FlushMarker):
                self._queue.appendleft(item)
                break
            oldest.append(item)
        with self._state_lock:
            self._spill_backlog()
            if oldest:
                if self._to_spool(_Batch(oldest, self._new_batch())):
                    self._counts["held"] += len(oldest)
                else:
                    self._drop("dropped_queue_full", len(oldest), f"queue is full ({self._max_queue} records)")
        self._wake.set()

    def _new_batch(self) -> str:
        return str(next(self._numbers))

    # -- the worker ----------------------------------------------------------------------------

    def _run(self) -> None:
        as_exporting_thread()
        while True:
            wait = self._delay
            if self._has_backlog():
                wait = min(wait, max(0.0, self._next_attempt - time.monotonic()))
            self._wake.wait(wait)
            self._wake.clear()
            try:
                self._work()
            except Exception as error:  # noqa: BLE001 - the worker must outlive any bug below it
                warn(f"worker-error-{self.name}", f"{self.name}: delivery error {type(error).__name__}: {error}")
                self._failed(f"{type(error).__name__}: {error}")
            if self._stopping.is_set():
                return

    def _work(self) -> None:
        self._replay(force=False)
        batch: list[ReadableLogRecord] = []
        queue = self._queue
        while queue and not self._stopping.is_set():
            try:
                item = queue.popleft()
            except IndexError:
                break
            if isinstance(item, FlushMarker):
                self._send(batch)
                batch = []
                self._replay(force=True)
                item.done.set()
                continue
            batch.append(item)
            if len(batch) >= self._max_batch:
                self._send(batch)
                batch = []
        self._send(batch)

    def _send(self, records: list[ReadableLogRecord]) -> None:
        if not records:
            return
        batch = _Batch(records, self._new_batch())
        if self._has_backlog() or self._stopping.is_set():
            self._hold([batch])
            return
        self._hold(self._drive(batch))

    def _drive(self, batch: _Batch) -> list[_Batch]:
        """Write ``batch`` (in parts, if refused) until done; the parts left when the destination asks for a retry."""
        work = collections.deque([batch])
        while work:
            head = work[0]
            outcome = self._attempt(head)
            if isinstance(outcome, Retry):
                head.progress = outcome.progress
                return list(work)
            work.popleft()
            if isinstance(outcome, Refused):
                work.extendleft(reversed(self._refused(head, outcome)))
        return []

    def _attempt(self, batch: _Batch, writer: str | None = None) -> Outcome:
        """One write of ``batch`` (formed by ``writer``, by default this processor; a batch from another
        writer is replayed from the spool, whose claimed file keeps it); a destination that raises is
        read as refusing it."""
        now = self._attempt_started = time.monotonic()
        deadline = now + _ATTEMPT_SECONDS
        if self._flush_deadline is not None:
            deadline = min(deadline, max(now, self._flush_deadline))
        self._inflight = batch if writer is None else None
        try:
            outcome = self.destination.write(
                batch.records, Attempt(writer or self._writer, batch.batch, deadline, batch.progress)
            )
        except Exception as error:  # noqa: BLE001 - a destination's bug is a refusal, not a dead worker
            outcome = Refused(f"{type(error).__name__}: {error}")
        finally:
            self._inflight = None
        if isinstance(outcome, Done):
            self._delivered(len(batch.records), outcome)
        elif isinstance(outcome, Retry):
            self._failed(outcome.reason)
        observer = self.attempt_observer
        if observer is not None:
            label = "ok" if isinstance(outcome, Done) else "retry" if isinstance(outcome, Retry) else "refused"
            observer(self.name, label, (time.monotonic() - now) * 1000)
        return outcome

    def _delivered(self, count: int, outcome: Done) -> None:
        self._counts["exported"] += count - outcome.refused
        if outcome.refused:
            self._counts["refused"] += outcome.refused
        if self._failures:
            warn(f"recovered-{self.name}", f"{self.name} is taking records again", every_seconds=0)
        self._failures = 0
        self._failing_since = None
        self._next_attempt = 0.0

    def _refused(self, batch: _Batch, outcome: Refused) -> tuple[_Batch, ...]:
        """The parts to write instead of a refused batch; a single record is counted as refused."""
        if len(batch.records) > 1:
            return batch.halves()
        self._counts["refused"] += 1
        warn(
            f"refused-{self.name}",
            f"{self.name} refused a record for good ({outcome.reason[:300]}); the rest is delivered "
            f"({self._counts['refused']} refused so far)",
        )
        return ()

    def _failed(self, reason: str) -> None:
        now = time.monotonic()
        self._counts["failed_attempts"] += 1
        self._failures += 1
        if self._failing_since is None:
            # The destination stopped taking records when the attempt that failed began.
            self._failing_since = min(now, self._attempt_started)
        self._next_attempt = now + backoff_seconds(self._failures)
        where = f"spool {self.spool.directory}" if self.spool is not None else "memory"
        warn(f"failed-{self.name}", f"{self.name} did not take a batch ({reason[:300]}); holding it ({where})")

    # -- holding -------------------------------------------------------------------------------

    def _has_backlog(self) -> bool:
        return bool(self._backlog) or self._spooled > 0

    def _hold(self, batches: list[_Batch]) -> None:
        """Keep ``batches`` (oldest first) behind what is held already: in memory while the destination has
        failed for less than the retry deadline and memory has room, else in the spool."""
        if not batches:
            return
        with self._state_lock:
            if self._closed:
                self._after_close(batches)
                return
            self._counts["held"] += sum(len(b.records) for b in batches)
            failing_long = (
                self._failing_since is not None and time.monotonic() - self._failing_since >= self._retry_deadline
            )
            memory_full = self._backlog_records + len(self._queue) >= self._max_queue
            if self.spool is not None and (self._spooled or failing_long or memory_full or self._stopping.is_set()):
                self._spill_backlog()
                kept = [b for b in batches if not self._to_spool(b)]
            else:
                kept = batches
            self._backlog.extend(kept)
            self._backlog_records += sum(len(b.records) for b in kept)
            self._trim_backlog()

    def _hold_first(self, batches: list[_Batch]) -> None:
        """Put ``batches`` back at the head of the memory backlog (a replay that must be retried)."""
        with self._state_lock:
            if self._closed:
                self._after_close(batches)
                return
            self._backlog.extendleft(reversed(batches))
            self._backlog_records += sum(len(b.records) for b in batches)
            self._trim_backlog()

    def _trim_backlog(self) -> None:
        """Without room in the spool, memory keeps ``max_queue_size`` records: the oldest held go first."""
        excess = self._backlog_records + len(self._queue) - self._max_queue
        dropped = 0
        while excess > 0 and self._backlog:
            head = self._backlog[0]
            cut = min(excess, len(head.records))
            if cut == len(head.records):
                self._backlog.popleft()
            else:
                # The destination's progress described the whole batch: the rest starts afresh.
                self._backlog[0] = _Batch(head.records[cut:], head.batch)
            self._backlog_records -= cut
            excess -= cut
            dropped += cut
        if dropped:
            self._drop("dropped_queue_full", dropped, f"memory is full ({self._max_queue} records held)")

    def _after_close(self, batches: list[_Batch]) -> None:
        """Batches the worker still had when shutdown took the rest: spooled, or counted as dropped (the
        attempt the shutdown already spooled is not spooled again)."""
        for batch in batches:
            if batch is self._salvaged:
                continue
            if self.spool is None or not self._to_spool(batch):
                self._drop("dropped_shutdown", len(batch.records), "not delivered before the shutdown deadline")

    def _spill_backlog(self) -> None:
        """Move the memory backlog to the spool, oldest first (it is older than anything spooled now)."""
        while self._backlog and self.spool is not None:
            head = self._backlog[0]
            if not self._to_spool(head):
                return
            self._backlog.popleft()
            self._backlog_records -= len(head.records)

    def _to_spool(self, batch: _Batch) -> bool:
        assert self.spool is not None
        try:
            self.spool.write(batch.records, self._writer, batch.batch)
        except OSError as error:
            warn(f"spool-error-{self.name}", f"cannot write the spool {self.spool.directory}: {error}")
            return False
        self._spooled += 1
        return True

    def _drop(self, reason: str, count: int, why: str) -> None:
        self._counts[reason] += count
        warn(f"{reason}-{self.name}", f"{self.name}: {why}: {self._counts[reason]} records dropped so far")

    # -- replaying -----------------------------------------------------------------------------

    def _replay(self, *, force: bool) -> None:
        """Deliver held batches oldest first until one is not taken (then back off) or none is left.
        ``force`` ignores the backoff and looks at the spool again (a flush asked for it: a pipeline
        replaced meanwhile may have spooled what it could not deliver)."""
        if self.spool is not None and (force or time.monotonic() - self._last_scan > _RESCAN_SECONDS):
            with self._state_lock:
                self._spooled = len(self.spool.pending_files())  # other processes' leftovers
            self._last_scan = time.monotonic()
        while self._has_backlog() and not self._stopping.is_set():
            if not force and time.monotonic() < self._next_attempt:
                return
            force = False  # one forced attempt; after a failure the backoff applies again
            if self._backlog:
                with self._state_lock:
                    head = self._backlog.popleft()
                    self._backlog_records -= len(head.records)
                left = self._drive(head)
                if left:
                    self._hold_first(left)
                    return
                self._counts["replayed"] += len(head.records)
                continue
            if not self._replay_spooled():
                return

    def _replay_spooled(self) -> bool:
        """Replay the oldest spooled batch; False when it was not taken or none is left."""
        assert self.spool is not None
        claimed = self.spool.claim_oldest()
        if claimed is None:
            with self._state_lock:
                self._spooled = len(self.spool.pending_files())  # written since the claim looked
            return False
        batch = _Batch(claimed.records, claimed.batch)
        outcome = self._attempt(batch, claimed.writer)  # not salvaged at shutdown: the claimed file holds it
        if isinstance(outcome, Retry):
            self.spool.release(claimed, delivered=False)
            return False
        if isinstance(outcome, Refused):
            # The halves go back to the spool in its place, so that a crash keeps every record.
            with self._state_lock:
                for part in self._refused(batch, outcome):
                    self.spool.write(part.records, claimed.writer, part.batch)
                    self._spooled += 1
        else:
            self._counts["replayed"] += len(batch.records)
        self.spool.release(claimed, delivered=True)
        with self._state_lock:
            self._spooled = max(0, self._spooled - 1)
        return True

    # -- after shutdown ------------------------------------------------------------------------

    def _late(self, readable: ReadableLogRecord) -> None:
        """A record that arrived after shutdown: written now (at exit), else spooled, else counted."""
        batch = _Batch([readable], self._new_batch())
        if self._at_exit and not self._failures:
            deadline = time.monotonic() + _LATE_ATTEMPT_TIMEOUT
            with self._state_lock:
                try:
                    outcome = self.destination.write(batch.records, Attempt(self._writer, batch.batch, deadline))
                except Exception as error:  # noqa: BLE001
                    outcome = Refused(f"{type(error).__name__}: {error}")
            if isinstance(outcome, Done):
                self._delivered(1, outcome)
                return
            if isinstance(outcome, Refused):
                self._refused(batch, outcome)
                return
            self._failed(outcome.reason)
        with self._state_lock:
            if self.spool is not None and self._to_spool(batch):
                self._counts["held"] += 1
                return
            self._drop("dropped_shutdown", 1, "a record arrived after shutdown")

    # -- flush and shutdown --------------------------------------------------------------------

    def prepare_flush(self, deadline: float) -> None:
        """Start a flush that ends by ``deadline`` (``time.monotonic()``) without waiting for it: the
        pipeline starts every destination's flush before it waits for the first."""
        if self._closed:
            return
        self._flush_deadline = deadline
        self._next_attempt = 0.0
        if self._queue or self._has_backlog():
            self._ensure_worker()
            self._queue.append(FlushMarker())
            self._wake.set()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Hand everything queued so far to the destination, replaying held batches first; a replay that
        fails is tried again (with the backoff) until the timeout. True if nothing is left waiting."""
        return self._flush(time.monotonic() + timeout_millis / 1000, retry=True)

    def _flush(self, deadline: float, *, retry: bool) -> bool:
        if self._closed:
            return not self._has_backlog()
        self._flush_deadline = deadline
        self._next_attempt = 0.0
        try:
            if self._worker is None or not self._worker.is_alive():
                if not self._queue and not self._has_backlog():
                    return self.destination.flush(_millis_left(deadline))
                self._ensure_worker()
            while True:
                marker = FlushMarker()
                self._queue.append(marker)
                self._wake.set()
                if not marker.done.wait(max(0.0, deadline - time.monotonic())):
                    return False
                if not self._has_backlog():
                    return self.destination.flush(_millis_left(deadline))
                pause = max(0.0, self._next_attempt - time.monotonic())
                if not retry or time.monotonic() + pause >= deadline or self._stopping.wait(pause):
                    return False
        finally:
            if self._flush_deadline == deadline:
                self._flush_deadline = None

    def shutdown(self, timeout_millis: int | None = None, *, at_exit: bool = False) -> None:
        """Deliver what is queued within the deadline, then stop; what is left goes to the spool (or is
        counted as dropped). Idempotent.

        Batches held in the spool stay there for the next process (they are tried once, not until the
        deadline); held in memory, they are retried until the deadline. ``at_exit`` keeps the destination
        open, so that records logged later in the interpreter's exit are still written.
        """
        if self._closed:
            return
        timeout = self._shutdown_timeout if timeout_millis is None else timeout_millis
        deadline = time.monotonic() + timeout / 1000
        # Held batches a spool keeps are not lost: only a backlog in memory is worth the whole deadline.
        self._flush(deadline, retry=self.spool is None)
        with self._state_lock:
            self._closed = True
            self._at_exit = at_exit
            self._stopping.set()
            self._wake.set()
        worker = self._worker
        if worker is not None and worker is not threading.current_thread():
            worker.join(max(0.0, deadline - time.monotonic()))
        self._salvage()
        if not at_exit:
            self.destination.close(_millis_left(deadline))

    def _salvage(self) -> None:
        """Spool (or count) what was not delivered: the queue, the memory backlog, and an attempt still running."""
        with self._state_lock:
            # Batches keep their identity in the spool: a replay of one the worker is still writing, or
            # had written in part, is then recognised by the destination.
            batches = list(self._backlog)
            inflight = self._inflight
            if inflight is not None and all(batch is not inflight for batch in batches):
                batches.insert(0, inflight)  # at least once: the attempt may still succeed
                self._salvaged = inflight
            self._backlog.clear()
            self._backlog_records = 0
            queued = take_all(self._queue)
            for start in range(0, len(queued), self._max_batch):
                batches.append(_Batch(queued[start : start + self._max_batch], self._new_batch()))
            lost = sum(len(b.records) for b in batches if self.spool is None or not self._to_spool(b))
        if lost:
            self._drop("dropped_shutdown", lost, "not delivered before the shutdown deadline")
        elif self._spooled and self.spool is not None:
            warn(f"spooled-{self.name}", f"{self.name}: undelivered batches kept in {self.spool.directory}")

    def stats(self) -> dict[str, Any]:
        """Counts: ``received``, ``exported``, ``refused`` (records the destination refused for good),
        ``held`` (records that waited in memory or the spool), ``replayed`` (held records delivered
        later), ``failed_attempts``, ``dropped_queue_full``, ``dropped_shutdown``; what waits now
        (``queued``, ``held_in_memory``, ``spooled_batches``); the spool's ``spool_bytes`` (its files'
        size, by this process's count), ``spool_dropped`` (by its
        size bound), ``spool_quarantined`` (files moved aside) and ``spool_bad_lines``; and the
        destination's own counts under ``destination``."""
        counts: dict[str, Any] = dict(self._counts)
        counts["queued"] = sum(1 for item in list(self._queue) if not isinstance(item, FlushMarker))
        counts["held_in_memory"] = self._backlog_records
        counts["spooled_batches"] = self._spooled
        if self.spool is not None:
            counts["spool_bytes"] = self.spool.held_bytes
            counts["spool_dropped"] = self.spool.dropped
            counts["spool_quarantined"] = self.spool.quarantined
            counts["spool_bad_lines"] = self.spool.bad_lines
        counts["destination"] = dict(self.destination.counts())
        return counts


def _readable(record: ReadWriteLogRecord) -> ReadableLogRecord:
    """``ReadableLogRecord(**fields of record)``, without the frozen dataclass's ``__init__``, which sets each
    field through ``object.__setattr__``: its fields are set directly, as that ``__init__`` would set them."""
    readable = object.__new__(ReadableLogRecord)
    fields = readable.__dict__
    fields["log_record"] = record.log_record
    fields["resource"] = record.resource
    fields["instrumentation_scope"] = record.instrumentation_scope
    fields["limits"] = record.limits
    return readable


def _millis_left(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000))
