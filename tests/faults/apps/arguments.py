"""The command line every single-execution application of the suite starts from."""

from __future__ import annotations

import argparse


def execution_parser(description: str | None) -> argparse.ArgumentParser:
    """A parser taking ``--uri``, ``--database`` (where to write), ``--execution`` and ``--job-id``
    (what the records belong to); the application adds its own options."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--uri", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--execution", required=True)
    parser.add_argument("--job-id", default="fault-job")
    return parser
