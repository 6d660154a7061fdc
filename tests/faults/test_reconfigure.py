"""``configure_logging()`` called again while other threads log: no record is lost through the swap.

The first pipeline still holds a backlog of 15,000 records when the second is configured; a thread
logs every millisecond before, during and after the swap. Every record of both threads is stored
once, and the execution's ``logCount`` equals its history.
"""

from __future__ import annotations

from pathlib import Path

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

BURST = 15_000
AFTER = 1000


def test_reconfiguring_under_load_loses_nothing(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """A 15,000-record backlog and a thread logging every millisecond through the swap: 0 lost, 0 duplicated."""
    (execution,) = create_executions(faults_db, 1)
    app = AppProcess(
        "reconfigure_writer.py",
        [
            "--uri",
            fault_server.uri,
            "--database",
            "faults",
            "--execution",
            execution,
            "--burst",
            str(BURST),
            "--after",
            str(AFTER),
        ],
        stderr_path=tmp_path / "reconfigure.stderr",
        OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT="100",
    )
    done = run_to_end(app, 300)
    thread_start, thread_logged = int(done["thread_start"]), int(done["thread_logged"])
    counted = tally(faults_db, [range(BURST), range(thread_start, thread_start + thread_logged)])
    thread_lost = sum(1 for n in counted.missing if n >= thread_start)
    check = check_executions(faults_db, [execution])
    figures.record(
        "reconfigure-under-load",
        **counted.row(),
        rss_growth_mb=None,
        thread_logged=thread_logged,
        thread_lost=thread_lost,
        reconfigure_seconds=done["reconfigure_seconds"],
        log_count=check.log_count_total,
    )
    assert thread_logged > AFTER, "the thread was meant to log through the swap"
    assert done["flushed"], done["stats"]
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
    assert check.mismatched == {}, "logCount differs from the stored records"
