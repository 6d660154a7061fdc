"""The ``otel-revops`` command: read the logs the library stored, watch executions, keep MongoDB tidy.

``otel-revops logs|executions|stats|prune|ensure-indexes|doctor|demo``; every subcommand reads the
settings the library reads (``OTEL_REVOPS_*``), ``--uri`` and ``--database`` override them.
Exit codes: 0 success, 1 what was checked is wrong or missing, 2 bad usage.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence

import click
from pymongo.errors import PyMongoError
from rich.text import Text

from otel_revops.cli.app import CliState
from otel_revops.cli.demo import demo_available, demo_command
from otel_revops.cli.doctor import doctor_command
from otel_revops.cli.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, CliError
from otel_revops.cli.executions import executions_command
from otel_revops.cli.logs import logs_command
from otel_revops.cli.maintenance import ensure_indexes_command, prune_command
from otel_revops.cli.stats import stats_command
from otel_revops.cli.store import mongo_failure
from otel_revops.config import ColorMode, ConfigurationError

__all__ = ["cli", "main"]

PROG_NAME = "otel-revops"
EXIT_INTERRUPTED = 130


@click.group(
    name=PROG_NAME,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
@click.option("--uri", metavar="URI", help="MongoDB URI. Default: OTEL_REVOPS_MONGODB_URI, then MONGODB_URI.")
@click.option(
    "--database",
    metavar="NAME",
    help="Database. Default: OTEL_REVOPS_MONGODB_DATABASE, else the URI's, else revops.",
)
@click.option(
    "--color",
    type=click.Choice(["auto", "always", "never"]),
    default="auto",
    show_default=True,
    help="Colour: auto colours terminals only (NO_COLOR and FORCE_COLOR are honoured).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0.1),
    default=5.0,
    show_default=True,
    metavar="SECONDS",
    help="How long to wait for MongoDB to answer before giving up.",
)
@click.version_option(package_name="otel-revops", prog_name=PROG_NAME)
@click.pass_context
def cli(ctx: click.Context, uri: str | None, database: str | None, color: ColorMode, timeout: float) -> None:
    """Read and look after the logs otel-revops stores in MongoDB.

    Settings come from the same environment variables as the library (OTEL_REVOPS_*).
    """
    state = ctx.ensure_object(CliState)
    state.uri, state.database, state.color = uri, database, color
    state.timeout_ms = int(timeout * 1000)
    ctx.call_on_close(state.close)


for _command in (
    logs_command,
    executions_command,
    stats_command,
    prune_command,
    ensure_indexes_command,
    doctor_command,
    demo_command,
):
    cli.add_command(_command)
# Not listed where it cannot run (an installed wheel, away from the source checkout).
demo_command.hidden = not demo_available()


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _usage_message(error: click.UsageError) -> str:
    command = error.ctx.command_path if error.ctx is not None else PROG_NAME
    return f"{_one_line(error.format_message())} (see '{command} --help')"


def _report(state: CliState, message: str) -> None:
    state.err.print(Text.assemble((f"{PROG_NAME}: error: ", "bold red"), _one_line(message)), soft_wrap=True)


def _mongo_uri(state: CliState) -> str:
    try:
        return state.settings().mongodb_uri or ""
    except ConfigurationError:
        return ""


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line ``argv`` (default ``sys.argv[1:]``) and return the exit code."""
    state = CliState()
    no_args_is_help = getattr(click.exceptions, "NoArgsIsHelpError", None)
    try:
        result = cli.main(
            args=list(argv) if argv is not None else None, prog_name=PROG_NAME, standalone_mode=False, obj=state
        )
    except CliError as error:
        _report(state, error.message)
        return error.exit_code
    except ConfigurationError as error:
        _report(state, f"configuration: {error}")
        return EXIT_USAGE
    except PyMongoError as error:
        _report(state, mongo_failure(error, _mongo_uri(state)).message)
        return EXIT_FAILURE
    except click.UsageError as error:
        if no_args_is_help is not None and isinstance(error, no_args_is_help) and error.ctx is not None:
            click.echo(error.ctx.get_help())
            return EXIT_USAGE
        _report(state, _usage_message(error))
        return EXIT_USAGE
    except click.ClickException as error:
        _report(state, error.format_message())
        return error.exit_code
    except click.Abort:
        return EXIT_INTERRUPTED
    finally:
        state.close()
    return result if isinstance(result, int) else EXIT_OK


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``otel-revops`` console script: run and exit with the command's code."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            # The console writes unencodable characters as replacements; so does the command.
            with contextlib.suppress(Exception):
                reconfigure(errors="replace")
    sys.exit(run(argv))
