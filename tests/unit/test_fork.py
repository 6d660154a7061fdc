"""After a fork, children export their own records, and multiprocessing children flush before os._exit."""

from __future__ import annotations

import logging
import multiprocessing
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

import otel_revops


class AppendingFileExporter(LogRecordExporter):
    """Appends "pid body" lines to a file: works across processes."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        with self.path.open("a") as out:
            out.writelines(f"{os.getpid()} {r.log_record.body}\n" for r in batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _log_many(prefix: str) -> int:
    for n in range(200):
        logging.getLogger("child").info("%s %d", prefix, n)
    return os.getpid()


def _bodies(path: Path) -> list[str]:
    return [line.split(" ", 1)[1] for line in path.read_text().splitlines()]


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_multiprocessing_pool_children_lose_nothing(tmp_path: Path) -> None:
    """Pool workers (fork) exit through os._exit after close/join; every record they logged is exported, once."""
    out = tmp_path / "records.txt"
    pipeline = otel_revops.configure_logging(console="none", exporters=[AppendingFileExporter(out)])
    logging.getLogger("parent").info("before fork")
    context = multiprocessing.get_context("fork")
    pool = context.Pool(3)
    pids = pool.map(_log_many, [f"task{n}" for n in range(6)])
    pool.close()  # workers leave through os._exit once their queue is closed
    pool.join()
    assert pipeline.force_flush(10_000)
    bodies = _bodies(out)
    expected = {f"task{t} {n}" for t in range(6) for n in range(200)} | {"before fork"}
    assert set(bodies) == expected
    assert len(bodies) == len(expected)
    assert len(set(pids)) >= 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_forked_child_exports_its_own_records_not_its_parents(tmp_path: Path) -> None:
    """A raw os.fork child starts with an empty queue and its own worker."""
    out = tmp_path / "records.txt"
    pipeline = otel_revops.configure_logging(console="none", exporters=[AppendingFileExporter(out)])
    for n in range(50):
        logging.getLogger("parent").info("parent %d", n)
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            _log_many("child")
            code = 0 if otel_revops.force_flush(10_000) else 3
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert pipeline.force_flush(10_000)
    bodies = _bodies(out)
    assert sorted(bodies) == sorted([f"parent {n}" for n in range(50)] + [f"child {n}" for n in range(200)])
