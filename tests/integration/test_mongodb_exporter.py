"""The MongoDB exporter against a real SecantusDB server: the original's document shape, the complete
history, safe documents, retries, outages, the feedback-loop guard, indexes, configuration and exit."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pymongo
import pytest
from bson import ObjectId
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.monitoring import CommandFailedEvent, CommandListener, CommandStartedEvent, CommandSucceededEvent

import otel_revops
from otel_revops import configure_logging, execution_context, get_execution_logger
from otel_revops.categories import record_category
from otel_revops.config import ConfigurationError
from otel_revops.exporters.mongodb import MongoLogRecordExporter
from otel_revops.exporters.mongodb.documents import record_documents
from otel_revops.pipeline import LoggingPipeline
from otel_revops.translate import to_otel_record
from tests.support.mongo_server import MongoServer, free_port
from tests.support.waiting import wait_for

JOB_ID = "65a4f3b2c1d2e3f4a5b6c7d8"
REPO = Path(__file__).resolve().parents[2]
Client = MongoClient[dict[str, Any]]
Db = Database[dict[str, Any]]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No MongoDB or OTel variable of the surrounding shell leaks into a test."""
    for name in list(os.environ):
        if (name.startswith("OTEL_") and name != "OTEL_REVOPS_SPOOL_DIR") or name == "MONGODB_URI":
            monkeypatch.delenv(name)


@pytest.fixture
def private_client(private_mongo_server: MongoServer) -> Iterator[Client]:
    """A client on the test's private server, patient enough to outlast a restart."""
    client: Client = MongoClient(private_mongo_server.uri, serverSelectionTimeoutMS=10_000)
    try:
        yield client
    finally:
        # Closing ends sessions on the server; a test may have killed it, so do not wait a selection out.
        with pymongo.timeout(0.5):
            client.close()


def connect(uri: str) -> Client:
    """A client for reading and preparing documents."""
    return MongoClient(uri, serverSelectionTimeoutMS=10_000)


def create_execution(db: Db, job_id: str = JOB_ID, **fields: Any) -> str:
    """Insert the application's execution document; returns its id as the application logs it."""
    execution_id = ObjectId()
    db.job_executions.insert_one({"_id": execution_id, "jobId": job_id, "status": "running", **fields})
    return str(execution_id)


def mongo_exporter(pipeline: LoggingPipeline) -> MongoLogRecordExporter:
    """The MongoDB exporter configure_logging() created."""
    for processor in pipeline.processors:
        exporter = getattr(processor, "exporter", None)
        if isinstance(exporter, MongoLogRecordExporter):
            return exporter
    raise AssertionError("the pipeline has no MongoDB exporter")


def stats(pipeline: LoggingPipeline) -> dict[str, Any]:
    """The delivery counts of the pipeline's MongoDB destination."""
    counts: dict[str, Any] = pipeline.stats()["exporters"]["MongoLogRecordExporter"]
    return counts


def flush(pipeline: LoggingPipeline, timeout_millis: int = 15_000) -> None:
    """Deliver everything logged so far, or fail the test."""
    assert pipeline.force_flush(timeout_millis), pipeline.stats()


def history(db: Db, execution_id: str) -> list[dict[str, Any]]:
    """The execution's history documents, oldest first."""
    return list(db.execution_logs.find({"executionId": ObjectId(execution_id)}).sort([("timestamp", 1), ("_id", 1)]))


def execution(db: Db, execution_id: str) -> dict[str, Any]:
    """The execution document (it must exist)."""
    document = db.job_executions.find_one({"_id": ObjectId(execution_id)})
    assert document is not None
    return document


def readable_records(execution_id: str, count: int, *, created: float | None = None) -> list[ReadableLogRecord]:
    """``count`` records of an execution, translated exactly as the pipeline translates them."""
    category = f"inngest.execution.{JOB_ID}.{execution_id}"
    records = []
    for index in range(count):
        record = logging.LogRecord(category, logging.INFO, __file__, 1, "record %d", (index,), None)
        if created is not None:
            record.created = created
        base = {"jobId": JOB_ID, "executionId": execution_id}
        records.append(
            ReadableLogRecord(
                log_record=to_otel_record(record, base, None),
                resource=Resource.create({"service.name": "revops-sync"}),
                instrumentation_scope=InstrumentationScope(category),
            )
        )
    return records


class CapturingExporter(LogRecordExporter):
    """Keeps the category and message of every record exported to it."""

    def __init__(self) -> None:
        self.records: list[tuple[str, str]] = []

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        for record in batch:
            self.records.append((record_category(record), str(record.log_record.body)))
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing to release."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True

    def count(self, category: str) -> int:
        """How many records of ``category`` arrived."""
        return sum(1 for name, _ in list(self.records) if name == category)

    def mentioning(self, texts: set[str]) -> list[str]:
        """The messages that contain one of ``texts``."""
        return [body for _, body in list(self.records) if any(text in body for text in texts)]


