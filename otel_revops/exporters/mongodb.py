"""The MongoDB exporter: execution logs beside the job's execution document, and their complete history.

Each record that belongs to an execution (it has an ``executionId``) is written twice
(see :mod:`otel_revops.exporters.documents` for the exact shapes):

* onto the **execution document** (``job_executions`` by default), in the original's shape — one
  update per execution and batch::

    {$push: {logs: {$each: [entries], $slice: -embedded_limit}},
     $set: {lastHeartbeat: <now>}, $inc: {logCount: <entries>}}

  The application owns that document: without ``upsert`` an update that matches nothing is only
  counted (``unmatched``); the history still holds its records.
* into the **history** (``execution_logs``), one document per record, ``_id`` fixed when the record
  was created. A ``$push`` rewrites the whole document and stops at 16 MB; the capped array keeps the
  original's shape bounded while the history keeps everything, indexed by execution and by job, and
  expires after ``retention_days`` (a TTL index; 0 keeps forever).

Delivery. A batch is written on the exporter's caller (the batching processor's worker thread): the
history with ``insert_many(ordered=False)`` — a record already stored is refused as a duplicate and
counted as delivered, so a retried batch stores nothing twice — then the execution updates. Each batch
remembers how far it got, so a retry does not push the same entries again. When the answer to an
execution update is lost (the connection drops after the server applied it, or a bulk is cut short
part way — a standalone server has no retryable writes), its outcome is unknown: before the next
attempt the execution documents concerned are read, and an update whose entries are found there (its
last entry, preceded by its earlier ones as far as ``$slice`` kept them) is not sent again. Entries
carry no id, so they are recognised by content (timestamp, level, message, metadata): a record
identical to one of the same execution stored before it, to the millisecond, could be taken for it.
The read follows a heartbeat written to the same documents, which waits for an update of them still
running on the server (its answer timed out); an update the server received but had not started by
then can still be applied twice. Transient failures (unreachable server, step-down, timeouts) are
retried with exponential backoff and full jitter until ``retry_deadline_millis``; a shutdown ends the
wait at once. Past the deadline the batch is **held**: ``export`` still succeeds, and a background
thread delivers what is held, oldest first, as soon as the server answers again; batches exported
meanwhile queue behind it without waiting for the server.

The buffer bound. When the server goes away, the batch being written is retried for up to
``retry_deadline_millis`` (default 10 s) while newer records wait in the processor's bounded queue;
after that every batch is held at once, up to ``max_pending_records`` records (default 100,000). So
every record logged during an outage is stored when the server is back — exactly once in the
history, once in its execution's ``logs`` — provided no more than ``max_pending_records`` records
(plus the one batch being written) are waiting at any moment. Beyond it the oldest held records are
dropped, counted in ``stats()["dropped"]`` and reported on standard error.

A record the server refuses (or that cannot be encoded) is isolated from its batch and counted as
``bad_records``; the rest of the batch is stored. Nothing pymongo raises reaches the application.
What the exporter and pymongo log while exporting stays out of the export pipeline
(:func:`otel_revops.context.exporting`), and so does what pymongo logs about the exporter's own
client on its monitor threads. Warnings go to standard error, throttled, with any password in the URI
masked.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import hashlib
import os
import re
import threading
import time
import weakref
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any
from urllib.parse import unquote

import pymongo
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from pymongo import MongoClient, UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, PyMongoError

from otel_revops.config import ConfigurationError, Settings
from otel_revops.context import EXPORTING, exporting
from otel_revops.diagnostics import warn
from otel_revops.exporters.applied import entries_hold, normalised_entry
from otel_revops.exporters.documents import RecordDocuments, record_documents
from otel_revops.exporters.indexes import apply_index_changes, history_indexes, plan_index_changes
from otel_revops.exporters.mongo_threads import OwnClientThreads, TopologyOpened
from otel_revops.exporters.retry import backoff_delay, is_transient, is_transient_code

__all__ = ["DEFAULT_MAX_PENDING_RECORDS", "DEFAULT_RETRY_DEADLINE_MILLIS", "MongoLogRecordExporter", "mask_uri"]

#: Records held for delivery while the server is unreachable (beyond it the oldest are dropped).
DEFAULT_MAX_PENDING_RECORDS: int = Settings.default("mongodb_max_pending_records")
#: How long one batch is retried before it is held for background delivery.
DEFAULT_RETRY_DEADLINE_MILLIS: int = Settings.default("mongodb_retry_deadline_ms")
DEFAULT_DATABASE = "revops"

_DUPLICATE_KEY = 11000
_PROBE_CAP_SECONDS = 5.0
_INDEX_RETRY_SECONDS = 60.0
# After a failure this recent, shutdown does not knock on the server once more.
_RECENT_FAILURE_SECONDS = 1.0
_USERINFO = re.compile(r"(?<=://)([^:@/\s]+):[^@/\s]*@")
_CLIENT_DEFAULTS = {
    "serverSelectionTimeoutMS": 2000,
    "connectTimeoutMS": 2000,
    "socketTimeoutMS": 10_000,
    "appname": "otel-revops",
}

Document = dict[str, Any]


def mask_uri(text: str) -> str:
    """``text`` with the password of any ``scheme://user:password@`` in it replaced by ``***``."""
    return _USERINFO.sub(r"\1:***@", text)


