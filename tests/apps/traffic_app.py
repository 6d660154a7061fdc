"""An application with instrumented HTTP and gRPC clients: its own requests are traced, the
exporters' are not.

Run it as ``opentelemetry-instrument python tests/apps/traffic_app.py URL`` with the requests and
gRPC instrumentations installed and ``OTEL_TRACES_EXPORTER=console``. It makes one ``requests.get``
to ``URL`` (the span a user expects), logs a few records, flushes logging (the exporters send them)
and then the traces; the spans are printed on standard output, followed by one JSON ``done`` line.
"""

from __future__ import annotations

import json
import logging
import sys

import requests
from opentelemetry import trace

import otel_revops

log = logging.getLogger("app.traffic")


def main() -> None:
    """Request, log, flush logs then traces, report."""
    status = requests.get(sys.argv[1], timeout=10).status_code
    with otel_revops.execution_context(job_id="job-42", execution_id="exec-7"):
        for n in range(5):
            log.info("record %d", n, extra={"n": n})
    flushed = otel_revops.force_flush(10_000)
    provider = trace.get_tracer_provider()
    force_flush = getattr(provider, "force_flush", None)
    traces_flushed = force_flush() if force_flush is not None else False
    print(json.dumps({"event": "done", "status": status, "flushed": flushed, "traces_flushed": traces_flushed}))


if __name__ == "__main__":
    main()
