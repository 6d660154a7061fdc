"""The ``otel-revops`` console script's entry point, kept light on purpose.

It runs before the command's modules (click, rich, pymongo) are imported, so that Ctrl-C while
``otel-revops logs --follow`` is still starting ends it the way Ctrl-C while it follows does: exit 0,
no traceback.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable, Sequence
from types import FrameType
from typing import Any

__all__ = ["interrupted", "main"]

#: Set by Ctrl-C (SIGINT) while ``logs --follow`` runs, from the moment the process starts.
interrupted = threading.Event()


def _follows(argv: Sequence[str]) -> bool:
    return "logs" in argv and any(arg in ("-f", "--follow") for arg in argv)


def catch_interrupts() -> Callable[[int, FrameType | None], Any] | int | None:
    """Make SIGINT set :data:`interrupted` instead of raising; returns the handler it replaced."""
    return signal.signal(signal.SIGINT, lambda signum, frame: interrupted.set())


def main() -> None:
    """Run the ``otel-revops`` command line (``sys.argv``) and exit with its code."""
    if _follows(sys.argv[1:]) and threading.current_thread() is threading.main_thread():
        catch_interrupts()
    from otel_revops.cli import main as run_command

    run_command()
