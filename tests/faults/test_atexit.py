"""Records logged by the application's own exit handlers, which run after otel-revops' exit hook:
delivered all the same (written at once), never silently lost."""

from __future__ import annotations

from pathlib import Path

from tests.faults.apps.atexit_logger import AT_EXIT_BASE
from tests.faults.harness import (
    AppProcess,
    Db,
    FigureRecorder,
    check_executions,
    create_executions,
    run_to_end,
    spool_records,
    tally,
)
from tests.support.mongo_server import MongoServer

RECORDS = 100
AT_EXIT = 100


def test_records_from_an_earlier_registered_exit_handler_are_stored(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """100 records from main, 100 from an exit handler registered before the import: 200 stored, none spooled."""
    (execution,) = create_executions(faults_db, 1)
    spool = tmp_path / "spool"
    app = AppProcess(
        "atexit_logger.py",
        [
            "--uri",
            fault_server.uri,
            "--database",
            "faults",
            "--execution",
            execution,
            "--spool-dir",
            str(spool),
            "--records",
            str(RECORDS),
            "--at-exit",
            str(AT_EXIT),
        ],
        stderr_path=tmp_path / "atexit.stderr",
    )
    run_to_end(app, 120)
    counted = tally(faults_db, [range(RECORDS), range(AT_EXIT_BASE, AT_EXIT_BASE + AT_EXIT)])
    figures.record(
        "atexit-handler-registered-before-import",
        **counted.row(),
        rss_growth_mb=None,
        spooled=spool_records(spool),
    )
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
    assert spool_records(spool) == 0
    assert check_executions(faults_db, [execution]).mismatched == {}
