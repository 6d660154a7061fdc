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

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar, Token
from types import TracebackType
from typing import Any

from otel_revops._blocks import Block, Entered, pop, push

__all__ = [
    "as_exporting_thread",
    "bind_execution",
    "current_execution",
    "execution_context",
    "exporting",
    "reset_execution",
    "suppressed",
]

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
_ENTERED: Entered = ContextVar("otel_revops_entered", default=())


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


class execution_context(Block):  # noqa: N801 - used like contextlib's lower-case helpers
    """Bind job and execution attributes for a block, a function or a coroutine.

    As a context manager::

        with execution_context(job_id=job_id, execution_id=execution_id, syncMode="incremental"):
            log.info("Job execution started")

    As a decorator (sync or async functions)::

        @execution_context(job_id="nightly")
        async def run() -> None: ...

    Nested contexts merge (inner values win) and the outer context is restored on exit.
    """

    __slots__ = ("_attributes",)

    def __init__(self, job_id: Any = None, execution_id: Any = None, **attributes: Any) -> None:
        self._attributes = _attributes(job_id, execution_id, attributes)

    def __enter__(self) -> Mapping[str, Any]:
        merged = {**EXECUTION.get(), **self._attributes}
        push(_ENTERED, self, EXECUTION.set(merged))
        return merged

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        found, token = pop(_ENTERED, self)
        if found:
            EXECUTION.reset(token)


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
