"""What the suite's applications share: the command line of a single-execution application, and the
JSON event lines the tests read from their standard output."""

from __future__ import annotations

import argparse
import json
import os
from typing import Any


def execution_parser(description: str | None) -> argparse.ArgumentParser:
    """A parser taking ``--uri``, ``--database`` (where to write), ``--execution`` and ``--job-id``
    (what the records belong to); the application adds its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--execution", required=True)
    parser.add_argument("--job-id", default="fault-job")
    return parser


def emit(event: str, **fields: Any) -> None:
    """One JSON line ``{"event": event, **fields}`` on stdout, written at once with one ``os.write``
    (safe from a signal handler or an exit handler, never held in a buffer)."""
    os.write(1, (json.dumps({"event": event, **fields}, default=str) + "\n").encode())
