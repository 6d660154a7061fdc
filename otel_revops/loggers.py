"""Bound loggers: stdlib-compatible methods that also take properties as keyword arguments.

``log.info("Executing job with jitter", jobId=job_id, jitterMs=120)`` — keyword arguments, a mapping
given after the message as the original wrote it (``log.info("Syncing", {"entity": "contacts"})``),
``extra=`` and the logger's bound properties all become the record's properties (any name is allowed, even
``name`` or ``message``, which stdlib ``extra=`` refuses). ``bind()``/``child()`` return a new logger
with more properties; the parent's are kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from otel_revops.categories import Category, category_name
from otel_revops.config import LEVEL_NAMES
from otel_revops.records import PROPS_ATTR, properties_argument
from otel_revops.timing import Timed

__all__ = ["BoundLogger", "get_execution_logger", "get_logger", "get_sync_logger"]

_ExcInfo = Any


class BoundLogger:
    """A stdlib logger plus bound properties. Create with :func:`get_logger` and friends."""

    __slots__ = ("_gate", "_logger", "_props")

    def __init__(
        self, logger: logging.Logger, props: Mapping[str, Any] | None = None, gate: logging.Logger | None = None
    ) -> None:
        self._logger = logger
        # The logger whose level decides: for per-execution loggers (not registered with the logging
        # manager, so that they can be garbage collected) it is their registered parent.
        self._gate = gate or logger
        self._props: dict[str, Any] = dict(props or {})

    @property
    def name(self) -> str:
        """The category (the stdlib logger's name)."""
        return self._logger.name

    @property
    def logger(self) -> logging.Logger:
        """The underlying stdlib logger."""
        return self._logger

    @property
    def properties(self) -> Mapping[str, Any]:
        """The bound properties (read-only view)."""
        return dict(self._props)

    def bind(self, **props: Any) -> BoundLogger:
        """A logger with ``props`` added to this one's."""
        return BoundLogger(self._logger, {**self._props, **props}, self._gate)

    def child(self, **props: Any) -> BoundLogger:
        """Same as :meth:`bind` (the name the Inngest logger interface uses)."""
        return self.bind(**props)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - stdlib name
        """Whether a record at ``level`` would be processed."""
        return self._gate.isEnabledFor(level)

    def _emit(
        self,
        level: int,
        msg: Any,
        args: tuple[Any, ...],
        exc_info: _ExcInfo,
        stack_info: bool,
        stacklevel: int,
        extra: Mapping[str, Any] | None,
        props: dict[str, Any],
    ) -> None:
        if not self._gate.isEnabledFor(level):
            return
        merged = self._props
        mapping = properties_argument(msg, args) if args else None
        if mapping is not None:
            args = ()
            merged = {**merged, **(extra or {}), **mapping, **props}
        elif extra or props:
            merged = {**merged, **(extra or {}), **props}
        self._logger._log(
            level,
            msg,
            args,
            exc_info=exc_info,
            stack_info=stack_info,
            stacklevel=stacklevel + 2,
            extra={PROPS_ATTR: merged} if merged else None,
        )

    def debug(
        self,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Log at DEBUG; keyword arguments become properties."""
        self._emit(logging.DEBUG, msg, args, exc_info, stack_info, stacklevel, extra, props)

    def info(
        self,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Log at INFO; keyword arguments become properties."""
        self._emit(logging.INFO, msg, args, exc_info, stack_info, stacklevel, extra, props)

    def warning(
        self,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Log at WARNING; keyword arguments become properties."""
        self._emit(logging.WARNING, msg, args, exc_info, stack_info, stacklevel, extra, props)

    def warn(
        self,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Alias of :meth:`warning` (the Inngest and LogTape name)."""
        self._emit(logging.WARNING, msg, args, exc_info, stack_info, stacklevel, extra, props)

    def error(
        self,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Log at ERROR; keyword arguments become properties."""
        self._emit(logging.ERROR, msg, args, exc_info, stack_info, stacklevel, extra, props)

    def exception(
        self,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = True,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Log at ERROR with the current exception's traceback."""
        self._emit(logging.ERROR, msg, args, exc_info, stack_info, stacklevel, extra, props)

    def critical(
        self,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Log at CRITICAL; keyword arguments become properties."""
        self._emit(logging.CRITICAL, msg, args, exc_info, stack_info, stacklevel, extra, props)

    fatal = critical

    def log(
        self,
        level: int | str,
        msg: Any,
        *args: Any,
        exc_info: _ExcInfo = None,
        stack_info: bool = False,
        stacklevel: int = 1,
        extra: Mapping[str, Any] | None = None,
        **props: Any,
    ) -> None:
        """Log at ``level``: a stdlib number, or a name as the original's ``log(level, message, metadata)``.

        As with every method, a single mapping after a message with no ``%(name)`` placeholder is the
        metadata (properties).
        """
        if isinstance(level, str):
            number = LEVEL_NAMES.get(level.strip().lower())
            if number is None:
                number = logging.INFO
                props = {**props, "requestedLevel": level}
            level = number
        self._emit(level, msg, args, exc_info, stack_info, stacklevel, extra, props)

    def timed(
        self,
        name: str,
        *,
        level: int = logging.INFO,
        error_level: int | None = None,
        log_start: bool = False,
        **props: Any,
    ) -> Timed:
        """A timed block (context manager or decorator, see :mod:`otel_revops.timing`) logging on this
        logger, with its bindings and ``props``."""
        return Timed(name, self, props, level=level, error_level=error_level, log_start=log_start)

    def __repr__(self) -> str:
        return f"<BoundLogger {self.name} {self._props!r}>"


def get_logger(name: Category | None = None, **props: Any) -> BoundLogger:
    """A bound logger for category ``name`` (the root logger when None) with ``props`` bound.

    ``name`` is a dotted string or, as in LogTape, a sequence of parts: ``get_logger(["inngest", "sync"])``
    is ``get_logger("inngest.sync")``.
    """
    return BoundLogger(logging.getLogger(category_name(name)), props)


def get_sync_logger(entity: str | None = None) -> BoundLogger:
    """The original's sync logger: category ``inngest.sync``, or ``inngest.sync.<entity>`` with ``entity`` bound."""
    if entity is None:
        return BoundLogger(logging.getLogger("inngest.sync"))
    return BoundLogger(logging.getLogger(f"inngest.sync.{entity}"), {"entity": entity})


def get_execution_logger(job_id: Any, execution_id: Any) -> BoundLogger:
    """The original's execution logger: category ``inngest.execution.<job_id>.<execution_id>`` with
    ``jobId`` and ``executionId`` bound.

    Its level is the one set for ``inngest.execution``. The per-execution stdlib logger is not
    registered with the logging manager, so a service running many executions does not keep one
    logger object per execution forever.
    """
    parent = logging.getLogger("inngest.execution")
    logger = logging.Logger(f"inngest.execution.{job_id}.{execution_id}")
    logger.parent = parent
    return BoundLogger(logger, {"jobId": job_id, "executionId": execution_id}, gate=parent)
