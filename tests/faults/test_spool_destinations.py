"""Two applications of one service share the default spool directory but write to different MongoDB
destinations: what one of them spooled must never be replayed into the other's database."""

from __future__ import annotations

from pathlib import Path

from tests.faults.harness import (
    AppProcess,
    FigureRecorder,
    close_quietly,
    connect,
    create_executions,
    spool_records,
    tally,
)
from tests.support.mongo_server import MongoServer, free_port

COUNT = 200
OTHER_START = 1_000_000


def test_spooled_batches_go_back_to_their_own_destination(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """A process whose server is unreachable spools its records; a process of the same service writing
    to another database replays the spool: its database must hold its own records only."""
    client = connect(fault_server.uri)
    db = client["other"]
    try:
        executions = create_executions(db, 2)
        spool = tmp_path / "spool"
        unreachable = f"mongodb://127.0.0.1:{free_port()}/"
        first = AppProcess(
            "writer.py",
            ["--uri", unreachable, "--database", "first", "--spool-dir", str(spool), "--executions",
             ",".join(executions), "--count", str(COUNT), "--retry-deadline-ms", "0", "--exit-without-flush",
             "--shutdown-timeout-ms", "3000"],
            stderr_path=tmp_path / "first.stderr",
        )
        try:
            first.finish(120, event="exiting")
        finally:
            first.kill()
        spooled = spool_records(spool)
        second = AppProcess(
            "writer.py",
            ["--uri", fault_server.uri, "--database", "other", "--spool-dir", str(spool), "--executions",
             ",".join(executions), "--count", str(COUNT), "--start", str(OTHER_START)],
            stderr_path=tmp_path / "second.stderr",
        )
        try:
            second.finish(120)
        finally:
            second.kill()
        counted = tally(db, [range(OTHER_START, OTHER_START + COUNT)])
        figures.record(
            "spool-shared-by-two-destinations",
            **counted.row(),
            rss_growth_mb=None,
            spooled_for_unreachable_destination=spooled,
            written_to_the_wrong_database=counted.unexpected,
        )
        assert spooled == COUNT, "the first process was meant to spool everything"
        assert (counted.lost, counted.duplicated) == (0, 0)
        assert counted.unexpected == 0, f"{counted.unexpected} records of another destination were stored here"
    finally:
        close_quietly(client)
