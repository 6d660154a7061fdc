"""A spool holding files that cannot be read — wrong-shape lines, a directory named like a batch, a
file that is not gzip, a truncated one, bad lines inside a good batch — and a disk that fills up.

Every damaged file is moved into ``quarantine/``, counted in ``stats()`` and reported once on stderr;
everything else is delivered, by this process and by the next one; a write that fails leaves no
temporary file behind.
"""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

from tests.faults.harness import (
    AppProcess,
    Db,
    FigureRecorder,
    check_executions,
    create_executions,
    run_to_end,
    spool_files,
    spool_records,
    tally,
)
from tests.support.mongo_server import MongoServer

SPOOLED = 300
BAD_LINES_IN_GOOD_FILE = 3
# With the server down a flush cannot succeed: the process need not wait long before it spools.
SERVER_DOWN = ("--flush-timeout-ms", "1000")


def _writer(server: MongoServer, spool: Path, execution: str, start: int, count: int, tmp: Path, name: str,
            *extra: str) -> AppProcess:  # fmt: skip
    arguments = [
        "--uri", server.uri, "--database", "faults", "--spool-dir", str(spool), "--executions", execution,
        "--count", str(count), "--start", str(start), "--writer", name, "--retry-deadline-ms", "300",
        "--shutdown-timeout-ms", "3000", "--flush-timeout-ms", "10000", *extra,
    ]  # fmt: skip
    return AppProcess("writer.py", arguments, stderr_path=tmp / f"{name}.stderr")


def _unclaimed(name: str) -> str:
    return re.sub(r"\.claimed-\d+$", "", name)


def _damage(good: Path) -> list[str]:
    """Put five unreadable entries beside the batch file ``good`` (named as older batches, so they
    come first) and bad lines into ``good`` itself; returns the names that must end in quarantine."""
    stamp = good.name.partition("-")[0]

    def older(offset: int, writer: str) -> Path:
        return good.with_name(f"{int(stamp) - offset:0{len(stamp)}d}-{writer}-1-1.jsonl.gz")

    damaged = {
        older(5, "listline"): gzip.compress(b"[1, 2, 3]\n"),
        older(4, "wrongshape"): gzip.compress(b'{"t": [1], "a": ["x"], "s": "short"}\n'),
        older(3, "notgzip"): b"this is not gzip at all\n",
        older(2, "truncated"): gzip.compress(b'{"t": 1}\n' * 200)[:25],
    }
    for path, data in damaged.items():
        path.write_bytes(data)
    directory = older(1, "directory")
    directory.mkdir()
    lines = gzip.decompress(good.read_bytes()).splitlines(keepends=True)
    bad = [b"not json at all\n", b"[1]\n", b'{"a": "a string where an object belongs"}\n']
    assert len(bad) == BAD_LINES_IN_GOOD_FILE
    mixed = [lines[0], bad[0], *lines[1:-1], bad[1], lines[-1], bad[2]]
    good.write_bytes(gzip.compress(b"".join(mixed)))
    # The batch may still be claimed by the process that spooled it (it left mid-replay): the next
    # process takes the claim back, and the file reaches quarantine under its own name.
    return sorted([*(p.name for p in damaged), directory.name, _unclaimed(good.name)])


def test_damaged_spool_files_are_moved_aside_and_the_rest_delivered(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """300 spooled records beside 5 damaged entries: 300 + 2 stored, 6 files in quarantine, each reported once."""
    (execution,) = create_executions(faults_db, 1)
    spool = tmp_path / "spool"
    fault_server.kill()
    run_to_end(_writer(fault_server, spool, execution, 0, SPOOLED, tmp_path, "old", *SERVER_DOWN), 120)
    (good, *others) = spool_files(spool)
    assert others == [] and spool_records(spool) == SPOOLED, "one batch file was expected"
    expected_quarantine = _damage(good)
    fault_server.start()
    first = run_to_end(_writer(fault_server, spool, execution, SPOOLED, 1, tmp_path, "first"), 120)
    second = run_to_end(_writer(fault_server, spool, execution, SPOOLED + 1, 1, tmp_path, "second"), 120)

    counted = tally(faults_db, [range(SPOOLED + 2)])
    quarantine = good.parent / "quarantine"
    quarantined = sorted(_unclaimed(p.name) for p in quarantine.iterdir())
    first_stats = first["stats"]["exporters"]["MongoLogRecordExporter"]
    second_stats = second["stats"]["exporters"]["MongoLogRecordExporter"]
    reports = re.findall(r"spool file \S+ .*moved to", (tmp_path / "first.stderr").read_text(encoding="utf-8"))
    figures.record(
        "spool-damaged-files",
        **counted.row(),
        rss_growth_mb=None,
        quarantined=len(quarantined),
        spool_quarantined=first_stats["spool_quarantined"],
        spool_bad_lines=first_stats["spool_bad_lines"],
        reports=len(reports),
    )
    assert first["flushed"] and second["flushed"], first["stats"]
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
    assert quarantined == expected_quarantine
    assert first_stats["spool_quarantined"] == len(expected_quarantine)
    assert first_stats["spool_bad_lines"] >= BAD_LINES_IN_GOOD_FILE
    assert len(reports) == len(expected_quarantine), reports
    assert second_stats["spool_quarantined"] == 0 and second_stats["spool_bad_lines"] == 0
    assert "spool file" not in (tmp_path / "second.stderr").read_text(encoding="utf-8")
    assert spool_files(spool) == []
    assert check_executions(faults_db, [execution]).mismatched == {}


def test_a_full_disk_leaves_no_temporary_file(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """MongoDB down and the spool's writes failing (RLIMIT_FSIZE): no ``.tmp`` left, every record counted."""
    (execution,) = create_executions(faults_db, 1)
    spool = tmp_path / "spool"
    fault_server.kill()
    done = run_to_end(
        _writer(
            fault_server, spool, execution, 0, SPOOLED, tmp_path, "full", *SERVER_DOWN, "--file-size-limit", "2048"
        ),
        120,
    )
    stats = done["stats"]["exporters"]["MongoLogRecordExporter"]
    leftovers = sorted(p.name for p in spool.rglob("*") if p.is_file() and ".tmp" in p.name)
    spooled = spool_records(spool)
    dropped = stats["dropped_shutdown"] + stats["dropped_queue_full"]
    figures.record(
        "spool-disk-full",
        sent=SPOOLED,
        stored=0,
        duplicated=0,
        lost=SPOOLED - spooled,
        rss_growth_mb=None,
        spooled=spooled,
        counted_dropped=dropped,
        temporary_files=len(leftovers),
    )
    assert leftovers == []
    assert spooled + dropped == SPOOLED, json.dumps(stats)
    assert "cannot write the spool" in (tmp_path / "full.stderr").read_text(encoding="utf-8")
