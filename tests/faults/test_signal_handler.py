"""A signal handler that logs, while the main thread is logging (pretty console and MongoDB): the
process never hangs, and every record — the handler's and the main thread's — is stored once."""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

from tests.faults.apps.signal_logger import SIGNAL_BASE
from tests.faults.harness import (
    AppProcess,
    Db,
    FigureRecorder,
    check_executions,
    create_executions,
    tally,
)
from tests.support.mongo_server import MongoServer

SIGNALS = 300


def test_signal_handler_that_logs_never_hangs(
    fault_server: MongoServer, faults_db: Db, tmp_path: Path, figures: FigureRecorder
) -> None:
    """300 SIGUSR1, each handled (it logs) before the next is sent: all handled, all stored, each printed once."""
    (execution,) = create_executions(faults_db, 1)
    stderr = tmp_path / "signal.stderr"
    app = AppProcess(
        "signal_logger.py",
        ["--uri", fault_server.uri, "--database", "faults", "--execution", execution],
        stderr_path=stderr,
        stdin=True,
    )
    try:
        app.wait_event("ready", 60)
        for sent in range(1, SIGNALS + 1):
            os.kill(app.pid, signal.SIGUSR1)
            handled = lambda: (latest := app.latest("signal")) is not None and latest["count"] >= sent  # noqa: B023, E731
            app.wait_for(handled, 30, f"signal {sent} was not handled: the process hangs")
        app.send_line()
        done = app.finish(120)
    finally:
        app.kill()
    logged = int(done["logged"])
    counted = tally(faults_db, [range(logged), range(SIGNAL_BASE, SIGNAL_BASE + SIGNALS)])
    printed = re.findall(r"signal (\d+) received", stderr.read_text(encoding="utf-8"))
    figures.record(
        "signal-handler-logs-300-signals",
        **counted.row(),
        rss_growth_mb=None,
        signals_handled=done["signals"],
        main_thread_logged=logged,
        console_lines=len(printed),
    )
    assert done["signals"] == SIGNALS
    assert done["flushed"], done["stats"]
    assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), counted.missing[:20]
    assert sorted(map(int, printed)) == list(range(SIGNAL_BASE, SIGNAL_BASE + SIGNALS))
    assert check_executions(faults_db, [execution]).mismatched == {}
