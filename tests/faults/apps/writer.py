"""A job-running application for the fault-injection suite: logs numbered records into executions.

Configures otel-revops (MongoDB, spool, no console), logs ``--count`` records spread over the given
executions — each carrying ``n`` (unique across every process of a case), ``seq`` (its order within
this process) and ``writer`` — optionally at a fixed pace, then shuts logging down with a generous
deadline and exits. Prints JSON lines on stdout: ``ready`` (after configuring), ``logged`` (every
``--progress-every`` records), then ``done`` with the peak RSS before and after and the pipeline's counts.
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import sys
import threading
import time

import otel_revops
from tests.faults.apps.common import emit

log = logging.getLogger("faults.writer")


def peak_rss_kb() -> int:
    """This program's peak resident set size so far, in KiB.

    ``VmHWM`` is the high-water mark of this program's own memory map. ``ru_maxrss`` is not: Linux
    carries the parent's peak across ``fork`` and ``exec``, so a child of a big test process would
    report the test's peak.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line: where to write, what to log, how fast, and the pipeline settings under test."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--job-id", default="fault-job")
    parser.add_argument("--executions", required=True, help="comma-separated execution ids")
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--start", type=int, default=0, help="the first record's n")
    parser.add_argument("--writer", default="w0")
    parser.add_argument("--rate", type=float, default=0.0, help="records per second; 0 logs as fast as possible")
    parser.add_argument("--progress-every", type=int, default=0, help="print a line every N records (0: never)")
    parser.add_argument("--flush-timeout-ms", type=int, default=120_000)
    parser.add_argument(
        "--exit-without-flush", action="store_true", help="leave delivery to the exit hook and its shutdown deadline"
    )
    parser.add_argument("--shutdown-timeout-ms", type=int, default=None)
    parser.add_argument(
        "--flush-on-stdin", action="store_true", help="after logging, wait for a line on stdin before flushing"
    )
    parser.add_argument("--retry-deadline-ms", type=int, default=None)
    parser.add_argument("--export-delay-ms", type=int, default=None)
    parser.add_argument("--max-queue-size", type=int, default=None, help="records held in memory at each stage")
    parser.add_argument("--padding", type=int, default=0, help="characters of filler per property")
    parser.add_argument("--wide", type=int, default=1, help="filler properties per record (with --padding)")
    parser.add_argument(
        "--file-size-limit", type=int, default=0, help="RLIMIT_FSIZE in bytes after configuring (0: none): a full disk"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Configure, log, flush, report."""
    args = parse_args(argv)
    pipeline = otel_revops.configure_logging(
        mongodb_uri=args.uri,
        mongodb_database=args.database,
        console="none",
        spool_dir=args.spool_dir,
        retry_deadline_ms=args.retry_deadline_ms,
        export_delay_ms=args.export_delay_ms,
        max_queue_size=args.max_queue_size,
        shutdown_timeout_ms=args.shutdown_timeout_ms,
    )
    if args.file_size_limit:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
        resource.setrlimit(resource.RLIMIT_FSIZE, (args.file_size_limit, args.file_size_limit))
    executions = args.executions.split(",")
    rss_start = peak_rss_kb()
    emit("ready", pid=os.getpid(), rss_kb=rss_start)
    pace = threading.Event()  # never set: an interruptible pause between paced records
    filler = {f"padding{i}": "p" * args.padding for i in range(args.wide)} if args.padding else {}
    started = time.monotonic()
    for seq in range(args.count):
        if args.rate > 0:
            due = started + seq / args.rate
            if due > time.monotonic():
                pace.wait(due - time.monotonic())
        n = args.start + seq
        with otel_revops.execution_context(job_id=args.job_id, execution_id=executions[n % len(executions)]):
            log.info("record %d", n, extra={"n": n, "seq": seq, "writer": args.writer, **filler})
        if args.progress_every and (seq + 1) % args.progress_every == 0:
            emit("logged", n=n, count=seq + 1, t=time.monotonic(), rss_kb=peak_rss_kb())
    logged_seconds = time.monotonic() - started
    rss_logged = peak_rss_kb()
    stats = pipeline.stats()
    if args.exit_without_flush:
        emit("exiting", logged=args.count, rss_start_kb=rss_start, rss_peak_kb=rss_logged, stats=stats)
        return 0
    if args.flush_on_stdin:
        emit("waiting", logged=args.count)
        sys.stdin.readline()
    flush_started = time.monotonic()
    flushed = pipeline.force_flush(args.flush_timeout_ms)
    flush_seconds = time.monotonic() - flush_started
    stats_after_flush = pipeline.stats()
    otel_revops.shutdown_logging()
    emit(
        "done",
        logged=args.count,
        logged_seconds=round(logged_seconds, 3),
        seconds=round(time.monotonic() - started, 3),
        flushed=flushed,
        flush_seconds=round(flush_seconds, 3),
        stats_after_flush=stats_after_flush,
        rss_start_kb=rss_start,
        rss_logged_kb=rss_logged,
        rss_peak_kb=peak_rss_kb(),
        stats_before_flush=stats,
        stats=pipeline.stats(),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
