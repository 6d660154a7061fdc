"""Option types shared by the subcommands: durations and level names."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import click

from otel_revops.cli.durations import parse_duration

__all__ = ["DURATION", "LEVEL", "DurationType"]


class DurationType(click.ParamType):  # type: ignore[type-arg, unused-ignore]
    """A duration such as ``30s``, ``5m``, ``1h``, ``24h``, ``30d``, ``2w``, converted to a ``timedelta``."""

    name = "duration"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> timedelta:
        """Parse ``value``; a bad one is a usage error (exit 2) with a one-line message."""
        if isinstance(value, timedelta):
            return value
        try:
            return parse_duration(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)

    def get_metavar(self, param: click.Parameter, ctx: click.Context | None = None) -> str:
        """``DURATION`` in usage lines."""
        return "DURATION"


#: The duration option type; its help text says what a duration looks like.
DURATION = DurationType()

#: Level names accepted by ``--level`` (any case).
LEVEL = click.Choice(["debug", "info", "warning", "error", "critical"], case_sensitive=False)
