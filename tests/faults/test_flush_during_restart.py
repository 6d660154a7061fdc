"""A batch job flushes before it exits while MongoDB restarts: ``force_flush(timeout)`` keeps trying
until its deadline, so a server back within it gets everything and the call says so."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import (
    AppProcess,
    FigureRecorder,
    check_executions,
    close_quietly,
    connect,
    create_executions,
    tally,
)
from tests.support.mongo_server import MongoServer

RECORDS = 2000
FLUSH_TIMEOUT_MS = 60_000


def test_force_flush_outlasts_a_restart_within_its_timeout(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """Records wait in the queue, the server dies, force_flush(60 s) starts, the server is back after the
    first failed attempt: the call returns True and every record is stored once."""
    client = connect(fault_server.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, 4)
        app = AppProcess(
            "writer.py",
            ["--uri", fault_server.uri, "--database", "faults", "--spool-dir", str(tmp_path / "spool"),
             "--executions", ",".join(executions), "--count", str(RECORDS), "--export-delay-ms", "600000",
             "--max-queue-size", "100000", "--retry-deadline-ms", "500",
             "--flush-timeout-ms", str(FLUSH_TIMEOUT_MS), "--flush-on-stdin"],
            stderr_path=tmp_path / "writer.stderr",
            stdin=True,
        )
        try:
            app.wait_event("waiting", 60)
            fault_server.kill()
            app.send_line()
            app.wait_for(lambda: "did not take a batch" in app.stderr(), 60, "no failed attempt while the server was down")
            fault_server.restart()
            done = app.finish(FLUSH_TIMEOUT_MS / 1000 + 60)
        finally:
            app.kill()
        counted = tally(db, [range(RECORDS)])
        check = check_executions(db, executions)
        figures.record(
            "force-flush-during-restart",
            **counted.row(),
            rss_growth_mb=None,
            flushed=done["flushed"],
            flush_seconds=done["flush_seconds"],
            stored_when_flush_returned=done["stats_after_flush"]["exporters"]["MongoLogRecordExporter"]["exported"],
        )
        assert done["flushed"], f"force_flush gave up after {done['flush_seconds']} s of {FLUSH_TIMEOUT_MS / 1000} s"
        assert (counted.lost, counted.duplicated) == (0, 0)
        assert check.mismatched == {}
    finally:
        close_quietly(client)
