"""One ``execution_context`` object entered by many threads and tasks at once: every record inside is
stored under its execution, nothing raises, and no thread stays bound to the execution afterwards."""

from __future__ import annotations

from pathlib import Path

from bson import ObjectId

from tests.faults.harness import (
    AppProcess,
    Db,
    FigureRecorder,
    check_executions,
    create_executions,
    run_to_end,
    tally,
)
from tests.support.mongo_server import MongoServer

WORKERS = 10
RECORDS = 50


def test_one_context_object_entered_concurrently(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """10 threads and 10 tasks inside one context object: 1,000 stored, 0 errors, 0 records tagged afterwards."""
    (execution,) = create_executions(faults_db, 1)
    app = AppProcess(
        "shared_context.py",
        [
            "--uri",
            fault_server.uri,
            "--database",
            "faults",
            "--execution",
            execution,
            "--workers",
            str(WORKERS),
            "--records",
            str(RECORDS),
        ],
        stderr_path=tmp_path / "shared.stderr",
    )
    done = run_to_end(app, 120)
    inside, outside = int(done["inside"]), int(done["outside"])
    counted = tally(faults_db, [range(inside)])
    in_execution = faults_db.execution_logs.count_documents({"executionId": ObjectId(execution)})
    figures.record(
        "one-context-object-10-threads-10-tasks",
        **counted.row(),
        rss_growth_mb=None,
        errors=len(done["errors"]),
        threads_left_bound=len(done["left_bound"]),
        outside_records_stored=counted.unexpected,
    )
    assert done["errors"] == [], done["errors"][:3]
    assert done["left_bound"] == [] and done["main_bound"] == {}, "a thread kept the execution bound"
    assert done["flushed"], done["stats"]
    assert (counted.lost, counted.duplicated) == (0, 0), counted.missing[:20]
    # Records logged outside the context carry no execution: none of them is stored as its history.
    assert counted.unexpected == 0 and in_execution == inside
    assert done["stats"]["exporters"]["MongoLogRecordExporter"]["destination"]["filtered"] == outside
    assert check_executions(faults_db, [execution]).mismatched == {}
