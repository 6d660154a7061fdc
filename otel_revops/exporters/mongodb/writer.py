"""One attempt at writing a batch's documents: the history insert, then one update per execution.

The history (``insert_many(ordered=False)``): each document's ``_id`` was fixed when its record was
created, so a record stored before is refused as a duplicate and counts as stored — a batch written
again stores nothing twice. A document the server refuses is counted and the rest is stored.

The execution updates are **idempotent**: each is conditional on the batch not having been applied
to that document yet, and records it as applied in the same write::

    filter {_id: <execution>, "logBatches.<writer>": {$ne: <batch>}}
    update {$push: {logs: {$each: [...], $sort: {timestamp: 1}, $slice: -N},
                    "logBatches.<writer>": {$each: [<batch>], $slice: -20}},
            $set: {lastHeartbeat: <now>}, $inc: {logCount: <entries>, "levelCounts.<level>": <entries>},
            $min: {firstLogAt: <oldest entry's timestamp>}}

so an update sent again — its answer was lost, the bulk stopped part way, the batch came back from
the spool in another process — matches nothing and is known to be applied; ``$sort`` keeps ``logs``
the newest N by timestamp whatever order batches arrive in. When fewer updates matched than were
sent, the documents are read to tell the applied ones (the batch is in ``logBatches``) from missing
documents (counted as ``unmatched``; without ``upsert`` the application creates them). An execution
document that refuses an update (e.g. it would pass 16 MB) gets its entries in halves, each under a
batch name of its own, down to the entry it refuses, which is counted and stays in the history.

A history insert the driver refuses as a whole (a document it cannot encode or send) answers
:class:`~otel_revops.delivery.Refused`, so the delivery layer isolates the record; any other error
ends the attempt, and the exporter answers :class:`~otel_revops.delivery.Retry` with the progress so
far (an unreachable server, a step-down, but also bad credentials: the records wait, in the spool,
for a server that takes them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from bson.errors import BSONError
from pymongo import UpdateOne
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import BulkWriteError, WriteError

from otel_revops.delivery import Done, Outcome, Refused, Retry
from otel_revops.exporters.mongodb.connection import MongoTarget
from otel_revops.exporters.mongodb.documents import RecordDocuments
from otel_revops.exporters.mongodb.errors import DUPLICATE_KEY, describe, is_transient, is_transient_code

__all__ = ["APPLIED_BATCHES", "BatchProgress", "ExecutionLogWriter"]

#: The execution document's field recording, per writer, the last batches applied to it.
APPLIED_BATCHES = "logBatches"
# Batches remembered per writer and document: a batch is sent again before many later ones of the
# same writer reach that document (in order within a process; a few apart when processes replay a spool).
_REMEMBERED = 20

Document = dict[str, Any]
Count = Callable[[str, int], None]


@dataclass
class BatchProgress:
    """How far a batch's writing got: its documents (built once), the history, the executions updated."""

    items: list[RecordDocuments]
    history_done: bool = False
    refused: int = 0
    #: Execution keys whose update is applied (or whose document does not exist).
    updated: set[Any] = field(default_factory=set)


class _TransientError(Exception):
    """The attempt stopped on an error that may go away."""


class _WholeBatchRefusedError(Exception):
    """The history insert was refused as a whole, before anything was written."""