def _uri_database(uri: str) -> str | None:
    rest = uri.split("://", 1)[-1].split("?", 1)[0]
    _, slash, path = rest.partition("/")
    name = unquote(path).strip() if slash else ""
    return name or None


def _uri_options(uri: str) -> set[str]:
    query = uri.split("?", 1)[1] if "?" in uri else ""
    return {part.split("=", 1)[0].strip().lower() for part in re.split("[&;]", query) if part}


def _validate_uri(uri: str) -> None:
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigurationError(
            f"mongodb_uri (OTEL_REVOPS_MONGODB_URI)={mask_uri(uri)!r} is not valid: "
            "expected a URI starting with mongodb:// or mongodb+srv://"
        )
    if uri.startswith("mongodb+srv://"):
        return  # parsing an SRV URI resolves DNS: the first connection reports it
    try:
        from pymongo.uri_parser import parse_uri

        parse_uri(uri)
    except PyMongoError as error:
        raise ConfigurationError(
            f"mongodb_uri (OTEL_REVOPS_MONGODB_URI)={mask_uri(uri)!r} is not valid: {mask_uri(str(error))}"
        ) from None


def _describe(error: BaseException) -> str:
    text = mask_uri(str(error)).split(", Topology Description:", 1)[0]
    return f"{type(error).__name__}: {text[:300]}"


class _Batch:
    """Records of one export call waiting to be written, and how far their writing got."""

    __slots__ = ("history_done", "in_flight", "items", "pushed", "unsure")

    def __init__(self, items: list[RecordDocuments]) -> None:
        self.items = items
        self.history_done = False
        # ids of the items whose entry is on its execution document already
        self.pushed: set[int] = set()
        # the items of each execution update sent whose answer never came: applied or not, unknown
        self.unsure: list[list[RecordDocuments]] = []
        self.in_flight = False

    @property
    def size(self) -> int:
        return len(self.items)

    def drop_oldest(self, count: int) -> None:
        for item in self.items[:count]:
            self.pushed.discard(id(item))
        del self.items[:count]

    def mark_pushed(self, items: list[RecordDocuments]) -> None:
        self.pushed.update(id(item) for item in items)

    def unpushed(self, items: list[RecordDocuments]) -> list[RecordDocuments]:
        return [item for item in items if id(item) not in self.pushed]


class _RetryError(Exception):
    """A write failed for a reason that may go away: try the batch again later."""


