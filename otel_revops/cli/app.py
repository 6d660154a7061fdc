"""What every subcommand shares: the global options, the settings, the MongoDB store and the consoles."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import TextIO

import click
from rich.console import Console
from rich.text import Text

from otel_revops.cli.store import Store, open_store
from otel_revops.config import ColorMode, Settings
from otel_revops.exporters.console import use_colors

__all__ = ["CliState", "make_console", "pass_state"]

#: Width for tables written to a file or a pipe (where no terminal says how wide it is).
PIPE_WIDTH = 200


def make_console(stream: TextIO, color: ColorMode) -> Console:
    """A rich console on ``stream``: colour on terminals only (``NO_COLOR``/``FORCE_COLOR`` honoured),
    and no wrapping of tables when the output goes to a file or a pipe."""
    colored = use_colors(stream, color)
    try:
        terminal = stream.isatty()
    except (AttributeError, ValueError):
        terminal = False
    width = None if terminal or os.environ.get("COLUMNS") else PIPE_WIDTH
    return Console(
        file=stream,
        force_terminal=True if colored else None,
        no_color=not colored,
        color_system="auto" if colored else None,
        highlight=False,
        soft_wrap=False,
        width=width,
    )


@dataclass
class CliState:
    """The global options and what is built from them, once, on first use."""

    uri: str | None = None
    database: str | None = None
    color: ColorMode = "auto"
    timeout_ms: int = 5000
    _settings: Settings | None = field(default=None, repr=False)
    _store: Store | None = field(default=None, repr=False)
    _out: Console | None = field(default=None, repr=False)
    _err: Console | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The library's settings with ``--uri``/``--database`` applied (raises ``ConfigurationError``)."""
        if self._settings is None:
            self._settings = Settings.resolve(mongodb_uri=self.uri, mongodb_database=self.database)
        return self._settings

    def store(self) -> Store:
        """The MongoDB store of the settings (raises ``CliError`` when no URI is configured)."""
        if self._store is None:
            self._store = open_store(self.settings(), self.timeout_ms)
        return self._store

    @property
    def out(self) -> Console:
        """The console on standard output: results."""
        if self._out is None:
            self._out = make_console(sys.stdout, self.color)
        return self._out

    @property
    def err(self) -> Console:
        """The console on standard error: progress, notes and errors."""
        if self._err is None:
            self._err = make_console(sys.stderr, self.color)
        return self._err

    def note(self, message: str, style: str = "dim") -> None:
        """One line of commentary on standard error (never wrapped)."""
        self.err.print(Text(message, style=style), soft_wrap=True)

    def say(self, message: str, style: str = "") -> None:
        """One line of the command's result on standard output (never wrapped, no markup)."""
        self.out.print(Text(message, style=style), soft_wrap=True)

    def close(self) -> None:
        """Close the MongoDB client if one was opened."""
        if self._store is not None:
            self._store.close()
            self._store = None


pass_state = click.make_pass_decorator(CliState, ensure=True)
