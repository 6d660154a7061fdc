"""MongoDB refusing connections, or accepting them and never answering: ``force_flush(timeout)``,
``shutdown_logging()`` and the exit each return within their deadline + 0.5 s, and every record
logged is in the spool afterwards."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bson import ObjectId

from tests.faults.harness import AppProcess, FigureRecorder, spool_records

RECORDS = 500
FLUSH_MS = (1000, 2000)
SHUTDOWN_MS = 2000
SLACK = 0.5


@contextlib.contextmanager
def unreachable(kind: str) -> Iterator[str]:
    """A MongoDB URI on 127.0.0.1 that refuses connections (nothing listens) or accepts them and
    never answers (a socket that listens and never reads)."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        if kind == "silent":
            listener.listen(64)
            yield f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=60000&connectTimeoutMS=60000"
            return
    yield f"mongodb://127.0.0.1:{port}/?serverSelectionTimeoutMS=60000"


@pytest.mark.parametrize("end", ["shutdown", "exit"])
@pytest.mark.parametrize("server", ["refused", "silent"])
def test_flush_shutdown_and_exit_keep_their_deadlines(
    server: str, end: str, tmp_path: Path, figures: FigureRecorder
) -> None:
    """Two flushes (1 s, 2 s) and the end (2 s) against a server that cannot be reached: each within +0.5 s, 0 lost."""
    spool = tmp_path / "spool"
    with unreachable(server) as uri:
        app = AppProcess(
            "deadlines.py",
            ["--uri", uri, "--spool-dir", str(spool), "--execution", str(ObjectId()), "--records", str(RECORDS),
             "--flush-ms", ",".join(map(str, FLUSH_MS)), "--shutdown-timeout-ms", str(SHUTDOWN_MS), "--end", end],
            stderr_path=tmp_path / "deadlines.stderr",
        )  # fmt: skip
        try:
            app.wait_event("ending", 60)
            ending = time.monotonic()
            if end == "shutdown":
                done = app.finish(60)
                end_seconds = float(done["seconds"])
            else:
                app.finish(60, event="ending")
                end_seconds = time.monotonic() - ending
        finally:
            app.kill()
    flushes = app.events("flushed")
    sent = RECORDS * (len(FLUSH_MS) + 1)
    spooled = spool_records(spool)
    figures.record(
        f"deadlines-{server}-{end}",
        sent=sent,
        stored=0,
        duplicated=0,
        lost=sent - spooled,
        rss_growth_mb=None,
        seconds=figures.elapsed(),
        spooled=spooled,
        flush_seconds=[round(event["seconds"], 2) for event in flushes],
        end_seconds=round(end_seconds, 2),
    )
    assert [event["deadline_ms"] for event in flushes] == list(FLUSH_MS)
    for event in flushes:
        assert not event["ok"], "nothing can be delivered: the flush must report it"
        assert event["seconds"] <= event["deadline_ms"] / 1000 + SLACK, event
    assert end_seconds <= SHUTDOWN_MS / 1000 + SLACK
    assert spooled == sent
