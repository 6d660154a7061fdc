"""The one exception the commands raise to stop with a message and an exit code."""

from __future__ import annotations

__all__ = ["EXIT_FAILURE", "EXIT_OK", "EXIT_USAGE", "CliError"]

#: Success.
EXIT_OK = 0
#: What was checked is wrong or missing: an unknown execution, an unreachable server, a failed check.
EXIT_FAILURE = 1
#: Bad usage: a bad option value, a missing setting.
EXIT_USAGE = 2


class CliError(Exception):
    """Stops the command: ``message`` (one line) goes to standard error and the process exits with ``exit_code``."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code
