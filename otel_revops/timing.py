"""Timed blocks: one record when a block ends, saying how long it took and how it ended.

::

    with timed("Fetched contacts page", entity="contacts"):
        page = client.contacts.list(after=cursor)

    @timed("Synced entity")
    async def sync_entity(entity: str) -> None: ...

When the block ends a record is logged with message ``name`` and the properties ``durationMs`` (a
float, from the monotonic clock), ``outcome`` (``"ok"`` or ``"error"``; on error ``errorType`` too — the
exception itself propagates unchanged) and the given properties; it carries the execution context
like any other record. ``log_start=True`` logs a record when the block starts as well
(``outcome: "started"``). :meth:`otel_revops.BoundLogger.timed` does the same on that logger's
category and bindings. A logging failure never reaches the timed code.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from contextvars import ContextVar
from types import TracebackType
from typing import TYPE_CHECKING, Any

from otel_revops._blocks import Block, Entered, pop, push
from otel_revops.diagnostics import warn

if TYPE_CHECKING:
    from otel_revops.loggers import BoundLogger

__all__ = ["DEFAULT_CATEGORY", "Timed", "timed"]

#: The category of :func:`timed` records when no logger is given.
DEFAULT_CATEGORY = "otel_revops.timed"

# When each entered block started, innermost last: per context, so one object may time many
# threads and tasks at once.
_STARTED: Entered = ContextVar("otel_revops_timed", default=())


class Timed(Block):
    """A timed block: a context manager (``with`` and ``async with``) and a decorator (sync and async)."""

    __slots__ = ("_error_level", "_level", "_log_start", "_logger", "_name", "_properties")

    def __init__(
        self,
        name: str,
        logger: BoundLogger,
        properties: Mapping[str, Any],
        *,
        level: int = logging.INFO,
        error_level: int | None = None,
        log_start: bool = False,
    ) -> None:
        self._name = name
        self._logger = logger
        self._properties = dict(properties)
        self._level = level
        self._error_level = max(level, logging.WARNING) if error_level is None else error_level
        self._log_start = log_start

    def _log(self, level: int, props: Mapping[str, Any]) -> None:
        try:
            # stacklevel 2 (from _emit): the record names the code that entered or left the block.
            self._logger._emit(level, self._name, (), None, False, 2, None, {**self._properties, **props})
        except Exception as exc:  # noqa: BLE001 - timing must never break the timed code
            warn("timed-error", f"a timed block's record could not be logged: {type(exc).__name__}: {exc}")

    def __enter__(self) -> Timed:
        if self._log_start:
            self._log(self._level, {"outcome": "started"})
        push(_STARTED, self, time.monotonic())
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        ended = time.monotonic()
        found, began = pop(_STARTED, self)
        if not found:
            return  # left without being entered in this context: nothing to measure
        duration = {"durationMs": (ended - began) * 1000}
        if exc_type is None:
            self._log(self._level, {**duration, "outcome": "ok"})
        else:
            self._log(self._error_level, {**duration, "outcome": "error", "errorType": exc_type.__qualname__})


def timed(
    name: str,
    *,
    level: int = logging.INFO,
    error_level: int | None = None,
    log_start: bool = False,
    **properties: Any,
) -> Timed:
    """A timed block on category ``otel_revops.timed``: logs ``name`` with ``durationMs`` and ``outcome`` when
    it ends (at ``level``; an error at ``error_level``, by default ``level`` but at least WARNING)."""
    from otel_revops.loggers import get_logger

    return Timed(
        name, get_logger(DEFAULT_CATEGORY), properties, level=level, error_level=error_level, log_start=log_start
    )
