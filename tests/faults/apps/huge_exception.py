"""An application that logs one exception with a huge message, then ordinary records.

Configures otel-revops with OTLP (``--otlp-endpoint``, gRPC), the file sink (``--file-path``), the
spool and no console; logs ``log.exception`` for a ``ValueError`` whose message is ``--message-bytes``
long (record ``n`` 0), then ``--after`` numbered records. Prints one JSON ``done`` line: whether the
flush succeeded and the pipeline's counts.
"""

from __future__ import annotations

import argparse
import logging
import sys

import otel_revops
from tests.faults.apps.common import emit

log = logging.getLogger("faults.huge_exception")


def main() -> int:
    """Configure, log the huge exception and the records after it, flush, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--otlp-endpoint", required=True)
    parser.add_argument("--file-path", required=True)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--message-bytes", type=int, default=5_000_000)
    parser.add_argument("--after", type=int, default=60)
    args = parser.parse_args()
    pipeline = otel_revops.configure_logging(
        otlp_endpoint=args.otlp_endpoint, file_path=args.file_path, spool_dir=args.spool_dir, console="none"
    )
    try:
        raise ValueError("m" * args.message_bytes)
    except ValueError:
        log.exception("the import failed", extra={"n": 0})
    for n in range(1, args.after + 1):
        log.info("record %d", n, extra={"n": n})
    flushed = pipeline.force_flush(60_000)
    stats = pipeline.stats()
    otel_revops.shutdown_logging()
    emit("done", flushed=flushed, stats=stats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
