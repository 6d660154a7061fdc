"""Calling-thread cost of one logging call with 5 properties, per logging set-up, in one process.

Each scenario logs the same call (``logger.info(msg, extra=<5 properties>)``) in rounds; a round's
cost is the calling thread's CPU time (``time.thread_time_ns``) divided by its calls, so work done on
export threads is not charged to the application's thread. Under the GIL that work is the
application's cost too: the whole process's CPU time per call (``time.process_time_ns``, every
thread, the drain after each round included) is reported beside it, with its ratio to the same figure
of the baseline, and so is wall time per call including the drain.
"""

from __future__ import annotations

import contextlib
import logging
import os
import statistics
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

import otel_revops

PROPERTIES = {
    "jobId": "65a4f3b2c1d2e3f4a5b6c7d8",
    "executionId": "65a4f3b2c1d2e3f4a5b6c7d9",
    "entity": "contacts",
    "chunk": 3,
    "jitterMs": 120,
}
MESSAGE = "Executing job with jitter"


class NoOpExporter(LogRecordExporter):
    """Accepts every batch and does nothing: isolates the pipeline's own cost."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@dataclass
class Result:
    ns_per_call: float
    process_ns_per_call: float
    wall_ns_per_call: float


Setup = Callable[[], contextlib.AbstractContextManager[Callable[[], None]]]


def _measure(setup: Setup, calls: int, rounds: int) -> Result:
    logger = logging.getLogger("inngest.sync.bench")
    cpu: list[float] = []
    process: list[float] = []
    wall: list[float] = []
    with setup() as flush:
        for _ in range(200):  # warm caches, loggers, worker threads
            logger.info(MESSAGE, extra=PROPERTIES)
        flush()
        for _ in range(rounds):
            start_wall = time.perf_counter_ns()
            start_process = time.process_time_ns()
            start = time.thread_time_ns()
            for _ in range(calls):
                logger.info(MESSAGE, extra=PROPERTIES)
            cpu.append((time.thread_time_ns() - start) / calls)
            flush()
            process.append((time.process_time_ns() - start_process) / calls)
            wall.append((time.perf_counter_ns() - start_wall) / calls)
    return Result(statistics.median(cpu), statistics.median(process), statistics.median(wall))


@contextlib.contextmanager
def _root(handler: logging.Handler | None, level: int = logging.INFO) -> Iterator[logging.Logger]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    root.handlers[:] = [handler] if handler else []
    root.setLevel(level)
    try:
        yield root
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])


def _noop() -> None:
    return None


@contextlib.contextmanager
def stdlib_filtered() -> Iterator[Callable[[], None]]:
    with _root(logging.NullHandler(), logging.WARNING):
        yield _noop


@contextlib.contextmanager
def stdlib_null() -> Iterator[Callable[[], None]]:
    with _root(logging.NullHandler()):
        yield _noop


@contextlib.contextmanager
def stdlib_stream() -> Iterator[Callable[[], None]]:
    with open(os.devnull, "w") as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        with _root(handler):
            yield _noop


@contextlib.contextmanager
def otel_contrib_bridge() -> Iterator[Callable[[], None]]:
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(NoOpExporter()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        handler = LoggingHandler(logger_provider=provider)
    with _root(handler):
        yield provider.force_flush
    provider.shutdown()


@contextlib.contextmanager
def _pipeline(**settings: Any) -> Iterator[Callable[[], None]]:
    with open(os.devnull, "w") as sink:
        pipeline = otel_revops.configure_logging(console_stream=sink, console_colors="never", **settings)
        try:
            yield lambda: pipeline.forwarder.flush(60_000) and None
        finally:
            otel_revops.shutdown_logging(timeout_millis=120_000)


def otel_revops_export() -> contextlib.AbstractContextManager[Callable[[], None]]:
    return _pipeline(console="none", exporters=[NoOpExporter()])


def otel_revops_console() -> contextlib.AbstractContextManager[Callable[[], None]]:
    return _pipeline(console="pretty")


def otel_revops_mongo(uri: str, database: str) -> Setup:
    def setup() -> contextlib.AbstractContextManager[Callable[[], None]]:
        return _pipeline(console="none", mongodb_uri=uri, mongodb_database=database)

    return setup


SCENARIOS: dict[str, Setup] = {
    "stdlib_filtered": stdlib_filtered,
    "stdlib_null": stdlib_null,
    "stdlib_stream": stdlib_stream,
    "otel_contrib_bridge": otel_contrib_bridge,
    "otel_revops_export": otel_revops_export,
    "otel_revops_console": otel_revops_console,
}


def run(quick: bool, mongo: tuple[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Run every scenario; ratios are against ``stdlib_stream`` measured in the same process."""
    calls, rounds = (1000, 10) if quick else (2000, 40)
    results = {name: _measure(setup, calls, rounds) for name, setup in SCENARIOS.items()}
    if mongo is not None:
        # Every record here is stored before the scenario ends (SecantusDB: ~1,500 records/s).
        mongo_calls, mongo_rounds = (500, 6) if quick else (1000, 15)
        results["otel_revops_mongo"] = _measure(otel_revops_mongo(*mongo), mongo_calls, mongo_rounds)
    baseline = results["stdlib_stream"]
    return {
        name: {
            "ns_per_call": round(r.ns_per_call),
            "ratio": round(r.ns_per_call / baseline.ns_per_call, 2),
            "process_ns_per_call": round(r.process_ns_per_call),
            "process_ratio": round(r.process_ns_per_call / baseline.process_ns_per_call, 2),
            "wall_ns_per_call": round(r.wall_ns_per_call),
        }
        for name, r in results.items()
    }
