"""An execution document's ``logs`` holds the newest entries whatever order their batches arrive in.

Older records can reach MongoDB after newer ones: an application spools them during an outage and
a later process replays them once newer records of the same execution are stored. The embedded
list is capped (``mongodb_embedded_limit``); it must still hold the newest records by timestamp,
never the ones that happened to be pushed last.
"""

from __future__ import annotations

from pathlib import Path

from bson import ObjectId

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

EMBEDDED_LIMIT = 50
OLD = 300  # logged while the server is down, replayed last
NEW = 300  # logged afterwards by another process, stored first
LAST = 1  # logged by the replaying process


def _writer(
    server: MongoServer, spool: Path, execution: str, start: int, count: int, tmp: Path, name: str
) -> AppProcess:
    arguments = [
        "--uri", server.uri, "--database", "faults", "--spool-dir", str(spool), "--executions", execution,
        "--count", str(count), "--start", str(start), "--writer", name, "--retry-deadline-ms", "300",
        "--shutdown-timeout-ms", "3000", "--flush-timeout-ms", "3000",
    ]  # fmt: skip
    return AppProcess(
        "writer.py",
        arguments,
        stderr_path=tmp / f"{name}.stderr",
        OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT=str(EMBEDDED_LIMIT),
    )


def test_replayed_older_batches_do_not_push_newer_entries_out(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """300 old records spooled, 300 newer stored, then the old ones replayed: ``logs`` is the newest 50."""
    (execution,) = create_executions(faults_db, 1)
    old_spool, new_spool = tmp_path / "old-spool", tmp_path / "new-spool"
    fault_server.kill()
    run_to_end(_writer(fault_server, old_spool, execution, 0, OLD, tmp_path, "old"), 120)
    spooled = spool_records(old_spool)
    fault_server.start()
    run_to_end(_writer(fault_server, new_spool, execution, OLD, NEW, tmp_path, "new"), 120)
    done = run_to_end(_writer(fault_server, old_spool, execution, OLD + NEW, LAST, tmp_path, "replay"), 120)

    total = OLD + NEW + LAST
    counted = tally(faults_db, [range(total)])
    document = faults_db.job_executions.find_one({"_id": ObjectId(execution)}) or {}
    embedded = [entry["metadata"]["n"] for entry in document.get("logs", [])]
    newest = list(range(total - EMBEDDED_LIMIT, total))
    figures.record(
        "embedded-logs-newest-after-late-replay",
        **counted.row(),
        rss_growth_mb=None,
        spooled_while_down=spooled,
        embedded_entries=len(embedded),
        embedded_oldest_n=min(embedded, default=None),
        embedded_newest_missing=len(set(newest) - set(embedded)),
        log_count=check_executions(faults_db, [execution]).log_count_total,
    )
    assert spooled == OLD, "the first process was meant to leave its records in the spool"
    assert done["flushed"], done["stats"]
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
    assert sorted(embedded) == newest, f"logs holds n {sorted(embedded)[:5]}…, not the newest {EMBEDDED_LIMIT}"
    assert embedded == sorted(embedded), "logs is not in timestamp order"
    assert check_executions(faults_db, [execution]).mismatched == {}
