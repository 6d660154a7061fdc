"""An application started with one bad setting at a time, each from the environment as operators set them.

For every case (a JSON list on the command line: ``{"case", "env"}``) the application sets the
case's environment variables, calls ``configure_logging()`` and reports what happened as one JSON
``case`` line: the error raised (type and message) or, when the settings were accepted, whether 5
records logged into an execution were flushed and the pipeline's counts. A last ``done`` line follows.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from typing import Any

import otel_revops
from tests.faults.apps.common import emit

log = logging.getLogger("faults.settings")
RECORDS = 5


def run_case(env: dict[str, str], spool_dir: str, job_id: str, execution: str, start: int) -> dict[str, Any]:
    """Configure with ``env`` set; log and flush when accepted. The environment is restored afterwards."""
    saved = {name: os.environ.get(name) for name in env}
    os.environ.update(env)
    try:
        try:
            pipeline = otel_revops.configure_logging(console="none", spool_dir=spool_dir)
        except Exception as error:
            return {"raised": type(error).__name__, "message": str(error)}
        with otel_revops.execution_context(job_id=job_id, execution_id=execution):
            for n in range(start, start + RECORDS):
                log.info("record %d", n, extra={"n": n})
        flushed = pipeline.force_flush(5000)
        stats = pipeline.stats()
        otel_revops.shutdown_logging()
        return {"raised": None, "flushed": flushed, "stats": stats}
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def main() -> int:
    """Run every case, one JSON line each."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", required=True, help="JSON list of {case, env}")
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--execution", required=True)
    parser.add_argument("--job-id", default="fault-job")
    args = parser.parse_args()
    cases = json.loads(args.cases)
    for index, case in enumerate(cases):
        outcome = run_case(case["env"], args.spool_dir, args.job_id, args.execution, index * RECORDS)
        emit("case", case=case["case"], start=index * RECORDS, **outcome)
        sys.stdout.flush()
    emit("done", cases=len(cases))
    return 0


if __name__ == "__main__":
    sys.exit(main())
