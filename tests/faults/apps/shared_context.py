"""An application that enters one ``execution_context`` object from many threads and tasks at once.

A single ``execution_context(job_id=..., execution_id=...)`` object is created once and entered by
``--workers`` pool threads (held inside together by a barrier) and by as many asyncio tasks
(interleaved at every record); each logs ``--records`` numbered records inside it. Afterwards the
same pool threads log ``--records`` records each outside any context and report what
``current_execution()`` holds there. Prints one JSON ``done`` line: errors raised by entering or
leaving the context, the executions seen bound after leaving, and the pipeline's counts.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import otel_revops
from tests.faults.apps.common import emit, execution_parser

log = logging.getLogger("faults.shared_context")


def main() -> int:
    """Configure, enter one context object concurrently, log outside it afterwards, flush, report."""
    parser = execution_parser(__doc__)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--records", type=int, default=50)
    args = parser.parse_args()

    pipeline = otel_revops.configure_logging(mongodb_uri=args.uri, mongodb_database=args.database, console="none")
    shared = otel_revops.execution_context(job_id=args.job_id, execution_id=args.execution)
    errors: list[str] = []
    lock = threading.Lock()
    inside = threading.Barrier(args.workers, timeout=60)

    def failed(error: BaseException) -> None:
        with lock:
            errors.append(f"{type(error).__name__}: {error}")

    def in_thread(worker: int) -> None:
        try:
            with shared:
                inside.wait()
                for i in range(args.records):
                    n = worker * args.records + i
                    log.info("thread record %d", n, extra={"n": n})
        except Exception as error:
            failed(error)

    async def in_task(worker: int) -> None:
        try:
            with shared:
                for i in range(args.records):
                    n = (args.workers + worker) * args.records + i
                    log.info("task record %d", n, extra={"n": n})
                    await asyncio.sleep(0)  # let the other tasks enter and log in between
        except Exception as error:
            failed(error)

    async def tasks() -> None:
        await asyncio.gather(*(in_task(worker) for worker in range(args.workers)))

    outside_start = 2 * args.workers * args.records
    left_bound: list[Any] = []

    def outside(worker: int) -> None:
        bound = dict(otel_revops.current_execution())
        if bound:
            with lock:
                left_bound.append(bound)
        for i in range(args.records):
            n = outside_start + worker * args.records + i
            log.info("outside record %d", n, extra={"n": n})

    with ThreadPoolExecutor(args.workers) as pool:
        list(pool.map(in_thread, range(args.workers)))
        asyncio.run(tasks())
        list(pool.map(outside, range(args.workers)))
    flushed = pipeline.force_flush(120_000)
    stats = pipeline.stats()
    otel_revops.shutdown_logging()
    done = {
        "event": "done",
        "inside": outside_start,
        "outside": args.workers * args.records,
        "errors": errors,
        "left_bound": left_bound,
        "main_bound": dict(otel_revops.current_execution()),
        "flushed": flushed,
        "stats": stats,
    }
    emit(**done)
    return 0


if __name__ == "__main__":
    sys.exit(main())
