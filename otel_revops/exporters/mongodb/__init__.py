"""The MongoDB exporter: execution logs beside the job's execution document, and their complete history.

Each record that belongs to an execution (it has an ``executionId``) is written twice (see
:mod:`~otel_revops.exporters.mongodb.documents` for the exact shapes):

* onto the **execution document** (``job_executions`` by default), in the original's shape — one
  update per execution and batch, ``$push`` onto ``logs`` (kept the newest ``embedded_limit`` by
  timestamp), ``$set lastHeartbeat``, ``$inc logCount``. The update is conditional on the batch not
  being applied to that document yet (``logBatches``), so a batch sent again never pushes twice
  (:mod:`~otel_revops.exporters.mongodb.writer`). The application owns that document: without
  ``upsert`` an update that matches nothing is only counted (``unmatched``);
* into the **history** (``execution_logs``), one document per record, ``_id`` fixed when the record
  was created, indexed by execution and by job (:mod:`~otel_revops.exporters.mongodb.indexes`), and
  expiring after ``retention_days`` (0 keeps forever).

One module per job: :mod:`~otel_revops.exporters.mongodb.connection` (settings, URI, client),
:mod:`~otel_revops.exporters.mongodb.documents` (record → documents, pure),
:mod:`~otel_revops.exporters.mongodb.writer` (history insert and execution updates),
:mod:`~otel_revops.exporters.mongodb.indexes`, :mod:`~otel_revops.exporters.mongodb.errors` (which
errors are worth a retry), :mod:`~otel_revops.exporters.mongodb.threads` (pymongo's own log records
kept out of the exporters) and :mod:`~otel_revops.exporters.mongodb.exporter`, the destination that
joins them. Holding, retrying and spooling belong to the delivery layer (:mod:`otel_revops.delivery`).
"""

from __future__ import annotations

from otel_revops.exporters.mongodb.exporter import MongoLogRecordExporter

__all__ = ["MongoLogRecordExporter"]
