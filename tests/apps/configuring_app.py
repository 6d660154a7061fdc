"""An application that also calls ``configure_logging()`` itself, as code written before the zero-code
set-up existed does. Under ``opentelemetry-instrument`` it must still end with one bridge handler.

Prints one JSON line with the root logger's handlers before and after ``configure_logging()``.
"""

from __future__ import annotations

import json
import logging

from otel_revops import configure_logging, execution_context

log = logging.getLogger("app.configured")


def describe_root_handlers() -> list[str]:
    """The root logger's handlers as ``module.Class`` names."""
    return [f"{type(handler).__module__}.{type(handler).__qualname__}" for handler in logging.getLogger().handlers]


def main() -> None:
    """Log once before and once after configuring, inside the same execution."""
    before = describe_root_handlers()
    with execution_context(job_id="job-42", execution_id="exec-8"):
        log.info("Before configure_logging")
        configure_logging()
        log.info("After configure_logging")
    print(json.dumps({"before": before, "handlers": describe_root_handlers()}), flush=True)


if __name__ == "__main__":
    main()
