"""An application that fans work out to a ``multiprocessing`` pool (fork, forkserver or spawn).

The parent configures otel-revops (MongoDB, spool, no console) and logs before starting the pool, so
its exporter already holds a connection; spawned and forkserver workers configure their own in the
pool's initializer. Each task logs numbered records into an execution from a pool worker. The pool
is closed and joined (workers leave through ``os._exit``) or left by its with-block (which
terminates them with SIGTERM, their records still queued), then the parent flushes
and prints one JSON ``done`` line with the workers' pids and its peak RSS before and after.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import multiprocessing
import os
import sys
import time

import otel_revops
from tests.faults.apps.common import emit

log = logging.getLogger("faults.pool")
HANG_SECONDS = 120


def peak_rss_kb() -> int:
    """This program's peak resident set size so far, in KiB (``VmHWM``; ``ru_maxrss`` carries the
    parent's peak across fork and exec)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def log_task(task: tuple[str, str, int, int]) -> int:
    """Log ``count`` records numbered from ``start`` into ``execution_id``; returns the worker's pid."""
    job_id, execution_id, start, count = task
    with otel_revops.execution_context(job_id=job_id, execution_id=execution_id):
        for n in range(start, start + count):
            log.info("pool record %d", n, extra={"n": n, "writer": f"pid{os.getpid()}"})
    return os.getpid()


def configure_worker(uri: str, database: str, spool_dir: str) -> None:
    """The pool initializer of spawn and forkserver workers, which start without the parent's pipeline."""
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)  # a worker that hangs shows where
    otel_revops.configure_logging(mongodb_uri=uri, mongodb_database=database, console="none", spool_dir=spool_dir)


def main() -> int:
    """Configure, log in the parent, fan out, close and join the pool, flush, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--executions", required=True, help="comma-separated execution ids")
    parser.add_argument("--job-id", default="fault-job")
    parser.add_argument("--parent-records", type=int, default=100)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=8)
    parser.add_argument("--records-per-task", type=int, default=250)
    parser.add_argument("--start-method", choices=["fork", "forkserver", "spawn"], default="fork")
    parser.add_argument(
        "--leave", choices=["join", "with"], default="join",
        help="close() and join() the pool, or leave its with-block (which terminates the workers)",
    )  # fmt: skip
    args = parser.parse_args()
    faulthandler.dump_traceback_later(HANG_SECONDS, exit=True)  # a hang shows where, then ends the run

    pipeline = otel_revops.configure_logging(
        mongodb_uri=args.uri, mongodb_database=args.database, console="none", spool_dir=args.spool_dir
    )
    executions = args.executions.split(",")
    rss_start = peak_rss_kb()
    started = time.monotonic()
    log_task((args.job_id, executions[0], 0, args.parent_records))
    # The parent's exporter connects before the fork: the children must not reuse its connection.
    parent_flushed = pipeline.force_flush(60_000)
    tasks = [
        (args.job_id, executions[index % len(executions)], args.parent_records + index * args.records_per_task,
         args.records_per_task)
        for index in range(args.tasks)
    ]
    context = multiprocessing.get_context(args.start_method)
    # Forked workers inherit the parent's pipeline; spawned ones set up their own.
    initializer = None if args.start_method == "fork" else configure_worker
    initargs = (args.uri, args.database, args.spool_dir)
    if args.leave == "with":
        with context.Pool(args.workers, initializer, initargs) as pool:
            pids = pool.map(log_task, tasks, chunksize=1)
    else:
        pool = context.Pool(args.workers, initializer, initargs)
        pids = pool.map(log_task, tasks, chunksize=1)
        pool.close()
        pool.join()
    flushed = pipeline.force_flush(120_000)
    stats = pipeline.stats()
    otel_revops.shutdown_logging()
    emit(
        "done",
        logged=args.parent_records + args.tasks * args.records_per_task,
        worker_pids=sorted(set(pids)),
        parent_flushed=parent_flushed,
        flushed=flushed,
        seconds=round(time.monotonic() - started, 3),
        rss_start_kb=rss_start,
        rss_peak_kb=peak_rss_kb(),
        stats=stats,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
