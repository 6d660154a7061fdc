"""Many application processes log into the same executions on one server, sharing one spool
directory (as processes of one service on one host do): every record is stored exactly once."""

from __future__ import annotations

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
    tally,
)
from tests.support.mongo_server import MongoServer


@dataclass(frozen=True)
class Fleet:
    """One variant: how many processes, and how many records each logs at full speed."""

    case: str
    processes: int
    records_each: int
    executions: int
    finish_timeout: float


SMALL = Fleet("concurrent-4x1000", 4, 1000, 20, 240)
# Five executions: SecantusDB re-encodes a whole execution document on each $push (see the outage case).
LARGE = Fleet("concurrent-8x20k", 8, 20_000, 5, 3600)


def run_fleet(variant: Fleet, server: MongoServer, tmp_path: Path, figures: FigureRecorder) -> None:
    """Start every process at once, wait for all of them, count what MongoDB stored."""
    client = connect(server.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, variant.executions)
        spool = tmp_path / "spool"
        apps = []
        try:
            for index in range(variant.processes):
                arguments = ["--uri", server.uri, "--database", "faults", "--spool-dir", str(spool)]
                arguments += ["--executions", ",".join(executions), "--count", str(variant.records_each)]
                arguments += ["--start", str(index * variant.records_each), "--writer", f"w{index}"]
                arguments += ["--flush-timeout-ms", str(int(variant.finish_timeout * 1000))]
                apps.append(AppProcess("writer.py", arguments, stderr_path=tmp_path / f"w{index}.stderr"))
            done = [app.finish(variant.finish_timeout + 60) for app in apps]
        finally:
            for app in apps:
                app.kill()
        total = variant.processes * variant.records_each
        counted = tally(db, [range(total)])
        check = check_executions(db, executions)
        figures.record(
            variant.case,
            **counted.row(),
            rss_growth_mb=rss_growth_mb(done),
            processes=variant.processes,
            slowest_process_seconds=max(d["seconds"] for d in done),
            log_count_total=check.log_count_total,
        )
        assert all(d["flushed"] for d in done), [d["stats"] for d in done]
        assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
        assert check.mismatched == {}, "logCount differs from the stored records"
        assert check.log_count_total == total
        assert spool_files(spool) == []
    finally:
        close_quietly(client)


def test_concurrent_processes_store_every_record_once(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """4 processes × 1,000 records into the same 20 executions: 0 lost, 0 duplicated, logCount exact."""
    run_fleet(SMALL, fault_server, tmp_path, figures)


@pytest.mark.soak
@pytest.mark.timeout(5400)
def test_eight_processes_twenty_thousand_each(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """The long variant: 8 processes × 20,000 records."""
    run_fleet(LARGE, fault_server, tmp_path, figures)
