"""Execution context: every record inside carries it; nested, async and threaded use."""

from __future__ import annotations

import asyncio
import contextvars
import io
import json
import logging
import threading
from concurrent.futures import ThreadPoolExecutor

import otel_revops
from otel_revops import bind_execution, execution_context, reset_execution


def _json_console() -> io.StringIO:
    stream = io.StringIO()
    otel_revops.configure_logging(console="json", console_stream=stream, log_level="debug")
    return stream


def _records(stream: io.StringIO) -> list[dict[str, object]]:
    records = [json.loads(line) for line in stream.getvalue().splitlines()]
    return [r for r in records if r["category"] != "asyncio"]


class TestExecutionContext:
    def test_any_logger_carries_the_ids(self) -> None:
        """Third-party loggers inside the block get jobId, executionId and extras."""
        stream = _json_console()
        with execution_context(job_id="job-1", execution_id="exec-1", syncMode="incremental"):
            logging.getLogger("somelib.internal").info("inside")
        logging.getLogger("somelib.internal").info("outside")
        inside, outside = _records(stream)
        assert inside["properties"] == {"jobId": "job-1", "executionId": "exec-1", "syncMode": "incremental"}
        assert outside["properties"] == {}

    def test_nested_contexts_merge_and_restore(self) -> None:
        """Inner values are added (and win); leaving restores the outer context."""
        stream = _json_console()
        log = logging.getLogger("c")
        with execution_context(job_id="j", execution_id="outer"):
            with execution_context(execution_id="inner", chunk=2):
                log.info("a")
            log.info("b")
        props = [r["properties"] for r in _records(stream)]
        assert props == [{"jobId": "j", "executionId": "inner", "chunk": 2}, {"jobId": "j", "executionId": "outer"}]

    def test_decorator_sync_and_async(self) -> None:
        """execution_context decorates plain and async functions."""
        stream = _json_console()

        @execution_context(job_id="deco")
        def work() -> None:
            logging.getLogger("c").info("sync")

        @execution_context(job_id="adeco")
        async def awork() -> None:
            await asyncio.sleep(0)
            logging.getLogger("c").info("async")

        work()
        asyncio.run(awork())
        logging.getLogger("c").info("after")
        assert [r["properties"] for r in _records(stream)] == [{"jobId": "deco"}, {"jobId": "adeco"}, {}]

    def test_bind_and_reset_for_frameworks(self) -> None:
        """bind_execution returns a token; reset_execution undoes exactly that binding."""
        stream = _json_console()
        token = bind_execution(job_id="j", execution_id="e", **{"inngest.run_id": "r1"})
        logging.getLogger("c").info("bound")
        reset_execution(token)
        logging.getLogger("c").info("reset")
        bound, reset = _records(stream)
        assert bound["properties"] == {"jobId": "j", "executionId": "e", "inngest.run_id": "r1"}
        assert reset["properties"] == {}

    def test_concurrent_asyncio_tasks_stay_apart(self) -> None:
        """Each task sees only its own execution, even interleaved."""
        stream = _json_console()

        async def run(n: int) -> None:
            with execution_context(job_id=f"job-{n}", execution_id=f"exec-{n}"):
                for step in range(5):
                    await asyncio.sleep(0)
                    logging.getLogger("c").info("step", extra={"n": n, "step": step})

        async def main() -> None:
            await asyncio.gather(*(run(n) for n in range(10)))

        asyncio.run(main())
        records = _records(stream)
        assert len(records) == 50
        for record in records:
            props = record["properties"]
            assert isinstance(props, dict)
            assert props["jobId"] == f"job-{props['n']}"
            assert props["executionId"] == f"exec-{props['n']}"

    def test_threads_stay_apart_and_copy_context_carries_it(self) -> None:
        """Threads do not inherit the context; copy_context().run carries it explicitly."""
        stream = _json_console()
        barrier = threading.Barrier(4)

        def worker(n: int) -> None:
            with execution_context(job_id=f"t{n}"):
                barrier.wait(timeout=10)
                logging.getLogger("c").info("thread", extra={"n": n})

        threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with execution_context(job_id="parent"), ThreadPoolExecutor(1) as pool:
            pool.submit(logging.getLogger("c").info, "plain submit").result()
            pool.submit(contextvars.copy_context().run, logging.getLogger("c").info, "copied").result()
        records = _records(stream)
        for record in records[:4]:
            props = record["properties"]
            assert isinstance(props, dict)
            assert props["jobId"] == f"t{props['n']}"
        assert records[4]["properties"] == {}
        assert records[5]["properties"] == {"jobId": "parent"}
