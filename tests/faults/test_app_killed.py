"""The application is SIGKILLed mid-run and started again on the same spool directory: what reached
the spool is stored, exactly once, and what is lost is only the newest records, no more than the
flush window held in memory — with MongoDB down at the kill (records going to the spool) and up."""

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
    tally,
)
from tests.support.mongo_server import MongoServer

RATE = 500
RETRY_DEADLINE_MS = 1000
EXPORT_DELAY_MS = 200
SERVER_SELECTION_MS = 2000
FORWARDER_DELAY_MS = 200
# Allowance for the batch being written when the process dies (a few hundred records at this pace).
EXPORT_MS = 1000
SCHEDULING_SLACK_MS = 500
RESTARTED_START = 10_000_000
RESTARTED_COUNT = 200


@dataclass(frozen=True)
class Kill:
    """One variant: whether MongoDB is down when the application is killed, and the flush window then."""

    case: str
    server_down: bool
    flush_window_ms: int


# While the server is away a record waits in memory for one export attempt (the retry deadline, but
# at least the client's 2 s server selection), the processor's batch delay and the forwarder's hand-off.
DOWN = Kill(
    "app-sigkill-while-spooling",
    True,
    max(RETRY_DEADLINE_MS, SERVER_SELECTION_MS) + EXPORT_DELAY_MS + FORWARDER_DELAY_MS,
)
# While it is up: the batch delay, the hand-off and the export in progress.
UP = Kill("app-sigkill-while-exporting", False, EXPORT_DELAY_MS + FORWARDER_DELAY_MS + EXPORT_MS)


@pytest.mark.parametrize("variant", [DOWN, UP], ids=lambda v: v.case)
def test_sigkill_then_restart_on_the_same_spool(
    variant: Kill, fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """Loss ≤ records logged within the flush window before the kill, all of them the newest; 0 duplicated."""
    server = fault_server
    client = connect(server.uri)
    db = client["faults"]
    try:
        executions = create_executions(db, 20)
        spool = tmp_path / "spool"
        common = ["--uri", server.uri, "--database", "faults", "--spool-dir", str(spool)]
        common += ["--executions", ",".join(executions)]
        first = AppProcess(
            "writer.py",
            [*common, "--count", "10000000", "--rate", str(RATE), "--progress-every", "1",
             "--retry-deadline-ms", str(RETRY_DEADLINE_MS), "--export-delay-ms", str(EXPORT_DELAY_MS)],
            stderr_path=tmp_path / "first.stderr",
        )
        try:
            first.wait_for(lambda: first.logged() >= 500, 60, "too slow to start")
            if variant.server_down:
                server.kill()
            kill_at = first.logged() + 1500
            first.wait_for(
                lambda: first.logged() >= kill_at and (len(spool_files(spool)) >= 3 or not variant.server_down),
                60,
                "records did not reach the spool while the server was down",
            )
            killed_at = time.monotonic()
        finally:
            first.kill()
        progress = first.events("logged")
        reported = int(progress[-1]["count"])
        window_start = killed_at - (variant.flush_window_ms + SCHEDULING_SLACK_MS) / 1000
        bound = sum(1 for event in progress if event["t"] >= window_start)
        spooled_at_kill = len(spool_files(spool))

        if variant.server_down:
            server.restart()
        second = AppProcess(
            "writer.py",
            [*common, "--count", str(RESTARTED_COUNT), "--start", str(RESTARTED_START), "--writer", "w1"],
            stderr_path=tmp_path / "second.stderr",
        )
        try:
            done = second.finish(180)
        finally:
            second.kill()

        # A record logged in the instant between its logging call and its progress line counts as sent.
        unreported = db.execution_logs.count_documents({"metadata.n": {"$gte": reported, "$lt": RESTARTED_START}})
        sent_first = reported + unreported
        counted = tally(db, [range(sent_first), range(RESTARTED_START, RESTARTED_START + RESTARTED_COUNT)])
        check = check_executions(db, executions)
        first_rss = max(int(e["rss_kb"]) for e in progress) - int(first.events("ready")[0]["rss_kb"])
        figures.record(
            variant.case,
            **counted.row(),
            rss_growth_mb=round(max(first_rss / 1024, rss_growth_mb([done])), 1),
            loss_bound=bound,
            flush_window_ms=variant.flush_window_ms,
            rate_per_s=RATE,
            spool_files_at_kill=spooled_at_kill,
            replayed_by_restart=done["stats"]["exporters"]["MongoLogRecordExporter"]["replayed"],
            log_count_total=check.log_count_total,
            history_without_execution_entry=sum(h - c for c, h in check.mismatched.values()),
        )
        assert done["flushed"], done["stats"]
        assert counted.duplicated == 0
        assert counted.unexpected == 0
        assert counted.lost <= bound, f"lost {counted.lost} > {bound} logged within the flush window"
        # Only the newest records of the killed process can be missing.
        assert all(n >= sent_first - bound for n in counted.missing), counted.missing[:20]
        if variant.server_down:
            # The spool keeps the order: exactly a tail is missing.
            assert counted.missing == list(range(sent_first - counted.lost, sent_first))
        # A kill between a batch's history insert and its execution update leaves that batch in the history
        # only (the server may die between the two as well): the execution documents may miss up to the
        # window's records, never hold extra.
        assert all(log <= stored for log, stored in check.mismatched.values()), check.mismatched
        assert sum(stored - log for log, stored in check.mismatched.values()) <= bound
        assert spool_files(spool) == []
    finally:
        close_quietly(client)
