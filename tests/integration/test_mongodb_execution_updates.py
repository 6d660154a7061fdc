"""The MongoDB exporter's execution updates when their bulk write fails as a whole, against a real SecantusDB
server: each execution's update is tried on its own, and what the bulk had already applied is not applied again."""

from __future__ import annotations

import logging
from typing import Any

from bson import ObjectId
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from pymongo.database import Database

from otel_revops.exporters.mongodb import MongoLogRecordExporter
from otel_revops.translate import to_otel_record

JOB_ID = "65a4f3b2c1d2e3f4a5b6c7d8"
Db = Database[dict[str, Any]]
# pymongo sends an unordered bulk in messages of at most 48 MB (maxMessageSizeBytes): a single update
# larger than that cannot be sent, and the bulk stops there with DocumentTooLarge.
HUGE_MESSAGE_CHARS = 49_000_000


def create_execution(db: Db) -> str:
    """Insert the application's execution document; returns its id as the application logs it."""
    execution_id = ObjectId()
    db.job_executions.insert_one({"_id": execution_id, "jobId": JOB_ID, "status": "running"})
    return str(execution_id)


def record(execution_id: str, message: str) -> ReadableLogRecord:
    """One record of ``execution_id``, translated as the pipeline translates it."""
    category = f"inngest.execution.{JOB_ID}.{execution_id}"
    log_record = logging.LogRecord(category, logging.INFO, __file__, 1, "%s", (message,), None)
    return ReadableLogRecord(
        log_record=to_otel_record(log_record, {"jobId": JOB_ID, "executionId": execution_id}, None),
        resource=Resource.create({"service.name": "revops-sync"}),
        instrumentation_scope=InstrumentationScope(category),
    )


def embedded(db: Db, execution_id: str) -> tuple[list[str], int]:
    """The messages of the execution document's ``logs``, and its ``logCount``."""
    document = db.job_executions.find_one({"_id": ObjectId(execution_id)})
    assert document is not None
    return [entry["message"] for entry in document.get("logs", [])], document.get("logCount", 0)


def test_a_bulk_refused_part_way_pushes_each_entry_once(
    mongo_uri: str, mongo_db_name: str, mongo_db: Db
) -> None:
    """Three executions' updates in one bulk: the first is sent and applied, the second is too large to
    send, which stops the bulk before the third. The first is not pushed again, the second is refused
    alone, and the third — a single entry — is still stored."""
    first, huge, single = (create_execution(mongo_db) for _ in range(3))
    exporter = MongoLogRecordExporter(mongo_uri, mongo_db_name, max_value_bytes=64 * 1024 * 1024)
    batch = [
        record(first, "first 0"),
        record(huge, "x" * HUGE_MESSAGE_CHARS),
        record(first, "first 1"),
        record(single, "single"),
    ]
    try:
        assert exporter.export(batch) is LogRecordExportResult.SUCCESS
    finally:
        exporter.shutdown()

    assert embedded(mongo_db, first) == (["first 0", "first 1"], 2)
    assert embedded(mongo_db, huge) == ([], 0)
    assert embedded(mongo_db, single) == (["single"], 1)
    stored = {document["message"] for document in mongo_db.execution_logs.find({}, {"message": 1})}
    assert stored == {"first 0", "first 1", "single"}
    # Too large to send at all, the huge record is refused on its own, before any execution update.
    assert exporter.stats()["refused"] == 1
