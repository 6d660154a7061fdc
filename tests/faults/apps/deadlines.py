"""An application whose MongoDB cannot be reached: every flush, the shutdown and the exit keep their deadline.

Configures otel-revops (MongoDB at ``--uri``, spool, no console, ``--shutdown-timeout-ms``), then in
three rounds logs ``--records`` numbered records and calls ``force_flush`` with the next deadline of
``--flush-ms``, timing each call. It ends with ``shutdown_logging()`` or by returning (the exit hook
shuts down). JSON lines on stdout: ``flushed`` per round (deadline, seconds, result), ``ending``
just before the end (the test times the exit from it), and ``done`` after an explicit shutdown.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

import otel_revops
from tests.faults.apps.common import emit

log = logging.getLogger("faults.deadlines")


def main() -> int:
    """Configure, log and flush against an unreachable server, then shut down or exit."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--execution", required=True)
    parser.add_argument("--job-id", default="fault-job")
    parser.add_argument("--records", type=int, default=500)
    parser.add_argument("--flush-ms", type=lambda text: [int(v) for v in text.split(",")], default=[1000, 2000])
    parser.add_argument("--shutdown-timeout-ms", type=int, default=2000)
    parser.add_argument("--end", choices=["shutdown", "exit"], default="exit")
    args = parser.parse_args()

    otel_revops.configure_logging(
        mongodb_uri=args.uri, console="none", spool_dir=args.spool_dir, shutdown_timeout_ms=args.shutdown_timeout_ms
    )
    n = 0
    with otel_revops.execution_context(job_id=args.job_id, execution_id=args.execution):
        for deadline in [*args.flush_ms, None]:
            for _ in range(args.records):
                log.info("record %d", n, extra={"n": n})
                n += 1
            if deadline is None:
                break
            started = time.monotonic()
            flushed = otel_revops.force_flush(deadline)
            emit("flushed", deadline_ms=deadline, seconds=time.monotonic() - started, ok=flushed)
    emit("ending", logged=n)
    if args.end == "shutdown":
        started = time.monotonic()
        otel_revops.shutdown_logging()
        emit("done", logged=n, seconds=time.monotonic() - started)
    return 0


if __name__ == "__main__":
    sys.exit(main())
