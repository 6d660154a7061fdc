"""Execution context on :mod:`contextvars`: which job and execution a record belongs to.

Everything bound here is attached to every record logged in the same context, from any logger,
including third-party libraries. The context follows asyncio tasks (each task copies the context
it was created in) and is restored on exit, so nested contexts merge and unwind cleanly.

Threads do not inherit context variables. To carry the execution into a thread pool, submit the
work through :func:`contextvars.copy_context`::

    ctx = contextvars.copy_context()
    executor.submit(ctx.run, work, arg)

or bind again inside the thread with :func:`execution_context`.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any, TypeVar, cast

__all__ = [
    "as_exporting_thread",
    "bind_execution",
    "current_execution",
    "execution_context",
    "exporting",
    "reset_execution",
    "suppressed",
]

_F = TypeVar("_F", bound=Callable[..., Any])

_EMPTY: Mapping[str, Any] = {}
# The current execution's attributes. The mapping is never mutated once set: binding creates a
# new one, so a snapshot taken on the logging call stays true after the context changes.
EXECUTION: ContextVar[Mapping[str, Any]] = ContextVar("otel_revops_execution", default=_EMPTY)
# True while an exporter runs: records logged then (by the exporter, its driver, the SDK) go to the
# console only and never re-enter the export pipeline, which would otherwise feed itself forever.
EXPORTING: ContextVar[bool] = ContextVar("otel_revops_exporting", default=False)
# True while records must not be exported at all (for example while a workflow replays code whose
# records were already exported on an earlier request).
SUPPRESSED: ContextVar[bool] = ContextVar("otel_revops_suppressed", default=False)
# The bindings each context entered through ``execution_context`` objects, innermost last: per
# context, so one object may be entered by many tasks and threads at once.
_ENTERED: ContextVar[tuple[tuple[object, Token[Mapping[str, Any]]], ...]] = ContextVar(
    "otel_revops_entered", default=()
)


def _attributes(job_id: Any, execution_id: Any, attributes: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    if job_id is not None:
        merged["jobId"] = job_id
    if execution_id is not None:
        merged["executionId"] = execution_id
    merged.update(attributes)
    return merged


def current_execution() -> Mapping[str, Any]:
    """The attributes bound in the current context (read-only)."""
    return EXECUTION.get()


def bind_execution(**attributes: Any) -> Token[Mapping[str, Any]]:
    """Add ``attributes`` to the current execution context; returns a token for :func:`reset_execution`.

    ``job_id`` and ``execution_id`` are stored as ``jobId`` and ``executionId``; other names are kept
    as given. For frameworks whose hooks open and close a scope in separate calls.
    """
    job_id = attributes.pop("job_id", None)
    execution_id = attributes.pop("execution_id", None)
    merged = {**EXECUTION.get(), **_attributes(job_id, execution_id, attributes)}
    return EXECUTION.set(merged)


def reset_execution(token: Token[Mapping[str, Any]]) -> None:
    """Restore the execution context as it was before the :func:`bind_execution` that gave ``token``."""
    EXECUTION.reset(token)


class execution_context:  # noqa: N801 - used like contextlib's lower-case helpers
    """Bind job and execution attributes for a block, a function or a coroutine.

    As a context manager::

        with execution_context(job_id=job_id, execution_id=execution_id, syncMode="incremental"):
            log.info("Job execution started")

    As a decorator (sync or async functions)::

        @execution_context(job_id="nightly")
        async def run() -> None: ...

    Nested contexts merge (inner values win) and the outer context is restored on exit.
    """

    def __init__(self, job_id: Any = None, execution_id: Any = None, **attributes: Any) -> None:
        self._attributes = _attributes(job_id, execution_id, attributes)

    def __enter__(self) -> Mapping[str, Any]:
        merged = {**EXECUTION.get(), **self._attributes}
        token = EXECUTION.set(merged)
        _ENTERED.set((*_ENTERED.get(), (self, token)))
        return merged

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        entered = _ENTERED.get()
        for index in range(len(entered) - 1, -1, -1):
            owner, token = entered[index]
            if owner is self:
                _ENTERED.set(entered[:index] + entered[index + 1 :])
                EXECUTION.reset(token)
                return

    async def __aenter__(self) -> Mapping[str, Any]:
        return self.__enter__()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.__exit__(exc_type, exc, tb)

    def __call__(self, func: _F) -> _F:
        attributes = self._attributes
        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                with execution_context(**attributes):
                    return await func(*args, **kwargs)

            return cast(_F, async_wrapper)

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with execution_context(**attributes):
                return func(*args, **kwargs)

        return cast(_F, wrapper)


def as_exporting_thread() -> None:
    """Mark the calling thread (a worker of the library's) as an exporter's for its whole life: what it
    logs reaches the console only, and OpenTelemetry instrumentations neither trace nor log its traffic."""
    from opentelemetry import context as otel_context

    EXPORTING.set(True)
    # The keys ``opentelemetry.instrumentation.utils.suppress_instrumentation()`` sets, attached for good.
    suppressed_context = otel_context.set_value(otel_context._SUPPRESS_INSTRUMENTATION_KEY, True)
    otel_context.attach(otel_context.set_value("suppress_instrumentation", True, suppressed_context))


@contextmanager
def exporting() -> Iterator[None]:
    """Mark the current context as an exporter's: its records reach the console only, never an exporter."""
    token = EXPORTING.set(True)
    try:
        yield
    finally:
        EXPORTING.reset(token)


@contextmanager
def suppressed(active: bool = True) -> Iterator[None]:
    """Drop every record logged in this block (console and exporters) while ``active``."""
    token = SUPPRESSED.set(active)
    try:
        yield
    finally:
        SUPPRESSED.reset(token)
