"""An application running many short executions, one record each, through the original's execution logger.

It logs ``--warmup`` executions (flushing every 1,000), flushes and measures its resident memory, then ``--count`` more
executions and measures again. Records go to the OTLP endpoint given, or to an exporter in the
process that counts them and their scopes. Prints one JSON ``done`` line
with both measurements and the pipeline's counts.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Sequence

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

import otel_revops
from tests.faults.apps.common import emit

_FLUSH_EVERY = 1_000


def _rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class _ScopeCounter(LogRecordExporter):
    """Counts the records it receives and the distinct scopes they come under."""

    def __init__(self) -> None:
        self.records = 0
        self.scopes: set[str] = set()

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.records += len(batch)
        self.scopes.update(r.instrumentation_scope.name for r in batch if r.instrumentation_scope is not None)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _run(pipeline: otel_revops.LoggingPipeline, first: int, count: int) -> None:
    for n in range(first, first + count):
        otel_revops.get_execution_logger("sync-job", f"exe-{n:07d}").info("Execution step", n=n)
        if n % _FLUSH_EVERY == 0:  # executions come and go over time, not all queued at once
            pipeline.force_flush(60_000)


def main() -> int:
    """Configure, run the warm-up executions, measure, run the counted ones, measure, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--endpoint", help="OTLP/gRPC endpoint; without one, records are counted in the process")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--count", type=int, default=20_000)
    args = parser.parse_args()
    counter = _ScopeCounter()
    pipeline = otel_revops.configure_logging(
        exporters=() if args.endpoint else (counter,),
        otlp_endpoint=args.endpoint,
        otlp_protocol="grpc",
        console="none",
        service_name="many-executions",
    )

    def measure() -> int:
        pipeline.force_flush(60_000)
        gc.collect()
        return _rss_bytes()

    _run(pipeline, 0, args.warmup)
    before = measure()
    _run(pipeline, args.warmup, args.count)
    after = measure()
    emit("done", rss_before=before, rss_after=after, counted=counter.records, scopes=sorted(counter.scopes))
    otel_revops.shutdown_logging()
    return 0


if __name__ == "__main__":
    sys.exit(main())