class CountingHandler(logging.Handler):
    """Keeps (thread name, rendered message) of every record it sees."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.threadName or "", record.getMessage()))

    def client_ids(self, thread_prefix: str) -> set[str]:
        """The pymongo client (topology) ids named in records logged on threads starting with ``thread_prefix``."""
        ids = set()
        for thread, message in list(self.seen):
            if thread.startswith(thread_prefix):
                ids.update(re.findall(r'"(?:clientId|topologyId)": \{"\$oid": "([0-9a-f]{24})"\}', message))
        return ids

    def about(self, client_ids: set[str], thread_prefix: str = "") -> int:
        """How many records logged on such threads name one of ``client_ids``."""
        return sum(
            1
            for thread, message in list(self.seen)
            if thread.startswith(thread_prefix) and any(i in message for i in client_ids)
        )


class TestStoredDocuments:
    def test_execution_document_has_the_original_shape(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """One record becomes {timestamp, level, message, metadata{jobId, executionId, syncMode, category}} in logs,
        with lastHeartbeat and logCount, and the application's own fields untouched."""
        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none")
        before = datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(milliseconds=1)
        log = get_execution_logger(JOB_ID, execution_id)
        log.info("Job execution started: incremental sync", syncMode="incremental")
        flush(pipeline)
        after = datetime.now(timezone.utc).replace(tzinfo=None) + timedelta(milliseconds=1)

        document = execution(mongo_db, execution_id)
        assert set(document) == {
            "_id", "jobId", "status", "logs", "lastHeartbeat", "logCount", "logBatches", "levelCounts", "firstLogAt"
        }  # fmt: skip
        assert (document["levelCounts"], document["firstLogAt"]) == ({"info": 1}, document["logs"][0]["timestamp"])
        # Beside the original's fields and the summary: per writer, the batches applied, so none is pushed twice.
        ((writer, applied),) = document["logBatches"].items()
        assert re.fullmatch("[0-9a-f]{16}", writer) and applied == ["1"]
        assert document["status"] == "running"
        assert document["logCount"] == 1
        (entry,) = document["logs"]
        assert list(entry) == ["timestamp", "level", "message", "metadata"]
        assert before <= entry["timestamp"] <= after
        assert entry["level"] == "info"
        assert entry["message"] == "Job execution started: incremental sync"
        assert entry["metadata"] == {
            "jobId": JOB_ID,
            "executionId": execution_id,
            "syncMode": "incremental",
            "category": f"inngest.execution.{JOB_ID}.{execution_id}",
        }
        assert list(entry["metadata"]) == ["jobId", "executionId", "syncMode", "category"]
        assert entry["timestamp"] <= document["lastHeartbeat"] <= after + timedelta(seconds=5)

    def test_history_document_fields(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """Each record is also one history document: ids, time, level, severity, message, category, metadata,
        trace ids of the active span, exception and service."""
        from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, use_span

        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(
            mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none", service_name="billing-sync"
        )
        span = NonRecordingSpan(SpanContext(0xABC, 0xDEF, is_remote=False, trace_flags=TraceFlags(1)))
        with execution_context(job_id=JOB_ID, execution_id=execution_id, entity="contacts"), use_span(span):
            try:
                raise RuntimeError("chunk 3 failed")
            except RuntimeError:
                logging.getLogger("inngest.sync.contacts").exception("Chunk failed")
        flush(pipeline)

        (stored,) = history(mongo_db, execution_id)
        entry = execution(mongo_db, execution_id)["logs"][0]
        assert isinstance(stored["_id"], ObjectId)
        assert stored["executionId"] == ObjectId(execution_id)
        assert stored["jobId"] == JOB_ID
        assert stored["timestamp"] == entry["timestamp"]
        assert stored["level"] == "error"
        assert stored["severityNumber"] == 17
        assert stored["message"] == "Chunk failed"
        assert stored["category"] == "inngest.sync.contacts"
        assert stored["metadata"] == {
            "jobId": JOB_ID,
            "executionId": execution_id,
            "entity": "contacts",
            "category": "inngest.sync.contacts",
        }
        assert stored["traceId"] == f"{0xABC:032x}"
        assert stored["spanId"] == f"{0xDEF:016x}"
        assert stored["exception"]["type"] == "RuntimeError"
        assert stored["exception"]["message"] == "chunk 3 failed"
        assert "Traceback" in stored["exception"]["stacktrace"]
        assert entry["exception"] == stored["exception"]
        assert stored["service"] == "billing-sync"

    def test_levels_are_the_original_names(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """debug, info, warning, error and critical are stored as the original's level names."""
        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(
            mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none", log_level="debug"
        )
        log = get_execution_logger(JOB_ID, execution_id)
        log.debug("d")
        log.info("i")
        log.warning("w")
        log.error("e")
        log.critical("c")
        flush(pipeline)
        levels = [(e["message"], e["level"]) for e in execution(mongo_db, execution_id)["logs"]]
        assert levels == [("d", "debug"), ("i", "info"), ("w", "warning"), ("e", "error"), ("c", "critical")]
        assert [d["level"] for d in history(mongo_db, execution_id)] == [level for _, level in levels]

    def test_timed_blocks_are_stored_with_duration_and_outcome(
        self, mongo_uri: str, mongo_db_name: str, mongo_db: Db
    ) -> None:
        """A timed block inside an execution, and a failing one: both in the history and in ``logs``."""
        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none")
        log = get_execution_logger(JOB_ID, execution_id)
        with log.timed("Fetched page", page=1):
            pass
        with pytest.raises(TimeoutError), log.timed("Fetched page", page=2):
            raise TimeoutError("HubSpot did not answer")
        flush(pipeline)
        for documents in (execution(mongo_db, execution_id)["logs"], history(mongo_db, execution_id)):
            assert [(d["level"], d["metadata"]["page"], d["metadata"]["outcome"]) for d in documents] == [
                ("info", 1, "ok"),
                ("warning", 2, "error"),
            ]
            assert all(isinstance(d["metadata"]["durationMs"], float) for d in documents)
            assert documents[1]["metadata"]["errorType"] == "TimeoutError"

    def test_the_execution_document_counts_levels_and_keeps_the_first_time(
        self, mongo_uri: str, mongo_db_name: str, mongo_db: Db
    ) -> None:
        """``levelCounts`` equals the history's counts per level and ``firstLogAt`` its oldest record, across
        batches (the exact-once update keeps them, as it keeps ``logCount``)."""
        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(
            mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none", export_batch_size=7
        )
        log = get_execution_logger(JOB_ID, execution_id)
        for n in range(30):
            (log.warning if n % 5 == 0 else log.error if n % 7 == 0 else log.info)("record %d", n)
        flush(pipeline)
        document = execution(mongo_db, execution_id)
        stored = history(mongo_db, execution_id)
        counts: dict[str, int] = {}
        for record in stored:
            counts[record["level"]] = counts.get(record["level"], 0) + 1
        assert document["levelCounts"] == counts == {"warning": 6, "error": 4, "info": 20}
        assert document["firstLogAt"] == min(record["timestamp"] for record in stored)
        assert document["logCount"] == 30

    def test_only_records_with_an_execution_are_stored(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """Records without an executionId are not stored; one from the execution context or from extra= is."""
        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none")
        app = logging.getLogger("app")
        app.info("service started")
        with execution_context(job_id=JOB_ID):
            app.info("job scheduled, no execution yet")
        with execution_context(job_id=JOB_ID, execution_id=execution_id):
            app.info("from the context")
        app.info("from extra", extra={"executionId": execution_id, "jobId": JOB_ID})
        flush(pipeline)

        assert [e["message"] for e in execution(mongo_db, execution_id)["logs"]] == ["from the context", "from extra"]
        assert mongo_db.execution_logs.count_documents({}) == 2
        assert mongo_exporter(pipeline).counts()["filtered"] == 2

    def test_heartbeat_advances(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """Every batch moves lastHeartbeat forward."""
        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none")
        log = get_execution_logger(JOB_ID, execution_id)
        log.info("first")
        flush(pipeline)
        first = execution(mongo_db, execution_id)["lastHeartbeat"]
        wait_for(lambda: datetime.now(timezone.utc).replace(tzinfo=None) > first + timedelta(milliseconds=5))
        log.info("second")
        flush(pipeline)
        document = execution(mongo_db, execution_id)
        assert document["lastHeartbeat"] > first
        assert document["logCount"] == 2

    def test_embedded_cap_holds_while_history_keeps_all(
        self, private_mongo_server: MongoServer, private_client: Client
    ) -> None:
        """5,000 records with limit 1,000: logs keeps the newest 1,000 in order, logCount and history all 5,000."""
        # A private server: dropping 5,000 indexed documents costs the shared one seconds.
        mongo_db = private_client["cap"]
        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(
            mongodb_uri=private_mongo_server.uri, mongodb_database="cap", console="none", mongodb_embedded_limit=1000
        )
        log = get_execution_logger(JOB_ID, execution_id)
        for index in range(5000):
            log.info("record %d", index)
        flush(pipeline, 60_000)

        document = execution(mongo_db, execution_id)
        assert [e["message"] for e in document["logs"]] == [f"record {i}" for i in range(4000, 5000)]
        assert document["logCount"] == 5000
        stored = [d["message"] for d in history(mongo_db, execution_id)]
        assert sorted(stored) == sorted(f"record {i}" for i in range(5000))
        assert stats(pipeline)["exported"] == 5000
        # A graceful stop of a server holding this much takes over 10 s; its data is thrown away anyway.
        otel_revops.shutdown_logging()
        private_mongo_server.kill()

    def test_unmatched_updates_are_counted_and_history_kept(
        self, mongo_uri: str, mongo_db_name: str, mongo_db: Db
    ) -> None:
        """Without upsert a missing execution document is not created; the update is counted, the history kept."""
        execution_id = str(ObjectId())
        pipeline = configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none")
        get_execution_logger(JOB_ID, execution_id).info("orphan")
        flush(pipeline)
        assert mongo_db.job_executions.count_documents({}) == 0
        assert [d["message"] for d in history(mongo_db, execution_id)] == ["orphan"]
        assert mongo_exporter(pipeline).stats()["unmatched"] == 1

    def test_upsert_creates_the_execution_document(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """With upsert the execution document is created with its jobId; non-ObjectId ids are kept as strings."""
        pipeline = configure_logging(
            mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none", mongodb_upsert=True
        )
        get_execution_logger("job-nightly", "run-2024-01-15").info("created on first log")
        flush(pipeline)
        document = mongo_db.job_executions.find_one({"_id": "run-2024-01-15"})
        assert document is not None
        assert document["jobId"] == "job-nightly"
        assert document["logCount"] == 1
        assert [e["message"] for e in document["logs"]] == ["created on first log"]
        assert mongo_exporter(pipeline).stats()["unmatched"] == 0

    def test_bad_keys_and_values_are_stored_safely(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """Keys with $, dots and NUL are rewritten, odd values stored as text, a long message truncated."""

        class Opaque:
            def __str__(self) -> str:
                return "opaque!"

        execution_id = create_execution(mongo_db)
        pipeline = configure_logging(
            mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none", mongodb_max_value_bytes=1024
        )
        log = get_execution_logger(JOB_ID, execution_id)
        properties: dict[str, Any] = {
            "$where": "sleep(1000)",
            "a.b": {"$gt": {"c.d": 1}},
            "nul\x00key": 1,
            "thing": Opaque(),
            "tags": {"x", "y"},
            "huge": 2**100,
            "long": "v" * 10_000,
        }
        log.info("odd values", **properties)
        log.info("m" * 100_000)
        log.info("after them")
        flush(pipeline)

        odd, long_message, after = execution(mongo_db, execution_id)["logs"]
        metadata = odd["metadata"]
        assert metadata["\uff04where"] == "sleep(1000)"
        assert metadata["a"]["b"] == {"\uff04gt": {"c\uff0ed": 1}}
        assert metadata["nul\u2400key"] == 1
        assert metadata["thing"] == "opaque!"
        assert sorted(metadata["tags"]) == ["x", "y"]
        assert metadata["huge"] == str(2**100)
        assert len(metadata["long"].encode()) <= 1024
        assert "truncated" in metadata["long"]
        assert not [key for key in metadata if key.startswith("$") or "." in key]
        assert long_message["message"].startswith("m" * 900)
        assert re.search(r"truncated \d+ bytes", long_message["message"])
        assert after["message"] == "after them"
        assert len(history(mongo_db, execution_id)) == 3
        assert stats(pipeline)["refused"] == 0

    def test_one_oversized_record_does_not_fail_its_batch(
        self, mongo_uri: str, mongo_db_name: str, mongo_db: Db, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A record too large for MongoDB is refused alone: the rest of its batch is stored, in order."""
        execution_id = create_execution(mongo_db)
        exporter = MongoLogRecordExporter(mongo_uri, mongo_db_name, max_value_bytes=32 * 1024 * 1024)
        # Both length caps lifted, so that the 17 MB message reaches the server and is refused there.
        pipeline = configure_logging(console="none", exporters=[exporter], export_delay_ms=2000, max_value_length=0)
        log = get_execution_logger(JOB_ID, execution_id)
        for index in range(5):
            log.info("small %d", index)
        log.info("x" * (17 * 1024 * 1024))
        for index in range(5, 10):
            log.info("small %d", index)
        flush(pipeline, 60_000)

        expected = [f"small {i}" for i in range(10)]
        assert [e["message"] for e in execution(mongo_db, execution_id)["logs"]] == expected
        assert [d["message"] for d in history(mongo_db, execution_id)] == expected
        counts = stats(pipeline)
        assert counts["refused"] == 1
        assert counts["destination"]["embedded_rejected"] == 1
        assert counts["exported"] == 10
        assert "MongoDB refused 1 log records" in capfd.readouterr().err


class TestRetries:
    def test_retried_batch_inserts_nothing_twice(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """History documents already stored by an earlier attempt (or a replayed batch) are not stored again."""
        execution_id = create_execution(mongo_db)
        records = readable_records(execution_id, 40)
        already = [record_documents(record) for record in records[:25]]
        mongo_db.execution_logs.insert_many([documents.history for documents in already if documents is not None])
        exporter = MongoLogRecordExporter(mongo_uri, mongo_db_name)
        try:
            assert exporter.export(records) is LogRecordExportResult.SUCCESS
            assert exporter.export(records) is LogRecordExportResult.SUCCESS
        finally:
            exporter.shutdown()
        stored = history(mongo_db, execution_id)
        assert len(stored) == 40
        assert len({d["_id"] for d in stored}) == 40
        assert sorted(d["message"] for d in stored) == sorted(f"record {i}" for i in range(40))
        assert exporter.counts()["unmappable"] == 0

    def test_server_lost_before_the_execution_update(
        self, private_mongo_server: MongoServer, private_client: Client
    ) -> None:
        """The server dies after the history insert, before the $push: the retry pushes each entry once and
        inserts nothing again."""
        server = private_mongo_server
        killed = threading.Event()

        class KillBeforeFirstUpdate(CommandListener):
            def started(self, event: CommandStartedEvent) -> None:
                if event.command_name == "update" and not killed.is_set():
                    server.kill()
                    killed.set()

            def succeeded(self, event: CommandSucceededEvent) -> None:
                """Not needed."""

            def failed(self, event: CommandFailedEvent) -> None:
                """Not needed."""

        db = private_client["retry"]
        first, second = create_execution(db), create_execution(db)
        client: Client = MongoClient(
            server.uri, serverSelectionTimeoutMS=500, event_listeners=[KillBeforeFirstUpdate()]
        )
        exporter = MongoLogRecordExporter(database="retry", client=client)
        pipeline = configure_logging(console="none", exporters=[exporter], export_delay_ms=50, retry_deadline_ms=30_000)
        try:
            for index in range(20):
                get_execution_logger(JOB_ID, first if index % 2 else second).info("entry %d", index)
            wait_for(killed.is_set, timeout=15, message="the update was never attempted")
            server.restart()
            flush(pipeline, 30_000)
            stats = pipeline.stats()["exporters"]["MongoLogRecordExporter"]
        finally:
            otel_revops.shutdown_logging()
            client.close()

        for execution_id, parity in ((first, 1), (second, 0)):
            document = execution(db, execution_id)
            expected = [f"entry {i}" for i in range(20) if i % 2 == parity]
            assert [e["message"] for e in document["logs"]] == expected
            assert document["logCount"] == 10
            assert len(history(db, execution_id)) == 10
        assert stats["exported"] == 20
        assert stats["failed_attempts"] > 0

    def test_outage_loses_nothing_within_the_memory_bound(
        self, private_mongo_server: MongoServer, private_client: Client, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Server killed mid-run: logging calls neither raise nor wait, and once the server is back every record
        logged during the outage is stored exactly once, in order, without anyone flushing."""
        server = private_mongo_server
        db = private_client["outage"]
        execution_id = create_execution(db)
        exporter = MongoLogRecordExporter(server.uri, "outage", server_selection_timeout_millis=300)
        # Holding in memory (no spool) is under test here; the spool has its own tests.
        pipeline = configure_logging(
            console="none", exporters=[exporter], export_delay_ms=50, spool=False, retry_deadline_ms=300
        )
        delivery = pipeline.processors[0]
        log = get_execution_logger(JOB_ID, execution_id)
        for index in range(20):
            log.info("before %d", index)
        flush(pipeline)

        server.kill()
        started = time.monotonic()
        for index in range(300):
            log.info("during %d", index)
        assert time.monotonic() - started < 2.0
        wait_for(lambda: stats(pipeline)["held_in_memory"] == 300, timeout=20, message="records held in the outage")

        server.restart()
        wait_for(lambda: stats(pipeline)["exported"] == 320, timeout=60, message="held records delivered")
        expected = [f"before {i}" for i in range(20)] + [f"during {i}" for i in range(300)]
        document = execution(db, execution_id)
        assert [e["message"] for e in document["logs"]] == expected
        assert document["logCount"] == 320
        stored = history(db, execution_id)
        assert sorted(d["message"] for d in stored) == sorted(expected)
        assert len({d["_id"] for d in stored}) == 320
        assert stats(pipeline)["held_in_memory"] == 0
        assert stats(pipeline)["replayed"] == 300
        assert pipeline.stats()["handler_errors"] == 0
        assert delivery.stats()["dropped_queue_full"] == 0
        assert "MongoDB exporter cannot write to" in capfd.readouterr().err

    def test_beyond_the_memory_bound_records_are_dropped_counted_and_reported(
        self, private_mongo_server: MongoServer, private_client: Client, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """With max_queue_size=50 and no spool, an outage of 80 records keeps about 50 in memory: every record is
        either stored once or counted as dropped, and the drops are reported."""
        server = private_mongo_server
        db = private_client["bound"]
        execution_id = create_execution(db)
        exporter = MongoLogRecordExporter(server.uri, "bound", server_selection_timeout_millis=200)
        pipeline = configure_logging(
            console="none", exporters=[exporter], export_delay_ms=50, spool=False, max_queue_size=50,
            export_batch_size=10,
        )
        log = get_execution_logger(JOB_ID, execution_id)
        log.info("connected")
        flush(pipeline)

        server.kill()
        for index in range(80):
            log.info("during %d", index)
        wait_for(lambda: stats(pipeline)["dropped_queue_full"] >= 30, timeout=20, message="records dropped")
        assert stats(pipeline)["queued"] + stats(pipeline)["held_in_memory"] <= 50
        server.restart()
        flush(pipeline, 30_000)

        stored = [d["message"] for d in history(db, execution_id)]
        dropped = stats(pipeline)["dropped_queue_full"]
        assert len(stored) == len(set(stored))
        assert set(stored) <= {"connected"} | {f"during {i}" for i in range(80)}
        # At most one batch (10 records) was being written beyond the 50 held.
        assert 30 <= dropped <= 40
        assert len(stored) + dropped == 81
        assert execution(db, execution_id)["logCount"] == len(stored)
        assert re.search(r"(queue|memory) is full .*50 records.*: \d+ records dropped so far", capfd.readouterr().err)

    def test_shutdown_interrupts_the_backoff(
        self, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """Used as a plain LogRecordExporter, export() retries within the retry deadline; shutdown() ends its
        backoff wait at once (it does not sit out the 60 s deadline) and later exports fail."""
        monkeypatch.setenv("OTEL_REVOPS_RETRY_DEADLINE_MS", "60000")
        exporter = MongoLogRecordExporter(
            f"mongodb://127.0.0.1:{free_port()}/", "nowhere", server_selection_timeout_millis=100
        )
        results: list[LogRecordExportResult] = []
        worker = threading.Thread(target=lambda: results.append(exporter.export(readable_records(str(ObjectId()), 3))))
        worker.start()
        seen: list[str] = []
        wait_for(
            lambda: seen.append(capfd.readouterr().err) or "cannot write to" in "".join(seen),
            timeout=20,
            message="a failed attempt",
        )
        started = time.monotonic()
        exporter.shutdown()
        worker.join(5)
        assert time.monotonic() - started < 5
        assert not worker.is_alive()
        assert results == [LogRecordExportResult.FAILURE]
        assert exporter.export(readable_records(str(ObjectId()), 1)) is LogRecordExportResult.FAILURE
        exporter.shutdown()

    def test_pymongo_debug_logs_never_reenter_the_pipeline(self, private_mongo_server: MongoServer) -> None:
        """With pymongo at DEBUG and writes failing, nothing pymongo logs about the exporter's client — on the
        export thread or on the client's monitor threads — reaches an exporter; every application record does."""
        server = private_mongo_server
        with connect(server.uri) as setup_client:
            execution_id = create_execution(setup_client["loop"])
        category = f"inngest.execution.{JOB_ID}.{execution_id}"
        counter = CountingHandler()
        pymongo_logger = logging.getLogger("pymongo")
        pymongo_logger.addHandler(counter)
        capture = CapturingExporter()
        try:
            pipeline = configure_logging(
                mongodb_uri=server.uri,
                mongodb_database="loop",
                console="none",
                log_levels={"pymongo": "debug"},
                export_delay_ms=50,
                exporters=[capture],
            )
            mongo_exporter(pipeline)  # the pipeline made one
            log = get_execution_logger(JOB_ID, execution_id)
            log.info("connected")
            flush(pipeline)
            server.kill()
            for index in range(10):
                log.info("during %d", index)
            wait_for(lambda: stats(pipeline)["failed_attempts"] >= 4, timeout=30, message="retries against a dead server")
            exporter_client = counter.client_ids("otel-revops")
            assert exporter_client, "pymongo logged nothing on the export thread"
            wait_for(lambda: counter.about(exporter_client, "pymongo_") >= 3, timeout=20, message="monitor records")
            server.restart()
            flush(pipeline, 30_000)
        finally:
            pymongo_logger.removeHandler(counter)
        assert counter.about(exporter_client) > 30
        assert capture.mentioning(exporter_client) == []
        assert capture.count(category) == 11
        with connect(server.uri) as check_client:
            db = check_client["loop"]
            assert len(history(db, execution_id)) == 11
            assert execution(db, execution_id)["logCount"] == 11

    def test_application_records_still_export_after_the_exporter_closes(
        self, mongo_uri: str, mongo_db_name: str, mongo_db: Db
    ) -> None:
        """Closing the exporter's client (pymongo logging on the calling thread) leaves that thread's records
        flowing to exporters afterwards."""
        execution_id = create_execution(mongo_db)
        pymongo_logger = logging.getLogger("pymongo")
        saved_level = pymongo_logger.level
        # Set here rather than by log_levels, which shutdown restores before the client is closed.
        pymongo_logger.setLevel(logging.DEBUG)
        try:
            pipeline = configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none")
            get_execution_logger(JOB_ID, execution_id).info("stored")
            flush(pipeline)
            otel_revops.shutdown_logging()
        finally:
            pymongo_logger.setLevel(saved_level)
        capture = CapturingExporter()
        pipeline = configure_logging(console="none", exporters=[capture])
        logging.getLogger("app").info("after the exporter closed")
        flush(pipeline)
        assert capture.count("app") == 1
        assert len(history(mongo_db, execution_id)) == 1


class TestIndexes:
    def test_indexes_and_ttl_follow_the_retention_setting(
        self, mongo_uri: str, mongo_db_name: str, mongo_db: Db
    ) -> None:
        """History indexes by execution and by job, and a TTL index whose expiry follows retention_days
        (changed in place; removed for 0)."""
        execution_id = create_execution(mongo_db)

        def run(retention_days: int) -> dict[tuple[tuple[str, int], ...], dict[str, Any]]:
            pipeline = configure_logging(
                mongodb_uri=mongo_uri,
                mongodb_database=mongo_db_name,
                console="none",
                mongodb_retention_days=retention_days,
            )
            get_execution_logger(JOB_ID, execution_id).info("retention %d", retention_days)
            flush(pipeline)
            otel_revops.shutdown_logging()
            return {tuple(index["key"].items()): dict(index) for index in mongo_db.execution_logs.list_indexes()}

        indexes = run(7)
        assert (("executionId", 1), ("timestamp", 1)) in indexes
        assert (("jobId", 1), ("timestamp", -1)) in indexes
        assert indexes[(("timestamp", 1),)]["expireAfterSeconds"] == 7 * 86_400
        assert run(3)[(("timestamp", 1),)]["expireAfterSeconds"] == 3 * 86_400
        assert "expireAfterSeconds" not in run(0)[(("timestamp", 1),)]
        assert len(history(mongo_db, execution_id)) == 3

    def test_records_older_than_the_retention_expire(self) -> None:
        """The TTL index removes history older than retention_days and keeps the rest."""
        from secantus import SecantusDBServer

        execution_id = str(ObjectId())
        old = readable_records(execution_id, 1, created=time.time() - 3 * 86_400)
        new = readable_records(execution_id, 1)
        with SecantusDBServer(port=0, storage_path=":memory:", replica_set_name=None, ttl_sweep_seconds=1) as server:
            exporter = MongoLogRecordExporter(server.uri, "ttl", retention_days=2)
            try:
                assert exporter.export(old + new) is LogRecordExportResult.SUCCESS
            finally:
                exporter.shutdown()
            client: Client = MongoClient(server.uri)
            try:
                logs = client["ttl"].execution_logs
                assert logs.count_documents({}) == 2
                wait_for(lambda: logs.count_documents({}) == 1, timeout=15, message="the old record expired")
                remaining = logs.find_one()
                assert remaining is not None
                assert remaining["timestamp"] > datetime.now(timezone.utc).replace(tzinfo=None) - timedelta(hours=1)
            finally:
                client.close()


class TestConfiguration:
    def test_no_uri_is_a_configuration_error(self) -> None:
        """Without any URI the error names both environment variables."""
        with pytest.raises(ConfigurationError, match=r"OTEL_REVOPS_MONGODB_URI.*MONGODB_URI"):
            MongoLogRecordExporter()

    def test_created_with_no_arguments_from_the_environment(
        self, mongo_uri: str, mongo_db_name: str, mongo_db: Db, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Every setting comes from OTEL_REVOPS_MONGODB_*, as auto-instrumentation creates exporters."""
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_URI", mongo_uri)
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_DATABASE", mongo_db_name)
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_EXECUTIONS_COLLECTION", "runs")
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_LOGS_COLLECTION", "run_logs")
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT", "3")
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_RETENTION_DAYS", "2")
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_UPSERT", "true")
        exporter = MongoLogRecordExporter()
        execution_id = str(ObjectId())
        try:
            assert exporter.export(readable_records(execution_id, 5)) is LogRecordExportResult.SUCCESS
        finally:
            exporter.shutdown()
        document = mongo_db.runs.find_one({"_id": ObjectId(execution_id)})
        assert document is not None
        assert [e["message"] for e in document["logs"]] == ["record 2", "record 3", "record 4"]
        assert document["logCount"] == 5
        assert mongo_db.run_logs.count_documents({}) == 5
        ttl = [i for i in mongo_db.run_logs.list_indexes() if "expireAfterSeconds" in i]
        assert [i["expireAfterSeconds"] for i in ttl] == [2 * 86_400]

    def test_mongodb_uri_fallback_and_the_uris_database(self, mongo_uri: str, monkeypatch: pytest.MonkeyPatch) -> None:
        """MONGODB_URI is used when OTEL_REVOPS_MONGODB_URI is unset; the database defaults to the URI's, else revops."""
        monkeypatch.setenv("MONGODB_URI", mongo_uri.rstrip("/") + "/crm?appname=mine")
        exporter = MongoLogRecordExporter()
        assert exporter.target.uri == mongo_uri.rstrip("/") + "/crm?appname=mine"
        assert exporter.target.database == "crm"
        assert MongoLogRecordExporter(mongo_uri).target.database == "revops"
        assert MongoLogRecordExporter(mongo_uri, "explicit").target.database == "explicit"

    def test_bad_settings_name_their_variable(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A bad value or URI raises ConfigurationError naming the setting, never showing a password."""
        monkeypatch.setenv("OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT", "0")
        with pytest.raises(ConfigurationError, match="OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT"):
            MongoLogRecordExporter("mongodb://127.0.0.1:1/")
        monkeypatch.delenv("OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT")
        with pytest.raises(ConfigurationError) as error:
            MongoLogRecordExporter("http://alice:s3cret@example.com/")
        assert "s3cret" not in str(error.value)
        assert "alice:***@" in str(error.value)

    def test_password_never_printed(self, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
        """Warnings about an unreachable server show the URI with its password masked."""
        monkeypatch.setenv("OTEL_REVOPS_RETRY_DEADLINE_MS", "300")
        exporter = MongoLogRecordExporter(
            f"mongodb://alice:s3cret@127.0.0.1:{free_port()}/app", server_selection_timeout_millis=100
        )
        try:
            assert exporter.export(readable_records(str(ObjectId()), 1)) is LogRecordExportResult.FAILURE
        finally:
            exporter.shutdown()
        err = capfd.readouterr().err
        assert "alice:***@127.0.0.1" in err
        assert "s3cret" not in err

    def test_shutdown_is_idempotent_and_export_then_fails(self, mongo_uri: str, mongo_db_name: str) -> None:
        """After shutdown() export returns FAILURE; a second shutdown() does nothing."""
        exporter = MongoLogRecordExporter(mongo_uri, mongo_db_name)
        assert exporter.export(readable_records(str(ObjectId()), 2)) is LogRecordExportResult.SUCCESS
        exporter.shutdown()
        exporter.shutdown()
        assert exporter.export(readable_records(str(ObjectId()), 1)) is LogRecordExportResult.FAILURE


class TestExit:
    def test_records_are_delivered_at_exit(self, mongo_uri: str, mongo_db_name: str, mongo_db: Db) -> None:
        """A process that logs and exits without shutting down still stores every record (the at-exit hook)."""
        execution_id = create_execution(mongo_db)
        script = (
            "import sys\n"
            "from otel_revops import configure_logging, get_execution_logger\n"
            "configure_logging(mongodb_uri=sys.argv[1], mongodb_database=sys.argv[2], console='none',\n"
            "                  export_delay_ms=60000)\n"
            "log = get_execution_logger('job-exit', sys.argv[3])\n"
            "for i in range(300):\n"
            "    log.info('at exit %d', i)\n"
        )
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        completed = subprocess.run(
            [sys.executable, "-c", script, mongo_uri, mongo_db_name, execution_id],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert completed.returncode == 0, completed.stderr
        assert execution(mongo_db, execution_id)["logCount"] == 300
        assert len(history(mongo_db, execution_id)) == 300
