"""An application whose own exit handler, registered before otel-revops is imported, logs.

``atexit`` runs handlers last registered first: this one runs after otel-revops' own exit hook has
shut the pipeline down. The main program configures otel-revops (MongoDB, spool, no console), logs
``--records`` numbered records and returns without shutting logging down; the exit handler logs
``--at-exit`` more and prints one JSON ``done`` line before they are delivered.
"""

from __future__ import annotations

import atexit
import logging
import sys

AT_EXIT_BASE = 10_000_000
_log = logging.getLogger("faults.atexit")
_setup: dict[str, str] = {}


def _log_at_exit() -> None:
    import otel_revops

    if not _setup:
        return  # the command line was refused
    count = int(_setup["at_exit"])
    with otel_revops.execution_context(job_id=_setup["job_id"], execution_id=_setup["execution"]):
        for n in range(AT_EXIT_BASE, AT_EXIT_BASE + count):
            _log.info("exit handler record %d", n, extra={"n": n})
    emit("done", at_exit=count)


atexit.register(_log_at_exit)

import otel_revops  # noqa: E402 - the exit handler is registered before otel-revops is imported
from tests.faults.apps.common import emit, execution_parser  # noqa: E402


def main() -> int:
    """Configure, log, return without shutting logging down."""
    parser = execution_parser(__doc__)
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--at-exit", type=int, default=100)
    args = parser.parse_args()
    _setup.update(job_id=args.job_id, execution=args.execution, at_exit=str(args.at_exit))
    otel_revops.configure_logging(
        mongodb_uri=args.uri, mongodb_database=args.database, console="none", spool_dir=args.spool_dir
    )
    with otel_revops.execution_context(job_id=args.job_id, execution_id=args.execution):
        for n in range(args.records):
            _log.info("main record %d", n, extra={"n": n})
    return 0


if __name__ == "__main__":
    sys.exit(main())
