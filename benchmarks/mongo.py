"""MongoDB exporter throughput, as ratios against raw pymongo on the same server in the same run.

``mongo_history_vs_insert_many``: the exporter's ``export()`` of pre-built records in 512-record
batches (building the documents, ``insert_many`` into the history, and its one update per batch
onto an execution document kept at one entry with ``embedded_limit=1``), against pymongo's
``insert_many(ordered=False)`` of the very same history documents in 512-document batches into a
collection with the same indexes. ``ratio`` = exporter records/s ÷ raw documents/s.

``mongo_full_path_100_executions``: records spread over 100 existing execution documents, both
writes (history + capped ``$push``), in 512-record batches; records/s is reported (no ratio: nothing
raw does the same work).

Absolute numbers describe SecantusDB, not MongoDB; only the ratio carries over.
"""

from __future__ import annotations

import logging
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from bson import ObjectId
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from pymongo import MongoClient
from pymongo.database import Database

from otel_revops.exporters.mongodb import MongoLogRecordExporter
from otel_revops.exporters.mongodb.documents import record_documents
from otel_revops.exporters.mongodb.indexes import apply_index_changes, history_indexes, plan_index_changes
from otel_revops.translate import to_otel_record

BATCH = 512
JOB_ID = "65a4f3b2c1d2e3f4a5b6c7d8"
PROPERTIES = {"entity": "contacts", "chunk": 3, "jitterMs": 120}
Db = Database[dict[str, Any]]


def build_records(execution_ids: list[str], count: int) -> list[ReadableLogRecord]:
    """``count`` records translated as the pipeline translates them, spread round-robin over the executions."""
    resource = Resource.create({"service.name": "revops-sync"})
    records = []
    for index in range(count):
        execution_id = execution_ids[index % len(execution_ids)]
        category = f"inngest.execution.{JOB_ID}.{execution_id}"
        record = logging.LogRecord(category, logging.INFO, __file__, 1, "Synced chunk %d", (index,), None)
        base = {"jobId": JOB_ID, "executionId": execution_id, **PROPERTIES}
        records.append(
            ReadableLogRecord(
                log_record=to_otel_record(record, base, None),
                resource=resource,
                instrumentation_scope=InstrumentationScope(category),
            )
        )
    return records


def _batches(items: list[Any]) -> list[list[Any]]:
    return [items[start : start + BATCH] for start in range(0, len(items), BATCH)]


def _timed(run: Callable[[], None]) -> float:
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _new_executions(db: Db, count: int) -> list[str]:
    ids = [ObjectId() for _ in range(count)]
    db.job_executions.insert_many([{"_id": oid, "jobId": JOB_ID, "status": "running"} for oid in ids])
    return [str(oid) for oid in ids]


def _exporter_round(client: MongoClient[dict[str, Any]], records_count: int, executions: int, limit: int) -> float:
    """Records/s of the exporter writing ``records_count`` fresh records over ``executions`` executions."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    db = client[name]
    try:
        execution_ids = _new_executions(db, executions)
        exporter = MongoLogRecordExporter(database=name, client=client, embedded_limit=limit)
        exporter.export(build_records(execution_ids, 10))  # indexes, first connection
        batches = _batches(build_records(execution_ids, records_count))
        results: list[LogRecordExportResult] = []

        def export_all() -> None:
            for batch in batches:
                results.append(exporter.export(batch))

        seconds = _timed(export_all)
        stats = exporter.stats()
        exporter.shutdown()
        stored = db.execution_logs.count_documents({})
        if stored != records_count + 10 or set(results) != {LogRecordExportResult.SUCCESS} or stats["refused"]:
            raise RuntimeError(f"the exporter did not store every record: {stored} stored, {stats}")
        return records_count / seconds
    finally:
        client.drop_database(name)


def _insert_many_round(client: MongoClient[dict[str, Any]], records_count: int) -> float:
    """Documents/s of raw ``insert_many`` of the exporter's own history documents, same indexes."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    collection = client[name].execution_logs
    try:
        apply_index_changes(collection, plan_index_changes({}, history_indexes(30)))  # the exporter's own
        warm = [d.history for r in build_records([str(ObjectId())], 10) if (d := record_documents(r))]
        collection.insert_many(warm, ordered=False)
        records = build_records([str(ObjectId())], records_count)
        documents = [d.history for r in records if (d := record_documents(r)) is not None]
        batches = _batches(documents)

        def insert_all() -> None:
            for batch in batches:
                collection.insert_many(batch, ordered=False)

        seconds = _timed(insert_all)
        return len(documents) / seconds
    finally:
        client.drop_database(name)


def run(uri: str, quick: bool) -> dict[str, dict[str, float]]:
    """Both scenarios against the server at ``uri``; rounds alternate exporter and baseline, medians kept."""
    # SecantusDB inserts and drops indexed documents at ~1 ms each: sizes keep --quick under a minute.
    records, rounds = (1_024, 2) if quick else (8_192, 3)
    full_records = 1_024 if quick else 8_192
    client: MongoClient[dict[str, Any]] = MongoClient(uri, serverSelectionTimeoutMS=10_000, appname="otel-revops-bench")
    try:
        exporter_rates: list[float] = []
        baseline_rates: list[float] = []
        for _ in range(rounds):
            exporter_rates.append(_exporter_round(client, records, executions=1, limit=1))
            baseline_rates.append(_insert_many_round(client, records))
        full_rates = [
            _exporter_round(client, full_records, executions=100, limit=1000) for _ in range(max(1, rounds - 2))
        ]
    finally:
        client.close()
    exporter_rate = statistics.median(exporter_rates)
    baseline_rate = statistics.median(baseline_rates)
    return {
        "mongo_history_vs_insert_many": {
            "records_per_s": round(exporter_rate),
            "baseline_records_per_s": round(baseline_rate),
            "ratio": round(exporter_rate / baseline_rate, 2),
        },
        "mongo_full_path_100_executions": {"records_per_s": round(statistics.median(full_rates))},
    }


if __name__ == "__main__":
    import sys

    for scenario, figures in run(sys.argv[1], "--quick" in sys.argv).items():
        print(scenario, figures)
