"""An application exits in the middle of a burst, before its shutdown deadline lets it deliver
everything: what is left waits in the spool and the next process started on it delivers it —
nothing lost, nothing stored twice, no execution entry pushed twice."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import (
    AppProcess,
    FigureRecorder,
    check_executions,
    close_quietly,
    connect,
    create_executions,
    spool_files,
    tally,
)
from tests.support.mongo_server import MongoServer

RECORDS = 10_000
SHUTDOWN_TIMEOUT_MS = 2000
NEXT_START = 10_000_000
NEXT_COUNT = 100


def test_exit_before_delivery_then_next_process_delivers_the_rest(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """10,000 records, a 2 s shutdown deadline at exit, then a second process: 0 lost, 0 duplicated, logCount exact."""
    client = connect(fault_server.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, 20)
        spool = tmp_path / "spool"
        common = ["--uri", fault_server.uri, "--database", "faults", "--spool-dir", str(spool)]
        common += ["--executions", ",".join(executions)]
        first = AppProcess(
            "writer.py",
            [*common, "--count", str(RECORDS), "--exit-without-flush", "--shutdown-timeout-ms", str(SHUTDOWN_TIMEOUT_MS)],
            stderr_path=tmp_path / "first.stderr",
        )
        try:
            first.finish(120, event="exiting")
        finally:
            first.kill()
        stored_at_exit = db.execution_logs.count_documents({})
        left_in_spool = len(spool_files(spool))
        second = AppProcess(
            "writer.py",
            [*common, "--count", str(NEXT_COUNT), "--start", str(NEXT_START), "--writer", "w1"],
            stderr_path=tmp_path / "second.stderr",
        )
        try:
            done = second.finish(300)
        finally:
            second.kill()
        counted = tally(db, [range(RECORDS), range(NEXT_START, NEXT_START + NEXT_COUNT)])
        check = check_executions(db, executions)
        figures.record(
            "exit-with-backlog-10k (shutdown deadline 2 s)",
            **counted.row(),
            rss_growth_mb=None,
            stored_by_first_process=stored_at_exit,
            spool_files_at_exit=left_in_spool,
            replayed_by_next_process=done["stats"]["exporters"]["MongoLogRecordExporter"]["replayed"],
            log_count_total=check.log_count_total,
        )
        assert left_in_spool > 0, "the first process was meant to leave records in the spool"
        assert done["flushed"], done["stats"]
        assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
        assert check.mismatched == {}, "logCount differs from the stored records"
        assert spool_files(spool) == []
    finally:
        close_quietly(client)
