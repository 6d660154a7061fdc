"""An application that calls ``configure_logging()`` a second time while another thread keeps logging.

The main thread configures otel-revops (MongoDB, no console), starts a thread that logs one numbered
record every millisecond, logs a burst of its own (so the first pipeline has a backlog to drain),
then configures logging again with the same destination. Once the thread has logged ``--after``
more records through the new pipeline it is stopped; the application flushes and prints one JSON
``done`` line: how many records each thread logged and how long the second ``configure_logging``
took.
"""

from __future__ import annotations

import logging
import sys
import threading
import time

import otel_revops
from tests.faults.apps.common import emit, execution_parser

log = logging.getLogger("faults.reconfigure")


def main() -> int:
    """Configure, log from two threads, reconfigure in the middle, flush, report."""
    parser = execution_parser(__doc__)
    parser.add_argument("--burst", type=int, default=15_000)
    parser.add_argument("--after", type=int, default=1000, help="records the thread logs after reconfiguring")
    args = parser.parse_args()

    settings = {"mongodb_uri": args.uri, "mongodb_database": args.database, "console": "none"}
    otel_revops.configure_logging(**settings)
    stop = threading.Event()
    logged = {"thread": 0}
    reconfigured = threading.Event()
    after_reconfigure = threading.Event()
    base = 10_000_000

    def keep_logging() -> None:
        with otel_revops.execution_context(job_id=args.job_id, execution_id=args.execution):
            since = 0
            while not stop.is_set():
                n = base + logged["thread"]
                log.info("thread record %d", n, extra={"n": n})
                logged["thread"] += 1
                if reconfigured.is_set():
                    since += 1
                    if since >= args.after:
                        after_reconfigure.set()
                stop.wait(0.001)  # the pace of a busy worker, not a synchronisation

    thread = threading.Thread(target=keep_logging)
    thread.start()
    with otel_revops.execution_context(job_id=args.job_id, execution_id=args.execution):
        for n in range(args.burst):
            log.info("burst record %d", n, extra={"n": n})
    started = time.monotonic()
    pipeline = otel_revops.configure_logging(**settings)
    reconfigure_seconds = time.monotonic() - started
    reconfigured.set()
    after_reconfigure.wait(120)
    stop.set()
    thread.join()
    flushed = pipeline.force_flush(120_000)
    stats = pipeline.stats()
    otel_revops.shutdown_logging()
    done = {
        "event": "done",
        "burst": args.burst,
        "thread_logged": logged["thread"],
        "thread_start": base,
        "reconfigure_seconds": round(reconfigure_seconds, 3),
        "flushed": flushed,
        "stats": stats,
    }
    emit(**done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
