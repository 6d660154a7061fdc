"""``otel-revops demo``: the RevOps sync demo that ``make demo`` runs, from a source checkout."""

from __future__ import annotations

import importlib.util
import os
import runpy
import sys

import click

from otel_revops.cli.app import CliState, pass_state
from otel_revops.cli.errors import EXIT_FAILURE, EXIT_OK, CliError

__all__ = ["DEMO_MODULE", "demo_available", "demo_command", "find_demo"]

#: The module ``make demo`` runs with ``python -m``.
DEMO_MODULE = "examples.revops_sync"


def _importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def demo_available() -> bool:
    """Whether the demo could run from here: importable, or a source checkout's ``examples/`` in the current
    directory. An installed package alone has no demo, and does not offer the command."""
    path = os.path.join(os.getcwd(), *DEMO_MODULE.split("."))
    return os.path.isdir(path) or _importable(DEMO_MODULE)


def find_demo() -> bool:
    """Whether the demo can be imported, looking in the current directory too (a source checkout's root)."""
    if _importable(DEMO_MODULE):
        return True
    cwd = os.getcwd()
    if cwd in sys.path:
        return False
    sys.path.insert(0, cwd)
    sys.modules.pop("examples", None)
    if _importable(DEMO_MODULE):
        return True
    sys.path.remove(cwd)
    return False


@click.command("demo")
@pass_state
def demo_command(state: CliState) -> int:
    """Run the RevOps sync demo (what make demo runs).

    The demo ships with the source checkout, not the installed package: run this from the
    repository's root directory. Without a MongoDB URI it starts a throw-away server of its own.
    """
    if not find_demo():
        raise CliError(
            f"the demo ({DEMO_MODULE}) is not available: it ships with the source checkout, "
            "not the installed package; run 'otel-revops demo' (or 'make demo') from the repository's root",
            EXIT_FAILURE,
        )
    if state.uri:
        os.environ["OTEL_REVOPS_MONGODB_URI"] = state.uri
    if state.database:
        os.environ["OTEL_REVOPS_MONGODB_DATABASE"] = state.database
    saved_argv = sys.argv
    sys.argv = [f"python -m {DEMO_MODULE}"]
    try:
        runpy.run_module(DEMO_MODULE, run_name="__main__", alter_sys=True)
    except SystemExit as exit_:
        code = exit_.code
        if code is None:
            return EXIT_OK
        if isinstance(code, int):
            return code
        raise CliError(str(code), EXIT_FAILURE) from None
    finally:
        sys.argv = saved_argv
    return EXIT_OK