class ExecutionLogWriter:
    """Writes batches to one :class:`MongoTarget`; ``count(name, n)`` receives its own counts
    (``unmatched``, ``embedded_rejected``) and ``warn(key, message)`` its warnings."""

    def __init__(self, target: MongoTarget, count: Count, warn: Callable[[str, str], object]) -> None:
        self.target = target
        self._count = count
        self._warn = warn

    def write(self, database: Database[Document], progress: BatchProgress, writer: str, batch: str) -> Outcome:
        """One attempt; :class:`Done` once every document is written, else what to do next."""
        try:
            if not progress.history_done:
                progress.refused += self._insert_history(
                    database[self.target.logs_collection], [item.history for item in progress.items]
                )
                progress.history_done = True
            self._update_executions(database[self.target.executions_collection], progress, writer, batch)
        except _WholeBatchRefusedError as refused:
            return Refused(str(refused))
        except _TransientError as error:
            return Retry(describe(error.__cause__ or error), progress)
        return Done(refused=progress.refused)

    # -- the history ---------------------------------------------------------------------------

    def _insert_history(self, collection: Collection[Document], documents: list[Document]) -> int:
        """Insert ``documents``; duplicates count as stored. Returns how many the server refused."""
        try:
            collection.insert_many(documents, ordered=False)
        except BulkWriteError as error:
            errors = error.details.get("writeErrors", [])
            if any(is_transient_code(entry.get("code")) for entry in errors):
                raise _TransientError("transient write errors") from error
            refused = [entry for entry in errors if entry.get("code") != DUPLICATE_KEY]
            if refused:
                self._warn(
                    "mongodb-refused",
                    f"MongoDB refused {len(refused)} log records ({describe(refused[0].get('errmsg', ''))}); "
                    "the rest of the batch is stored",
                )
            return len(refused)
        except BSONError as error:
            # A document the driver cannot send (too large, not encodable): the delivery layer isolates it.
            raise _WholeBatchRefusedError(describe(error)) from error
        return 0

    # -- the execution documents ---------------------------------------------------------------

    def _update_executions(
        self, collection: Collection[Document], progress: BatchProgress, writer: str, batch: str
    ) -> None:
        groups: dict[Any, list[RecordDocuments]] = {}
        for item in progress.items:
            if item.key not in progress.updated:
                groups.setdefault(item.key, []).append(item)
        if not groups:
            return
        now = datetime.now(timezone.utc)
        keys = list(groups)
        operations = [self._operation(key, groups[key], now, writer, batch) for key in keys]
        try:
            result = collection.bulk_write(operations, ordered=False)
        except BulkWriteError as error:
            failed = {entry.get("index", -1): entry for entry in error.details.get("writeErrors", [])}
            retry = False
            unsure: list[Any] = []
            for index, key in enumerate(keys):
                entry = failed.get(index)
                if entry is None or entry.get("code") == DUPLICATE_KEY:
                    unsure.append(key)  # applied now or before, or no document / a racing upsert
                elif is_transient_code(entry.get("code")):
                    retry = True
                else:
                    self._push_group(collection, progress, key, groups[key], now, writer, batch)
            self._settle(collection, progress, unsure, writer, batch)
            if retry:
                raise _TransientError("transient update errors") from error
            return
        except BSONError:
            # Refused before or after part of the bulk was sent (an update too large to send): the
            # documents tell which were applied; the others are pushed one execution at a time.
            self._settle(collection, progress, keys, writer, batch, retry=False)
            for key in keys:
                if key not in progress.updated:
                    self._push_group(collection, progress, key, groups[key], now, writer, batch)
            return
        if result.matched_count + result.upserted_count == len(keys):
            progress.updated.update(keys)
            return
        self._settle(collection, progress, keys, writer, batch)

    def _operation(self, key: Any, items: list[RecordDocuments], now: datetime, writer: str, batch: str) -> UpdateOne:
        return UpdateOne(
            _unapplied(key, writer, batch), self._update(items, now, writer, batch), upsert=self.target.upsert
        )

    def _update(self, items: list[RecordDocuments], now: datetime, writer: str, batch: str) -> Document:
        limit = self.target.embedded_limit
        update: Document = {
            "$push": {
                # Entries older than the newest ``limit`` would be sliced off at once: they are not sent.
                "logs": {"$each": [item.entry for item in items[-limit:]], "$sort": {"timestamp": 1}, "$slice": -limit},
                f"{APPLIED_BATCHES}.{writer}": {"$each": [batch], "$slice": -_REMEMBERED},
            },
            "$set": {"lastHeartbeat": now},
            "$inc": {"logCount": len(items), **_level_counts(items)},
            "$min": {"firstLogAt": min(item.entry["timestamp"] for item in items)},
        }
        if self.target.upsert:
            job_id = next((item.job_id for item in items if item.job_id is not None), None)
            if job_id is not None:
                update["$setOnInsert"] = {"jobId": job_id}
        return update

    def _settle(
        self,
        collection: Collection[Document],
        progress: BatchProgress,
        keys: list[Any],
        writer: str,
        batch: str,
        *,
        retry: bool = True,
    ) -> None:
        """Read the execution documents whose update matched nothing (or may not have): applied when the
        batch is recorded there, unmatched when the document does not exist; otherwise sent again
        (``retry``: the attempt ends asking for a retry; else they are left for the caller)."""
        if not keys:
            return
        applied = f"{APPLIED_BATCHES}.{writer}"
        found = {
            document["_id"]: document.get(APPLIED_BATCHES, {}).get(writer, [])
            for document in collection.find({"_id": {"$in": keys}}, {applied: 1})
        }
        missing = [key for key in keys if key not in found]
        pending = [key for key in keys if key in found and batch not in found[key]]
        progress.updated.update(key for key in keys if key in found and batch in found[key])
        if missing and not self.target.upsert:
            progress.updated.update(missing)
            self._count("unmatched", len(missing))
            self._warn(
                "mongodb-unmatched",
                f"{len(missing)} execution log updates matched no document in "
                f"{self.target.executions_collection!r}: the application creates execution documents, or set "
                "OTEL_REVOPS_MONGODB_UPSERT=true; the records are in the history collection",
            )
        elif missing:
            pending.extend(missing)
        if pending and retry:
            raise _TransientError(f"{len(pending)} execution updates are still to be applied")

    def _push_group(
        self,
        collection: Collection[Document],
        progress: BatchProgress,
        key: Any,
        items: list[RecordDocuments],
        now: datetime,
        writer: str,
        batch: str,
    ) -> None:
        """Push one execution's ``items`` in one update; if the document refuses it, push them half by half,
        each half as a batch of its own, down to the entry it refuses, which is counted and left to the history."""
        try:
            result = collection.update_one(
                _unapplied(key, writer, batch), self._update(items, now, writer, batch), upsert=self.target.upsert
            )
        except (WriteError, BSONError) as error:
            if is_transient(error) or getattr(error, "code", None) == DUPLICATE_KEY:
                raise _TransientError(describe(error)) from error
            if len(items) == 1:
                self._count("embedded_rejected", 1)
                self._warn(
                    "mongodb-rejected",
                    f"an execution document in {self.target.executions_collection!r} refused a log entry "
                    f"({describe(error)}); it is in the history collection",
                )
            else:
                middle = len(items) // 2
                for index, part in enumerate((items[:middle], items[middle:])):
                    self._push_group(collection, BatchProgress([]), key, part, now, writer, f"{batch}:{index}")
            progress.updated.add(key)
            return
        if result.matched_count == 0 and result.upserted_id is None:
            self._settle(collection, progress, [key], writer, batch)
        else:
            progress.updated.add(key)


def _level_counts(items: list[RecordDocuments]) -> dict[str, int]:
    """``{"levelCounts.<level>": n}`` for the entries of ``items``: the execution's summary, kept by the same update."""
    counts: dict[str, int] = {}
    for item in items:
        field = f"levelCounts.{item.entry['level']}"
        counts[field] = counts.get(field, 0) + 1
    return counts


def _unapplied(key: Any, writer: str, batch: str) -> Document:
    """The filter matching execution document ``key`` unless ``writer``'s ``batch`` was applied to it."""
    return {"_id": key, f"{APPLIED_BATCHES}.{writer}": {"$ne": batch}}
