"""Cost of one logging call with 5 properties, per logging set-up, each set-up in a process of its own.

A scenario's process alternates rounds of the scenario with rounds of the baseline — the stdlib
``StreamHandler`` + ``Formatter`` → ``/dev/null``, on a logger of its own — so each scenario round has
a baseline round beside it, measured moments apart in the same interpreter: the ratios are the medians
of those paired ratios, which is what stays stable on a busy machine.

Two costs per call: the calling thread's CPU time (``time.thread_time_ns``), and the whole process's
CPU time (``time.process_time_ns``: every thread, the drain after each round included). Work moved to
export threads is not charged to the calling thread, but under the GIL it is the application's cost
all the same. Wall time per call, drain included, is reported too. The otel-revops scenarios log
inside an execution (``execution_context``); every scenario passes the same 5 properties.

``python -m benchmarks.calling_thread SCENARIO --calls N --rounds R [--mongo-uri URI --database DB]``
runs one scenario and prints its result as JSON; :func:`run` runs them all.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
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
_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_REPO = Path(__file__).resolve().parent.parent


class NoOpExporter(LogRecordExporter):
    """Accepts every batch and does nothing: isolates the pipeline's own cost."""

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


@dataclass
class Scenario:
    """One set-up: a logging call, and what waits until everything it queued was handled."""

    call: Callable[[], None]
    flush: Callable[[], None]


@dataclass
class Options:
    mongo_uri: str | None = None
    database: str = "bench"


Setup = Callable[[Options], contextlib.AbstractContextManager[Scenario]]


def _noop() -> None:
    return None


def _stdlib_call(name: str = "inngest.sync.bench") -> Callable[[], None]:
    logger = logging.getLogger(name)
    return lambda: logger.info(MESSAGE, extra=PROPERTIES)


@contextlib.contextmanager
def _devnull() -> Iterator[Any]:
    with open(os.devnull, "w") as sink:
        yield sink


@contextlib.contextmanager
def _root(handler: logging.Handler | None, level: int = logging.INFO) -> Iterator[None]:
    root = logging.getLogger()
    saved = list(root.handlers), root.level
    root.handlers[:] = [handler] if handler else []
    root.setLevel(level)
    try:
        yield
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])


@contextlib.contextmanager
def _baseline() -> Iterator[Scenario]:
    """The stdlib ``StreamHandler`` on a logger of its own, beside whatever the scenario set up."""
    with _devnull() as sink:
        logger = logging.getLogger("bench.baseline")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter(_FORMAT))
        logger.handlers[:] = [handler]
        yield Scenario(lambda: logger.info(MESSAGE, extra=PROPERTIES), _noop)


@contextlib.contextmanager
def stdlib_filtered(options: Options) -> Iterator[Scenario]:
    with _root(logging.NullHandler(), logging.WARNING):
        yield Scenario(_stdlib_call(), _noop)


@contextlib.contextmanager
def stdlib_null(options: Options) -> Iterator[Scenario]:
    with _root(logging.NullHandler()):
        yield Scenario(_stdlib_call(), _noop)


@contextlib.contextmanager
def stdlib_stream(options: Options) -> Iterator[Scenario]:
    with _devnull() as sink:
        handler = logging.StreamHandler(sink)
        handler.setFormatter(logging.Formatter(_FORMAT))
        with _root(handler):
            yield Scenario(_stdlib_call(), _noop)


