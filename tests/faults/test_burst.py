"""A burst far faster than MongoDB stores: the calling thread is held back (bounded wait) when the
forwarder's queue is full and the processor overflows to the disk spool, so nothing is lost or
duplicated and memory stays bounded by the queue sizes, not by the number of records."""

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
    spool_records,
    tally,
)
from tests.support.mongo_server import MongoServer


@dataclass(frozen=True)
class Burst:
    """One variant: records logged as fast as the calling thread can, the queue sizes, the memory bound."""

    case: str
    records: int
    queue_size: int | None
    rss_bound_mb: float
    executions: int
    finish_timeout: float


# Small queues make the short burst go through both the caller's bounded wait and the spool overflow.
SMALL = Burst("burst-10k (queues 2,000)", 10_000, 2000, 16, 20, 240)
# The library's defaults: 20,000 records in the forwarder's queue and 20,000 in the processor's.
# Five executions: SecantusDB re-encodes a whole execution document on each $push (see the outage case).
LARGE = Burst("burst-1M", 1_000_000, None, 64, 5, 3600)


def run_burst(variant: Burst, server: MongoServer, tmp_path: Path, figures: FigureRecorder) -> None:
    """Log the burst, let the application flush and exit, count what MongoDB stored."""
    client = connect(server.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, variant.executions)
        spool = tmp_path / "spool"
        arguments = ["--uri", server.uri, "--database", "faults", "--spool-dir", str(spool)]
        arguments += ["--executions", ",".join(executions), "--count", str(variant.records)]
        arguments += ["--flush-timeout-ms", str(int(variant.finish_timeout * 1000))]
        if variant.queue_size is not None:
            arguments += ["--max-queue-size", str(variant.queue_size)]
        app = AppProcess("writer.py", arguments, stderr_path=tmp_path / "writer.stderr")
        try:
            done = app.finish(variant.finish_timeout + 60)
        finally:
            app.kill()
        counted = tally(db, [range(variant.records)])
        check = check_executions(db, executions)
        stats = done["stats"]
        exporter = stats["exporters"]["MongoLogRecordExporter"]
        growth = rss_growth_mb([done])
        figures.record(
            variant.case,
            **counted.row(),
            rss_growth_mb=growth,
            rss_bound_mb=variant.rss_bound_mb,
            logged_seconds=done["logged_seconds"],
            flush_seconds=round(done["seconds"] - done["logged_seconds"], 1),
            overflowed_to_spool=exporter["held"],
            dropped_by_spool_bound=exporter.get("spool_dropped", 0),
            left_in_spool=spool_records(spool),
            forwarder_dropped=stats["forwarder"]["dropped"],
            log_count_total=check.log_count_total,
        )
        assert done["flushed"], stats
        assert stats["forwarder"]["dropped"] == 0
        assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
        assert check.mismatched == {}, "logCount differs from the stored records"
        assert spool_files(spool) == []
        assert growth <= variant.rss_bound_mb
        if variant.queue_size is not None:
            assert exporter["held"] > 0, "the burst was meant to overflow the small queue into the spool"
    finally:
        close_quietly(client)


def test_burst_loses_nothing_and_stays_bounded(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """10,000 records at full speed through 2,000-record queues: 0 lost, 0 duplicated, bounded memory."""
    run_burst(SMALL, fault_server, tmp_path, figures)


@pytest.mark.soak
@pytest.mark.timeout(5400)
def test_one_million_record_burst(fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder) -> None:
    """The issue's long variant with the default settings: 1,000,000 records at full speed, peak RSS growth ≤ 64 MB."""
    run_burst(LARGE, fault_server, tmp_path, figures)
