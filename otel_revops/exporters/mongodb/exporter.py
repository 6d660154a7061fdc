"""The MongoDB destination: settings and client in, one attempt per batch out.

It builds each record's documents (:mod:`~otel_revops.exporters.mongodb.documents`, pure), makes
sure the history's indexes exist (:mod:`~otel_revops.exporters.mongodb.indexes`), and writes
(:mod:`~otel_revops.exporters.mongodb.writer`), each attempt bounded by its deadline. Holding,
retrying and spooling are the delivery layer's (:mod:`otel_revops.delivery`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any

import pymongo
from bson.errors import BSONError
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from pymongo import MongoClient
from pymongo.database import Database

from otel_revops.child_processes import renew_after_fork
from otel_revops.config import Settings
from otel_revops.context import exporting
from otel_revops.delivery import Attempt, Destination, Done, Outcome, Retry, write_until
from otel_revops.diagnostics import warn
from otel_revops.exporters.mongodb.connection import MongoConnection, MongoTarget, mongo_target
from otel_revops.exporters.mongodb.documents import RecordDocuments, record_documents
from otel_revops.exporters.mongodb.errors import describe, is_transient
from otel_revops.exporters.mongodb.indexes import apply_index_changes, history_indexes, plan_index_changes
from otel_revops.exporters.mongodb.writer import BatchProgress, ExecutionLogWriter
from otel_revops.redacted import redact_batch, redactor_for

__all__ = ["MongoLogRecordExporter"]

_INDEX_RETRY_SECONDS = 60.0
# An attempt whose deadline is nearer than this (a flush or shutdown is ending) is held to it as a whole
# (pymongo's operation timeout). Further off, the client's own timeouts bound each operation: a
# deadline-wide operation timeout would also replace the short server selection timeout.
_HELD_TO_DEADLINE_SECONDS = 10.0
# The shortest attempt worth making: below it the deadline is as good as passed.
_MIN_ATTEMPT_SECONDS = 0.05

Document = dict[str, Any]


class MongoLogRecordExporter(Destination, LogRecordExporter):
    """Stores execution log records in MongoDB: the execution document's ``logs`` array and a history collection.

    Every argument left ``None`` is resolved through :meth:`Settings.resolve` (argument → environment →
    default): ``uri`` (``OTEL_REVOPS_MONGODB_URI``, then ``MONGODB_URI``; required unless ``client`` is
    given), ``database`` (``OTEL_REVOPS_MONGODB_DATABASE``; default the URI's database, else ``revops``),
    ``executions_collection`` (``job_executions``), ``logs_collection`` (``execution_logs``),
    ``embedded_limit`` (1000), ``retention_days`` (30; 0 keeps forever), ``upsert`` (false),
    ``max_value_bytes`` (65536). Created with no arguments it configures itself from the environment,
    as OpenTelemetry auto-instrumentation requires.

    Keyword-only: ``client`` (use this ``MongoClient``; it is not closed here),
    ``server_selection_timeout_millis`` (of the client the exporter creates) and ``settings`` (resolved
    settings to start from, as :meth:`from_settings` does).

    Given to :func:`~otel_revops.configure_logging` (or created from its settings) it is a
    :class:`~otel_revops.delivery.Destination` of the delivery layer. Used as a plain
    ``LogRecordExporter`` by another processor (the SDK's, under the stock distro), :meth:`export`
    retries a batch itself for up to ``retry_deadline_ms``.
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
        server_selection_timeout_millis: int | None = None,
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
        self.settings = settings
        #: Where the records go.
        self.target: MongoTarget = mongo_target(settings, has_client=client is not None)
        self.name = type(self).__name__
        self.key = self.target.key if client is None else f"{self.target.key}-{_client_identity(client)}"
        self._connection = MongoConnection(self.target, client, server_selection_timeout_millis)
        self._counts = dict.fromkeys(("unmatched", "embedded_rejected", "filtered", "unmappable", "refused"), 0)
        self._counts_lock = threading.Lock()
        self._writer = ExecutionLogWriter(self.target, self._count, self._warn)
        self._indexes_ready = False
        self._indexes_retry_at = 0.0
        self._failing = False
        self._closed = threading.Event()
        self._redactor = redactor_for(settings)
        renew_after_fork(self._after_fork)

    @classmethod
    def from_settings(cls, settings: Settings, **options: Any) -> MongoLogRecordExporter:
        """The exporter for already resolved ``settings`` (what :func:`configure_logging` uses);
        ``options`` are the keyword-only arguments of the constructor."""
        return cls(settings=settings, **options)

    def _after_fork(self) -> None:
        self._connection.after_fork()
        self._counts_lock = threading.Lock()

    # -- the Destination contract ----------------------------------------------------------------

    def write(self, records: Sequence[ReadableLogRecord], attempt: Attempt) -> Outcome:
        """One attempt at storing the batch's execution records, bounded by the attempt's deadline."""
        progress = attempt.progress if isinstance(attempt.progress, BatchProgress) else self._build(records)
        if not progress.items:
            return Done()
        remaining = attempt.remaining()
        if remaining < _MIN_ATTEMPT_SECONDS:
            return Retry("no time left for an attempt", progress)
        limit = pymongo.timeout(remaining) if remaining < _HELD_TO_DEADLINE_SECONDS else contextlib.nullcontext()
        with exporting():
            try:
                with limit:
                    database = self._connection.database()
                    self._ensure_indexes(database)
                    outcome = self._writer.write(database, progress, attempt.writer, attempt.batch)
            except BSONError:
                raise  # a record that cannot be encoded: the delivery layer isolates it
            except Exception as error:  # noqa: BLE001 - the server or the client: the batch waits for one that takes it
                outcome = Retry(describe(error), progress)
        self._note(outcome)
        return outcome

    def close(self, timeout_millis: int) -> None:
        """Close the client (one created here) within ``timeout_millis``; later writes answer retry."""
        self._closed.set()
        self._connection.close(timeout_millis / 1000)

    def counts(self) -> Mapping[str, int]:
        """``unmatched`` (execution updates that matched no document: the records are in the history),
        ``embedded_rejected`` (entries an execution document refused, e.g. past 16 MB; in the history),
        ``filtered`` (records without an execution, not stored), ``unmappable`` (records whose
        documents could not be built) and, when used through :meth:`export`, ``refused`` (records the
        server refused for good; the delivery layer counts those itself)."""
        with self._counts_lock:
            return dict(self._counts)

    # -- the LogRecordExporter interface, for processors that do not retry -----------------------

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Store ``batch``, retrying for up to ``retry_deadline_ms``; FAILURE after :meth:`shutdown` or
        when the batch could not be stored by then. Never raises."""
        if self._closed.is_set():
            return LogRecordExportResult.FAILURE
        deadline = time.monotonic() + self.settings.retry_deadline_ms / 1000
        try:
            batch = redact_batch(batch, self._redactor)  # the SDK's processors hand on records not yet redacted
            refused = write_until(self, batch, deadline, stop=self._closed)
        except Exception as error:  # noqa: BLE001 - the exporter must never fail its caller
            warn(f"mongodb-internal-{id(self)}", f"MongoDB exporter error: {describe(error)}")
            return LogRecordExportResult.FAILURE
        if refused is None:
            return LogRecordExportResult.FAILURE
        if refused:
            self._count("refused", refused)
        return LogRecordExportResult.SUCCESS

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Nothing is buffered here: always True."""
        return True

    def shutdown(self) -> None:
        """Close the client within ``shutdown_timeout_ms``; later exports fail. Idempotent."""
        if not self._closed.is_set():
            self.close(self.settings.shutdown_timeout_ms)

    def stats(self) -> dict[str, int]:
        """The same counts as :meth:`counts`."""
        return dict(self.counts())

    # -- internals -------------------------------------------------------------------------------

    def _build(self, records: Sequence[ReadableLogRecord]) -> BatchProgress:
        items: list[RecordDocuments] = []
        filtered = unmappable = 0
        for record in records:
            try:
                documents = record_documents(record, self.target.max_value_bytes)
            except Exception as error:  # noqa: BLE001 - one odd record must not fail the batch
                unmappable += 1
                self._warn("mongodb-unmappable", f"MongoDB exporter skipped a record it could not map: {error!r}")
                continue
            if documents is None:
                filtered += 1
            else:
                items.append(documents)
        if filtered:
            self._count("filtered", filtered)
        if unmappable:
            self._count("unmappable", unmappable)
        return BatchProgress(items)

    def _ensure_indexes(self, database: Database[Document]) -> None:
        """The history's indexes (the same plan ``otel-revops ensure-indexes`` applies), made once."""
        if self._indexes_ready or time.monotonic() < self._indexes_retry_at:
            return
        collection = database[self.target.logs_collection]
        try:
            changes = plan_index_changes(collection.index_information(), history_indexes(self.target.retention_days))
            apply_index_changes(collection, changes)
        except Exception as error:
            if is_transient(error):
                raise
            self._indexes_retry_at = time.monotonic() + _INDEX_RETRY_SECONDS
            self._warn(
                "mongodb-indexes",
                f"MongoDB exporter could not create the indexes of {self.target.logs_collection!r} "
                f"({describe(error)}); records are still stored, indexes are retried later",
            )
            return
        self._indexes_ready = True

    def _note(self, outcome: Outcome) -> None:
        if isinstance(outcome, Retry):
            self._failing = True
            self._warn(
                "mongodb-unreachable", f"MongoDB exporter cannot write to {self.target.where()} ({outcome.reason})"
            )
        elif self._failing:
            self._failing = False
            warn(f"mongodb-recovered-{id(self)}", f"MongoDB exporter is writing to {self.target.where()} again", 0)

    def _count(self, name: str, amount: int) -> None:
        with self._counts_lock:
            self._counts[name] += amount

    def _warn(self, key: str, message: str) -> None:
        warn(f"{key}-{id(self)}", message)


def _client_identity(client: MongoClient[Document]) -> str:
    """The servers a given client was pointed at, as a stable name part (no connection is made)."""
    import hashlib

    seeds = sorted(f"{host}:{port}" for host, port in client.topology_description.server_descriptions())
    return hashlib.sha256(",".join(seeds).encode()).hexdigest()[:8]