@contextlib.contextmanager
def otel_contrib_bridge(options: Options) -> Iterator[Scenario]:
    from opentelemetry.instrumentation.logging.handler import LoggingHandler
    from opentelemetry.sdk._logs import LoggerProvider
    from opentelemetry.sdk._logs.export import BatchLogRecordProcessor

    provider = LoggerProvider(shutdown_on_exit=False)
    provider.add_log_record_processor(BatchLogRecordProcessor(NoOpExporter()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        handler = LoggingHandler(logger_provider=provider)
    with _root(handler):
        yield Scenario(_stdlib_call(), lambda: provider.force_flush() and None)
    provider.shutdown()


@contextlib.contextmanager
def structlog_json(options: Options) -> Iterator[Scenario]:
    import structlog

    with _devnull() as sink:
        structlog.configure(
            processors=[
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso"),
                structlog.processors.JSONRenderer(),
            ],
            logger_factory=structlog.PrintLoggerFactory(file=sink),
            wrapper_class=structlog.make_filtering_bound_logger(logging.INFO),
            cache_logger_on_first_use=True,
        )
        logger = structlog.get_logger("inngest.sync.bench")
        yield Scenario(lambda: logger.info(MESSAGE, **PROPERTIES), _noop)
        structlog.reset_defaults()


@contextlib.contextmanager
def loguru_file(options: Options) -> Iterator[Scenario]:
    from loguru import logger

    with _devnull() as sink:
        logger.remove()
        logger.add(sink, level="INFO", format="{time} {level} {name}: {message} {extra}")
        yield Scenario(lambda: logger.info(MESSAGE, **PROPERTIES), _noop)
        logger.remove()


@contextlib.contextmanager
def _pipeline(**settings: Any) -> Iterator[Scenario]:
    with _devnull() as sink:
        pipeline = otel_revops.configure_logging(console_stream=sink, console_colors="never", **settings)
        try:
            with otel_revops.execution_context(job_id=PROPERTIES["jobId"], execution_id=PROPERTIES["executionId"]):
                yield Scenario(_stdlib_call(), lambda: pipeline.force_flush(120_000) and None)
        finally:
            otel_revops.shutdown_logging(timeout_millis=120_000)


def _revops(console: str, mongo: bool = False) -> Setup:
    def setup(options: Options) -> contextlib.AbstractContextManager[Scenario]:
        if not mongo:
            return _pipeline(console=console, exporters=[NoOpExporter()])
        if options.mongo_uri is None:
            raise SystemExit("this scenario needs --mongo-uri")
        return _pipeline(
            console=console, mongodb_uri=options.mongo_uri, mongodb_database=options.database, mongodb_upsert=True
        )

    return setup


SCENARIOS: dict[str, Setup] = {
    "stdlib_filtered": stdlib_filtered,
    "stdlib_null": stdlib_null,
    "stdlib_stream": stdlib_stream,
    "otel_contrib_bridge": otel_contrib_bridge,
    "structlog_json": structlog_json,
    "loguru": loguru_file,
    "otel_revops_export": _revops("none"),
    "otel_revops_pretty_export": _revops("pretty"),
    "otel_revops_json_export": _revops("json"),
    "otel_revops_mongo": _revops("none", mongo=True),
    "otel_revops_pretty_mongo": _revops("pretty", mongo=True),
}
MONGO_SCENARIOS = frozenset({"otel_revops_mongo", "otel_revops_pretty_mongo"})


@dataclass
class _Round:
    thread: float
    process: float
    wall: float


def _round(scenario: Scenario, calls: int) -> _Round:
    call = scenario.call
    start_wall = time.perf_counter_ns()
    start_process = time.process_time_ns()
    start = time.thread_time_ns()
    for _ in range(calls):
        call()
    thread = time.thread_time_ns() - start
    scenario.flush()
    return _Round(
        thread / calls, (time.process_time_ns() - start_process) / calls, (time.perf_counter_ns() - start_wall) / calls
    )


def measure(name: str, calls: int, rounds: int, options: Options) -> dict[str, float]:
    """One scenario in this process, each round paired with a baseline round."""
    pairs: list[tuple[_Round, _Round]] = []
    with _baseline() as baseline, SCENARIOS[name](options) as scenario:
        for _ in range(200):  # warm caches, loggers, worker threads
            baseline.call()
            scenario.call()
        scenario.flush()
        for _ in range(rounds):
            pairs.append((_round(baseline, calls), _round(scenario, calls)))
    return {
        "ns_per_call": round(statistics.median(s.thread for _, s in pairs)),
        "ratio": round(statistics.median(s.thread / b.thread for b, s in pairs), 2),
        "process_ns_per_call": round(statistics.median(s.process for _, s in pairs)),
        "process_ratio": round(statistics.median(s.process / b.process for b, s in pairs), 2),
        "wall_ns_per_call": round(statistics.median(s.wall for _, s in pairs)),
        "baseline_ns_per_call": round(statistics.median(b.thread for b, _ in pairs)),
    }


def run(quick: bool, mongo: tuple[str, str] | None = None) -> dict[str, dict[str, float]]:
    """Every scenario, each in a process of its own; the MongoDB ones only with ``mongo`` (URI, database)."""
    results: dict[str, dict[str, float]] = {}
    for name in SCENARIOS:
        if name in MONGO_SCENARIOS and mongo is None:
            continue
        # Every record of a MongoDB scenario is stored before its round ends (SecantusDB: a few
        # thousand records/s), so those take fewer calls.
        calls, rounds = (1000, 8) if quick else (2000, 30)
        if name in MONGO_SCENARIOS:
            calls, rounds = (500, 4) if quick else (1000, 12)
        command = [sys.executable, "-m", "benchmarks.calling_thread", name, "--calls", str(calls)]
        command += ["--rounds", str(rounds)]
        if name in MONGO_SCENARIOS and mongo is not None:
            command += ["--mongo-uri", mongo[0], "--database", mongo[1]]
        done = subprocess.run(command, cwd=_REPO, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"scenario {name} failed:\n{done.stderr}")
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.calling_thread", description=__doc__)
    parser.add_argument("scenario", choices=sorted(SCENARIOS))
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--mongo-uri")
    parser.add_argument("--database", default="bench")
    args = parser.parse_args(argv)
    result = measure(args.scenario, args.calls, args.rounds, Options(args.mongo_uri, args.database))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
