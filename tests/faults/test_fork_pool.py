"""A ``multiprocessing`` pool started with fork, closed and joined: the records its workers logged
are all stored, once, although workers leave through ``os._exit``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.faults.harness import (
    AppProcess,
    Db,
    FigureRecorder,
    check_executions,
    create_executions,
    rss_growth_mb,
    run_to_end,
    spool_files,
    tally,
)
from tests.support.mongo_server import MongoServer

PARENT_RECORDS = 100
TASKS = 8
RECORDS_PER_TASK = 250


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_fork_pool_workers_records_are_stored_once(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """Parent + 4 fork workers × 8 tasks × 250 records: 0 lost, 0 duplicated, logCount exact."""
    executions = create_executions(faults_db, 4)
    spool = tmp_path / "spool"
    app = AppProcess(
        "pool_writer.py",
        [
            "--uri",
            fault_server.uri,
            "--database",
            "faults",
            "--spool-dir",
            str(spool),
            "--executions",
            ",".join(executions),
            "--parent-records",
            str(PARENT_RECORDS),
            "--workers",
            "4",
            "--tasks",
            str(TASKS),
            "--records-per-task",
            str(RECORDS_PER_TASK),
        ],
        stderr_path=tmp_path / "pool.stderr",
    )
    done = run_to_end(app, 240)
    total = PARENT_RECORDS + TASKS * RECORDS_PER_TASK
    counted = tally(faults_db, [range(total)])
    check = check_executions(faults_db, executions)
    writers = faults_db.execution_logs.distinct("metadata.writer")
    figures.record(
        "fork-pool-4-workers",
        **counted.row(),
        rss_growth_mb=rss_growth_mb([done]),
        worker_pids=len(done["worker_pids"]),
        writers_seen=len(writers),
        log_count_total=check.log_count_total,
    )
    assert done["parent_flushed"] and done["flushed"], done["stats"]
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
    assert check.mismatched == {}, "logCount differs from the stored records"
    # The parent and at least one worker wrote: the records really crossed the fork.
    assert len(writers) >= 2
    assert spool_files(spool) == []


@pytest.mark.parametrize("start_method", ["fork", "forkserver", "spawn"])
def test_pool_left_by_its_with_block_delivers_every_record(
    start_method: str, fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """``with Pool(4) as pool: pool.map(...)`` terminates the workers: their 400 records are stored all the same."""
    executions = create_executions(faults_db, 4)
    spool = tmp_path / "spool"
    app = AppProcess(
        "pool_writer.py",
        ["--uri", fault_server.uri, "--database", "faults", "--spool-dir", str(spool),
         "--executions", ",".join(executions), "--parent-records", "1", "--workers", "4",
         "--tasks", "4", "--records-per-task", "100", "--start-method", start_method, "--leave", "with"],
        stderr_path=tmp_path / "pool.stderr",
    )  # fmt: skip
    done = run_to_end(app, 240)
    counted = tally(faults_db, [range(401)])
    check = check_executions(faults_db, executions)
    figures.record(
        f"pool-with-block-{start_method}",
        **counted.row(),
        rss_growth_mb=None,
        worker_pids=len(done["worker_pids"]),
        spooled_left=len(spool_files(spool)),
    )
    assert done["flushed"], done["stats"]
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
    assert check.mismatched == {}, "logCount differs from the stored records"
    assert spool_files(spool) == []
