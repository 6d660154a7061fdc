"""MongoDB is killed (SIGKILL) while an application logs, and restarted on the same storage: every
record is stored exactly once, and every execution's ``logCount`` equals its records."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.faults.harness import (
    AppProcess,
    FigureRecorder,
    check_executions,
    close_quietly,
    connect,
    create_executions,
    rss_growth_mb,
    spool_files,
    spool_records,
    tally,
)
from tests.support.mongo_server import MongoServer


@dataclass(frozen=True)
class Outage:
    """One variant: how many records, how fast, when the server dies and for how long."""

    case: str
    records: int
    rate: float
    killed_after: int
    down_seconds: float
    retry_deadline_ms: int | None
    executions: int
    finish_timeout: float


SHORT = Outage("mongodb-outage-3s", 6000, 1000, 1500, 3, 1000, 20, 180)
# Five executions: SecantusDB re-encodes a whole execution document on each $push, so long runs
# spread over many capped (1,000-entry) documents measure its encoder more than this library.
LONG = Outage("mongodb-outage-30s-100k", 100_000, 1000, 20_000, 30, None, 5, 900)


def run_outage(variant: Outage, server: MongoServer, tmp_path: Path, figures: FigureRecorder) -> None:
    """Log ``variant.records`` at a steady pace, kill the server mid-run, restart it, count what was stored."""
    client = connect(server.uri)
    database = "faults"
    db = client[database]
    try:
        executions = create_executions(db, variant.executions)
        spool = tmp_path / "spool"
        arguments = [
            "--uri", server.uri, "--database", database, "--spool-dir", str(spool),
            "--executions", ",".join(executions), "--count", str(variant.records),
            "--rate", str(variant.rate), "--progress-every", "100",
            "--flush-timeout-ms", str(int(variant.finish_timeout * 1000)),
        ]
        if variant.retry_deadline_ms is not None:
            arguments += ["--retry-deadline-ms", str(variant.retry_deadline_ms)]
        app = AppProcess("writer.py", arguments, stderr_path=tmp_path / "writer.stderr")
        try:
            app.wait_for(lambda: app.logged() >= variant.killed_after, 120, "too slow to reach the kill point")
            server.kill()
            killed_at, logged_at_kill = time.monotonic(), app.logged()
            # The application's own pace is the clock: the server stays down while it logs this many records.
            down_until = logged_at_kill + int(variant.down_seconds * variant.rate)
            app.wait_for(lambda: app.logged() >= down_until, variant.down_seconds * 4 + 60, "stalled while down")
            spooled_while_down = len(spool_files(spool))
            server.restart()
            down_seconds = round(time.monotonic() - killed_at, 1)
            done = app.finish(variant.finish_timeout + 120)
        finally:
            app.kill()
        counted = tally(db, [range(variant.records)])
        check = check_executions(db, executions)
        left_in_spool = spool_records(spool)
        exporter = done["stats"]["exporters"]["MongoLogRecordExporter"]
        figures.record(
            variant.case,
            **counted.row(),
            rss_growth_mb=rss_growth_mb([done]),
            left_in_spool=left_in_spool,
            down_seconds=down_seconds,
            logged_while_down=down_until - logged_at_kill,
            spool_files_while_down=spooled_while_down,
            log_count_total=check.log_count_total,
            log_count_excess=sum(log - stored for log, stored in check.mismatched.values()),
            executions_pushed_twice=len(check.mismatched),
            app_counts={k: exporter[k] for k in ("held", "replayed", "failed_attempts", "dropped_queue_full")},
        )
        assert done["flushed"], done["stats"]
        assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
        assert check.mismatched == {}, "logCount differs from the stored records"
        assert check.log_count_total == variant.records
        assert left_in_spool == 0
        if variant.retry_deadline_ms is not None and variant.retry_deadline_ms < variant.down_seconds * 1000:
            assert spooled_while_down > 0, "the outage outlasted the retry deadline: batches belong in the spool"
    finally:
        close_quietly(client)


def test_mongodb_killed_for_seconds_loses_and_duplicates_nothing(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """A 3 s outage (longer than the 1 s retry deadline, so batches go through the spool): 0 lost, 0 duplicated."""
    run_outage(SHORT, fault_server, tmp_path, figures)


@pytest.mark.soak
@pytest.mark.timeout(1800)
def test_mongodb_killed_for_30s_during_100k_records(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """The issue's long variant with the default settings: 100,000 records, MongoDB down for 30 s."""
    run_outage(LONG, fault_server, tmp_path, figures)
