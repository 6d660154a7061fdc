"""A plain application: the standard library's logging and an execution context, no set-up of its own.

Run it as ``opentelemetry-instrument python tests/apps/plain_app.py``. On standard output it prints
one JSON line describing the root logger's handlers, so a test can see what was installed.
``--pymongo-debug`` turns pymongo's own logging up to DEBUG.
"""

from __future__ import annotations

import json
import logging
import sys

from otel_revops import execution_context

log = logging.getLogger("app.sync")


def describe_root_handlers() -> list[str]:
    """The root logger's handlers as ``module.Class`` names."""
    return [f"{type(handler).__module__}.{type(handler).__qualname__}" for handler in logging.getLogger().handlers]


def main() -> None:
    """Log one record outside and two inside an execution, then print the handlers."""
    # What a plain application does; it changes nothing when a handler is already installed.
    logging.basicConfig(level=logging.INFO)
    if "--pymongo-debug" in sys.argv:
        logging.getLogger("pymongo").setLevel(logging.DEBUG)
    log.info("Outside any execution")
    with execution_context(job_id="job-42", execution_id="exec-7", syncMode="incremental"):
        log.info("Job execution started: %d rows", 3, extra={"rows": 3})
        log.warning("Job execution finished")
    print(json.dumps({"handlers": describe_root_handlers()}), flush=True)


if __name__ == "__main__":
    main()