class MongoLogRecordExporter(LogRecordExporter):
    """Stores execution log records in MongoDB: the execution document's ``logs`` array and a history collection.

    Every argument left ``None`` is resolved through :meth:`Settings.resolve` (argument → environment →
    default): ``uri`` (``OTEL_REVOPS_MONGODB_URI``, then ``MONGODB_URI``; required unless ``client`` is
    given), ``database`` (``OTEL_REVOPS_MONGODB_DATABASE``; default the URI's database, else ``revops``),
    ``executions_collection`` (``job_executions``), ``logs_collection`` (``execution_logs``),
    ``embedded_limit`` (1000), ``retention_days`` (30; 0 keeps forever), ``upsert`` (false),
    ``max_value_bytes`` (65536). Created with no arguments it configures itself from the environment,
    as OpenTelemetry auto-instrumentation requires.

    Keyword-only: ``client`` (use this ``MongoClient``; it is not closed by :meth:`shutdown`),
    ``retry_deadline_millis`` (how long one batch is retried before it is held),
    ``max_pending_records`` (the bound of the held records, see the module documentation),
    ``server_selection_timeout_millis`` (of the client the exporter creates),
    ``shutdown_timeout_millis`` (the deadline of :meth:`shutdown`; default the ``shutdown_timeout_ms``
    setting) and ``settings`` (resolved settings to start from, as :meth:`from_settings` does).

    The client is created on the first export, with short timeouts and ``appname="otel-revops"``
    (options given in the URI win).
    """

    def __init__(
        self,
        uri: str | None = None,
        database: str | None = None,
        executions_collection: str | None = None,
        logs_collection: str | None = None,
        embedded_limit: int | None = None,
        retention_days: int | None = None,
        upsert: bool | None = None,
        max_value_bytes: int | None = None,
        *,
        client: MongoClient[Document] | None = None,
        retry_deadline_millis: int | None = None,
        max_pending_records: int | None = None,
        server_selection_timeout_millis: int | None = None,
        shutdown_timeout_millis: int | None = None,
        settings: Settings | None = None,
    ) -> None:
        overrides: dict[str, Any] = {
            name: value
            for name, value in (
                ("mongodb_uri", uri),
                ("mongodb_database", database),
                ("mongodb_executions_collection", executions_collection),
                ("mongodb_logs_collection", logs_collection),
                ("mongodb_embedded_limit", embedded_limit),
                ("mongodb_retention_days", retention_days),
                ("mongodb_upsert", upsert),
                ("mongodb_max_value_bytes", max_value_bytes),
            )
            if value is not None
        }
        if settings is None:
            settings = Settings.resolve(**overrides)
        elif overrides:
            validated = Settings.resolve(env={}, **overrides)
            settings = dataclasses.replace(settings, **{name: getattr(validated, name) for name in overrides})
        if settings.mongodb_uri is None and client is None:
            raise ConfigurationError(
                "the MongoDB exporter needs a MongoDB URI: pass uri=... (or mongodb_uri=... to configure_logging), "
                "or set OTEL_REVOPS_MONGODB_URI (or MONGODB_URI)"
            )
        if settings.mongodb_uri is not None:
            _validate_uri(settings.mongodb_uri)
        if retry_deadline_millis is None:
            retry_deadline_millis = settings.mongodb_retry_deadline_ms
        if retry_deadline_millis < 0:
            raise ConfigurationError(f"retry_deadline_millis={retry_deadline_millis!r} is not valid: expected >= 0")
        pending = settings.mongodb_max_pending_records if max_pending_records is None else max_pending_records
        if pending < 1:
            raise ConfigurationError(f"max_pending_records={pending!r} is not valid: expected an integer >= 1")
        self.settings = settings
        self.uri = settings.mongodb_uri
        self.database_name = (
            settings.mongodb_database or (_uri_database(self.uri) if self.uri else None) or DEFAULT_DATABASE
        )
        self.executions_collection = settings.mongodb_executions_collection
        self.logs_collection = settings.mongodb_logs_collection
        self.embedded_limit = settings.mongodb_embedded_limit
        self.retention_days = settings.mongodb_retention_days
        self.upsert = settings.mongodb_upsert
        self.max_value_bytes = settings.mongodb_max_value_bytes
        self.max_pending_records = pending
        self.retry_deadline_millis = retry_deadline_millis
        #: Hold batches not yet written in memory (True), or fail their export so that a processor
        #: with a disk spool keeps them (False: set by :class:`~otel_revops.processor.ExportProcessor`
        #: when it has a spool). Batches whose history is written are held either way: only this
        #: exporter knows which of their execution updates are still to be made.
        self.hold_unwritten = True
        self.shutdown_timeout_millis = (
            settings.shutdown_timeout_ms if shutdown_timeout_millis is None else shutdown_timeout_millis
        )
        self._client_options: dict[str, Any] = {
            name: value
            for name, value in _CLIENT_DEFAULTS.items()
            if name.lower() not in (_uri_options(self.uri) if self.uri else set())
        }
        if server_selection_timeout_millis is not None:
            self._client_options["serverSelectionTimeoutMS"] = server_selection_timeout_millis
        self._client = client
        self._owns_client = client is None
        self._own_threads = OwnClientThreads()
        self._closed = False
        self._counts = dict.fromkeys(
            ("exported", "retried", "dropped", "unmatched", "bad_records", "embedded_rejected", "filtered"), 0
        )
        self._counts_lock = threading.Lock()
        self._init_state()
        if hasattr(os, "register_at_fork"):
            ref = weakref.WeakMethod(self._after_fork)
            os.register_at_fork(after_in_child=lambda: (method := ref()) and method())

    @property
    def spool_key(self) -> str:
        """This destination's name for the disk spool: server (without credentials) and database."""
        where = mask_uri(self.uri) if self.uri else f"client-{id(self._client)}"
        digest = hashlib.sha256(f"{where}|{self.database_name}".encode()).hexdigest()[:12]
        return f"mongodb-{self.database_name}-{digest}"

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> MongoLogRecordExporter:
        """The exporter for already resolved ``settings`` (what :func:`configure_logging` uses);
        ``options`` are the keyword-only arguments of the constructor."""
        return cls(settings=settings, **options)

    def _init_state(self) -> None:
        self._pending: collections.deque[_Batch] = collections.deque()
        self._held = 0
        self._state_lock = threading.Lock()
        self._io_lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._redeliverer: threading.Thread | None = None
        self._indexes_ready = False
        self._indexes_retry_at = 0.0
        self._last_failure = 0.0
        self._failing = False
        self._finished = False

    def _after_fork(self) -> None:
        # The parent still owns (and delivers) what it held; a client must never cross a fork.
        self._init_state()
        self._counts_lock = threading.Lock()
        if self._owns_client:
            self._client = None
        if self._closed:
            self._stop.set()

    # -- the LogRecordExporter interface ---------------------------------------------------------

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Store the batch's execution records; SUCCESS once they are stored or held for delivery,
        FAILURE after :meth:`shutdown` or when the batch could not be written and is not held
        (``hold_unwritten`` False). Never raises."""
        if self._closed:
            return LogRecordExportResult.FAILURE
        with exporting():
            try:
                work = self._build(batch)
                if work is not None and not self._submit(work):
                    return LogRecordExportResult.FAILURE
            except Exception as error:  # noqa: BLE001 - the exporter must never fail the pipeline
                warn(f"mongodb-internal-{id(self)}", f"MongoDB exporter error: {_describe(error)}")
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Deliver every held record within ``timeout_millis``; True when nothing is left held."""
        deadline = time.monotonic() + timeout_millis / 1000
        with exporting():
            return self._drain(deadline, retry=True)

    def shutdown(self) -> None:
        """Stop: interrupt any backoff wait, make a last delivery attempt for what is held (within
        ``shutdown_timeout_millis``), count and report what is left, close the client. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + self.shutdown_timeout_millis / 1000
        # Waiting for the writer lets a batch interrupted in its backoff be held (and counted) first.
        if self._io_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            try:
                recently_failed = time.monotonic() - self._last_failure < _RECENT_FAILURE_SECONDS
                if self._held and not recently_failed:
                    with exporting():
                        self._drain_locked(deadline, retry=False, bounded=True)
            finally:
                self._io_lock.release()
        with self._state_lock:
            self._finished = True
            left, self._held = self._held, 0
            self._pending.clear()
        if left:
            self._count("dropped", left)
            warn(
                f"mongodb-shutdown-{id(self)}",
                f"MongoDB exporter shut down with {left} records undelivered "
                f"({self._counts['dropped']} dropped in total)",
                every_seconds=0,
            )
        redeliverer = self._redeliverer
        if redeliverer is not None and redeliverer is not threading.current_thread():
            redeliverer.join(max(0.0, min(1.0, deadline - time.monotonic())))
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            # Closing ends the server sessions: against a dead server that would wait a whole server selection.
            with (
                contextlib.suppress(Exception),
                exporting(),
                pymongo.timeout(max(0.05, min(1.0, deadline - time.monotonic()))),
            ):
                client.close()
        self._own_threads.uninstall()

    def stats(self) -> dict[str, int]:
        """Counts: ``exported`` (records stored in the history), ``retried`` (records sent again after a
        transient failure, once per retry), ``dropped`` (given up: pending buffer full or left at shutdown;
        one whose history document was written but whose execution update was not counts here too),
        ``unmatched`` (execution updates that matched no document), ``bad_records`` (records the server
        refused or that could not be encoded), ``embedded_rejected`` (entries refused by the execution
        document, e.g. past 16 MB; still in the history), ``filtered`` (records without an execution),
        and ``pending`` (records held now)."""
        with self._counts_lock:
            counts = dict(self._counts)
        counts["pending"] = self._held
        return counts

    # -- building --------------------------------------------------------------------------------

    def _build(self, batch: Sequence[ReadableLogRecord]) -> _Batch | None:
        items: list[RecordDocuments] = []
        filtered = bad = 0
        for record in batch:
            try:
                documents = record_documents(record, self.max_value_bytes)
            except Exception as error:  # noqa: BLE001 - one odd record must not fail the batch
                bad += 1
                warn(f"mongodb-bad-{id(self)}", f"MongoDB exporter skipped a record it could not map: {error!r}")
                continue
            if documents is None:
                filtered += 1
            else:
                items.append(documents)
        if filtered:
            self._count("filtered", filtered)
        if bad:
            self._count("bad_records", bad)
        return _Batch(items) if items else None

    # -- delivery --------------------------------------------------------------------------------

    def _submit(self, work: _Batch) -> bool:
        """Write ``work`` or hold it; False when it was neither (left to the caller's spool)."""
        # While records are held the server is known to be away: queue behind them without waiting.
        if self._pending or not self._io_lock.acquire(timeout=self.retry_deadline_millis / 1000):
            return self._hold_or_refuse(work)
        try:
            deadline = time.monotonic() + self.retry_deadline_millis / 1000
            if self._pending or not self._deliver(work, deadline, retry=True):
                return self._hold_or_refuse(work)
            return True
        finally:
            self._io_lock.release()

    def _hold_or_refuse(self, work: _Batch) -> bool:
        if not self.hold_unwritten and not work.history_done:
            return False
        self._hold(work)
        return True

    def _hold(self, work: _Batch) -> None:
        dropped = 0
        with self._state_lock:
            finished = self._finished
            if not finished:
                self._pending.append(work)
                self._held += work.size
            excess = self._held - self.max_pending_records if not finished else 0
            while excess > 0:
                victim = next((b for b in self._pending if not b.in_flight), None)
                if victim is None:
                    break
                count = min(excess, victim.size)
                victim.drop_oldest(count)
                if not victim.size:
                    self._pending.remove(victim)
                self._held -= count
                excess -= count
                dropped += count
            self._wake.set()
        if finished:
            # Shutdown already counted what was left; this batch was interrupted after it.
            self._count("dropped", work.size)
            warn(f"mongodb-late-{id(self)}", f"MongoDB exporter shut down: {work.size} records not delivered", 0)
            return
        if dropped:
            self._count("dropped", dropped)
            warn(
                f"mongodb-dropped-{id(self)}",
                f"MongoDB exporter dropped {dropped} held records: more than max_pending_records="
                f"{self.max_pending_records} are waiting for {self._where()} "
                f"({self._counts['dropped']} dropped so far)",
            )
        self._ensure_redeliverer()

    def _ensure_redeliverer(self) -> None:
        if self._redeliverer is not None or self._stop.is_set():
            return
        with self._state_lock:
            if self._redeliverer is None:
                self._redeliverer = threading.Thread(
                    target=self._redeliver_loop, name="otel-revops-mongodb-redelivery", daemon=True
                )
                self._redeliverer.start()

    def _redeliver_loop(self) -> None:
        EXPORTING.set(True)
        attempt = 0
        while True:
            self._wake.wait()
            if self._stop.is_set():
                return
            if self._stop.wait(backoff_delay(attempt, base_seconds=0.2, cap_seconds=_PROBE_CAP_SECONDS)):
                return
            if self._drain(time.monotonic() + self.retry_deadline_millis / 1000, retry=False):
                attempt = 0
                with self._state_lock:
                    if not self._pending:
                        self._wake.clear()
            else:
                attempt += 1

    def _drain(self, deadline: float, *, retry: bool) -> bool:
        """Deliver held batches, oldest first, until none is left (True) or the deadline passes."""
        if not self._pending:
            return True
        if not self._io_lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return False
        try:
            return self._drain_locked(deadline, retry=retry)
        finally:
            self._io_lock.release()

    def _drain_locked(self, deadline: float, *, retry: bool, bounded: bool = False) -> bool:
        while True:
            with self._state_lock:
                if not self._pending:
                    return True
                head = self._pending[0]
                head.in_flight = True
            self._count("retried", head.size)
            delivered = False
            try:
                delivered = self._deliver(head, deadline, retry=retry, bounded=bounded)
            finally:
                with self._state_lock:
                    head.in_flight = False
                    if delivered and head in self._pending:
                        self._pending.remove(head)
                        self._held -= head.size
            if not delivered:
                return False

    def _deliver(self, work: _Batch, deadline: float, *, retry: bool, bounded: bool = False) -> bool:
        """Write ``work`` (retrying transient failures until ``deadline`` when ``retry``); True once written.

        ``bounded`` holds each attempt to the deadline itself. Otherwise an attempt is bounded by the
        client's timeouts: a deadline-wide operation timeout would also replace the short server
        selection timeout, and cutting a slow but healthy write short risks applying a push twice.
        """
        attempt = 0
        while True:
            remaining = deadline - time.monotonic()
            limit = pymongo.timeout(max(0.05, remaining)) if bounded else contextlib.nullcontext()
            try:
                with limit:
                    self._write(work)
            except Exception as error:  # noqa: BLE001 - classified below; nothing reaches the application
                if not (is_transient(error) or isinstance(error, _RetryError) or self._stop.is_set()):
                    self._count("bad_records", work.size)
                    warn(
                        f"mongodb-unexpected-{id(self)}",
                        f"MongoDB exporter gave up on {work.size} records after an unexpected error: "
                        f"{_describe(error)}",
                    )
                    return True
                self._note_failure(error)
                if not retry or self._stop.is_set():
                    return False
                delay = backoff_delay(attempt)
                attempt += 1
                if time.monotonic() + delay >= deadline:
                    return False
                self._count("retried", work.size)
                if self._stop.wait(delay):
                    return False
                continue
            self._note_success()
            return True

    def _note_failure(self, error: BaseException) -> None:
        self._last_failure = time.monotonic()
        self._failing = True
        warn(
            f"mongodb-unreachable-{id(self)}",
            f"MongoDB exporter cannot write to {self._where()} ({_describe(error)}); retrying, and holding "
            f"undelivered records (up to max_pending_records={self.max_pending_records})",
        )

    def _note_success(self) -> None:
        if self._failing:
            self._failing = False
            warn(f"mongodb-recovered-{id(self)}", f"MongoDB exporter is writing to {self._where()} again", 0)

    def _where(self) -> str:
        return f"{mask_uri(self.uri or 'the given client')} database {self.database_name!r}"

    def _count(self, name: str, amount: int) -> None:
        with self._counts_lock:
            self._counts[name] += amount

    # -- writing ---------------------------------------------------------------------------------

    def _database(self) -> Database[Document]:
        if self._client is None:
            if self._stop.is_set():
                raise _RetryError("the exporter is shut down")
            assert self.uri is not None
            self._own_threads.install()
            listener = TopologyOpened(self._own_threads)
            self._client = MongoClient(self.uri, event_listeners=[listener], **self._client_options)
        return self._client[self.database_name]

    def _write(self, work: _Batch) -> None:
        database = self._database()
        self._ensure_indexes(database)
        if not work.history_done:
            self._insert_history(database[self.logs_collection], [item.history for item in work.items])
            work.history_done = True
        self._update_executions(database[self.executions_collection], work)

    def _insert_history(self, collection: Collection[Document], documents: list[Document]) -> None:
        """Insert ``documents``; duplicates count as stored, refused ones are isolated and counted."""
        try:
            collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            self._settle_history_errors(error, documents)
            return
        except Exception as error:
            if is_transient(error) or self._stop.is_set():
                raise
            if len(documents) == 1:
                self._refused(1, error)
                return
            middle = len(documents) // 2
            self._insert_history(collection, documents[:middle])
            self._insert_history(collection, documents[middle:])
            return
        self._count("exported", len(documents))

    def _settle_history_errors(self, error: BulkWriteError, documents: list[Document]) -> None:
        write_errors = error.details.get("writeErrors", [])
        if any(is_transient_code(entry.get("code")) for entry in write_errors):
            raise _RetryError("transient write errors") from error
        refused = [entry for entry in write_errors if entry.get("code") != _DUPLICATE_KEY]
        self._count("exported", len(documents) - len(refused))
        if refused:
            self._refused(len(refused), refused[0].get("errmsg", ""))

    def _refused(self, count: int, reason: object) -> None:
        self._count("bad_records", count)
        text = _describe(reason) if isinstance(reason, BaseException) else mask_uri(str(reason))[:300]
        warn(
            f"mongodb-refused-{id(self)}",
            f"MongoDB refused {count} log records ({text}); the rest of the batch is stored "
            f"({self._counts['bad_records']} refused so far)",
        )

    def _update_executions(self, collection: Collection[Document], work: _Batch) -> None:
        """One update per execution for the entries not pushed yet; refused ones are isolated and counted.

        An update whose outcome is unknown (its answer was lost, or the bulk stopped part way) is kept in
        ``work.unsure``; the execution documents tell which of those were applied before anything is sent
        again (:meth:`_settle_unsure`)."""
        if work.unsure:
            self._settle_unsure(collection, work)
        groups: dict[Any, list[RecordDocuments]] = {}
        for item in work.unpushed(work.items):
            groups.setdefault(item.key, []).append(item)
        if not groups:
            return
        now = datetime.now(timezone.utc)
        keys = list(groups)
        operations = [UpdateOne({"_id": key}, self._update(groups[key], now), upsert=self.upsert) for key in keys]
        try:
            result = collection.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            details = error.details
            failed = {entry.get("index", -1): entry for entry in details.get("writeErrors", [])}
            self._count_unmatched(
                len(keys) - len(failed) - details.get("nMatched", 0) - len(details.get("upserted", []))
            )
            retry = False
            refused: list[tuple[Any, object]] = []
            for index, key in enumerate(keys):
                entry = failed.get(index)
                if entry is None:
                    work.mark_pushed(groups[key])
                elif is_transient_code(entry.get("code")) or self._is_upsert_race(entry.get("code")):
                    retry = True
                else:
                    refused.append((key, entry.get("errmsg", "")))
            for key, reason in refused:
                self._push_isolating(collection, work, groups[key], now, reason)
            if retry:
                raise _RetryError("transient update errors") from error
            return
        except Exception as error:
            # Some of the bulk may have been applied: the answer was lost, or it stopped after its first part.
            work.unsure = [groups[key] for key in keys]
            if is_transient(error) or self._stop.is_set():
                raise
            self._settle_unsure(collection, work)
            for key in keys:
                if items := work.unpushed(groups[key]):
                    self._push(collection, work, items, now)
            return
        for key in keys:
            work.mark_pushed(groups[key])
        self._count_unmatched(len(keys) - result.matched_count - result.upserted_count)

    def _settle_unsure(self, collection: Collection[Document], work: _Batch) -> None:
        """Mark pushed each update of ``work.unsure`` whose entries its execution document holds; the others
        are sent again. A read that fails transiently leaves them unsure and raises.

        The read comes after a heartbeat written to the same documents: a write waits for any update of
        them still running on the server (one whose answer timed out), so the read sees its outcome."""
        unsure = [items for items in work.unsure if work.unpushed(items)]
        if not unsure:
            work.unsure = []
            return
        keys = list({items[0].key: None for items in unsure})
        try:
            collection.update_many({"_id": {"$in": keys}}, {"$set": {"lastHeartbeat": datetime.now(timezone.utc)}})
            found = {
                document["_id"]: document.get("logs")
                for document in collection.find({"_id": {"$in": keys}}, {"logs": 1})
            }
        except Exception as error:
            if is_transient(error) or self._stop.is_set():
                raise
            warn(
                f"mongodb-unsure-{id(self)}",
                f"MongoDB exporter could not read {self.executions_collection!r} to tell which execution "
                f"updates were applied ({_describe(error)}); sending them again",
            )
            found = {}
        work.unsure = []
        options = collection.codec_options
        for items in unsure:
            logs = found.get(items[0].key)
            if not isinstance(logs, list) or not logs:
                continue
            stored = [normalised_entry(entry, options) for entry in logs]
            sent = [normalised_entry(entry, options) for entry in self._entries(items)]
            if entries_hold(stored, sent, sliced=len(logs) >= self.embedded_limit):
                work.mark_pushed(items)

    def _push(
        self, collection: Collection[Document], work: _Batch, items: list[RecordDocuments], now: datetime
    ) -> None:
        """Push ``items`` (entries of one execution) in one update; if the execution document refuses it,
        push them half by half (:meth:`_push_isolating`)."""
        try:
            result = collection.update_one({"_id": items[0].key}, self._update(items, now), upsert=self.upsert)
        except Exception as error:
            if self._is_upsert_race(getattr(error, "code", None)):
                raise _RetryError("an upsert raced another") from error
            if is_transient(error) or self._stop.is_set():
                work.unsure = [items]
                raise
            self._push_isolating(collection, work, items, now, error)
            return
        work.mark_pushed(items)
        self._count_unmatched(1 if result.matched_count == 0 and result.upserted_id is None else 0)

    def _push_isolating(
        self,
        collection: Collection[Document],
        work: _Batch,
        items: list[RecordDocuments],
        now: datetime,
        reason: object,
    ) -> None:
        """Push ``items`` (refused together for ``reason``) half by half, in order, down to the one entry
        the execution document refuses, which is counted and left to the history."""
        if len(items) == 1:
            self._rejected(1, reason)
            work.mark_pushed(items)
            return
        middle = len(items) // 2
        for part in (items[:middle], items[middle:]):
            self._push(collection, work, part, now)

    def _is_upsert_race(self, code: object) -> bool:
        # Two upserts of one new execution race: the loser's retry matches the winner's document.
        return self.upsert and code == _DUPLICATE_KEY

    def _entries(self, items: list[RecordDocuments]) -> list[Document]:
        # Entries older than the newest embedded_limit would be sliced off at once: they are not sent.
        return [item.entry for item in items[-self.embedded_limit :]]

    def _update(self, items: list[RecordDocuments], now: datetime) -> Document:
        update: Document = {
            "$push": {"logs": {"$each": self._entries(items), "$slice": -self.embedded_limit}},
            "$set": {"lastHeartbeat": now},
            "$inc": {"logCount": len(items)},
        }
        if self.upsert:
            job_id = next((item.job_id for item in items if item.job_id is not None), None)
            if job_id is not None:
                update["$setOnInsert"] = {"jobId": job_id}
        return update

    def _rejected(self, count: int, reason: object) -> None:
        self._count("embedded_rejected", count)
        text = _describe(reason) if isinstance(reason, BaseException) else mask_uri(str(reason))[:300]
        warn(
            f"mongodb-rejected-{id(self)}",
            f"an execution document in {self.executions_collection!r} refused {count} log entries ({text}); "
            "they are in the history collection",
        )

    def _count_unmatched(self, unmatched: int) -> None:
        if unmatched <= 0:
            return
        self._count("unmatched", unmatched)
        warn(
            f"mongodb-unmatched-{id(self)}",
            f"{unmatched} execution log updates matched no document in {self.executions_collection!r} "
            f"({self._counts['unmatched']} so far): the application creates execution documents, or set "
            "OTEL_REVOPS_MONGODB_UPSERT=true; the records are in the history collection",
        )

    # -- indexes ---------------------------------------------------------------------------------

    def _ensure_indexes(self, database: Database[Document]) -> None:
        """The history's indexes (the same plan ``otel-revops ensure-indexes`` applies), made once."""
        if self._indexes_ready or time.monotonic() < self._indexes_retry_at:
            return
        collection = database[self.logs_collection]
        try:
            changes = plan_index_changes(collection.index_information(), history_indexes(self.retention_days))
            apply_index_changes(collection, changes)
        except Exception as error:
            if is_transient(error) or self._stop.is_set():
                raise
            self._indexes_retry_at = time.monotonic() + _INDEX_RETRY_SECONDS
            warn(
                f"mongodb-indexes-{id(self)}",
                f"MongoDB exporter could not create the indexes of {self.logs_collection!r} "
                f"({_describe(error)}); records are still stored, indexes are retried later",
            )
            return
        self._indexes_ready = True
