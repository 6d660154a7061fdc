"""An application whose signal handler logs, the way "SIGTERM received, shutting down" handlers do.

Configures otel-revops (pretty console on stderr, MongoDB), installs a SIGUSR1 handler that logs one
numbered record and then acknowledges it on stdout (one ``signal`` JSON line, written with
``os.write``: the handler may interrupt a write of the main thread), and logs numbered records from
the main thread until a line arrives on stdin. Then it flushes and prints one JSON ``done`` line.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

import otel_revops
from tests.faults.apps.common import emit, execution_parser

log = logging.getLogger("faults.signal")
SIGNAL_BASE = 10_000_000


def main() -> int:
    """Configure, log from the main thread while signals arrive, stop on stdin, flush, report."""
    parser = execution_parser(__doc__)
    args = parser.parse_args()

    pipeline = otel_revops.configure_logging(mongodb_uri=args.uri, mongodb_database=args.database, console="pretty")
    handled = {"count": 0}

    def on_signal(signum: int, frame: FrameType | None) -> None:
        n = SIGNAL_BASE + handled["count"]
        with otel_revops.execution_context(job_id=args.job_id, execution_id=args.execution):
            log.warning("signal %d received", n, extra={"n": n})
        handled["count"] += 1
        emit("signal", count=handled["count"])

    signal.signal(signal.SIGUSR1, on_signal)
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.readline(), stop.set()), daemon=True).start()
    emit("ready")
    logged = 0
    with otel_revops.execution_context(job_id=args.job_id, execution_id=args.execution):
        while not stop.is_set():
            log.info("main record %d", logged, extra={"n": logged})
            logged += 1
    flushed = pipeline.force_flush(60_000)
    stats = pipeline.stats()
    otel_revops.shutdown_logging()
    emit("done", logged=logged, signals=handled["count"], flushed=flushed, stats=stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
