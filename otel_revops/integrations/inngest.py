"""Inngest: a client logger, and a middleware that stamps every record of a run and logs each only once.

::

    import inngest
    from otel_revops.integrations.inngest import ExecutionContextMiddleware, InngestLogger

    client = inngest.Inngest(
        app_id="revops-sync",
        logger=InngestLogger(),
        middleware=[ExecutionContextMiddleware],
    )

:class:`InngestLogger` sends the SDK's own messages and every ``ctx.logger`` call through the pipeline
under category ``inngest``. :class:`ExecutionContextMiddleware` binds, for each request, the run's
``inngest.run_id``, ``inngest.function_id``, ``inngest.attempt`` and ``inngest.event`` (plus ``jobId`` and
``executionId`` when the triggering event's data carries them) so that every record logged while the
function runs carries them, whichever logger wrote it.

Inngest runs a function from the top on every request, returning memoized results for the steps that
already ran, so the code before those steps runs again. The middleware drops the records logged during
that replay — from every logger, not only ``ctx.logger`` — because they were exported when that code
first ran. Turn this off with ``replay_safe=False`` or ``OTEL_REVOPS_INNGEST_REPLAY_SAFE=false``.

Each step that runs — never one whose memoized result is replayed — logs one record when it ends, on
category ``inngest.step``: message ``Step <id>``, properties ``inngest.step_id``, ``durationMs`` and
``outcome`` (``ok``, or ``error`` with ``errorType``, at warning), with the run's attributes (the attempt
among them) like every other record. Turn it off with ``ExecutionContextMiddleware.configured(step_records=False)``.

Why it works where the SDK's own ``ctx.logger`` gate does not: under FastAPI, a sync function runs on a
thread pool that does not inherit the request's context variables, while the SDK builds its middleware
on the event loop. Every hook but ``__init__`` runs on the thread that runs the function, so this
middleware sets its context variables in ``transform_input`` and restores them in ``before_response``,
never in ``__init__``.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar, Token
from typing import TYPE_CHECKING, Any

try:
    import inngest
except ModuleNotFoundError as missing:  # pragma: no cover - depends on what is installed
    raise ImportError(
        "otel_revops.integrations.inngest needs the Inngest SDK: pip install 'otel-revops[inngest]'",
        name=missing.name,
    ) from missing

from otel_revops.categories import Category, category_name
from otel_revops.config import parse_bool
from otel_revops.context import EXECUTION, SUPPRESSED, bind_execution, suppressed
from otel_revops.loggers import BoundLogger, get_logger
from otel_revops.pipeline import current_pipeline
from otel_revops.timing import Timed

__all__ = [
    "FUNCTION_FAILED_EVENT",
    "REPLAY_SAFE_ENV",
    "STEP_CATEGORY",
    "STEP_ID_KEY",
    "ExecutionContextMiddleware",
    "InngestLogger",
    "execution_attributes",
    "replay_safe_from_env",
]

#: Environment variable deciding whether replayed code's records are dropped (default true).
REPLAY_SAFE_ENV = "OTEL_REVOPS_INNGEST_REPLAY_SAFE"
#: The event that runs a function's ``on_failure`` handler; its data holds the failed run's event.
FUNCTION_FAILED_EVENT = "inngest/function.failed"
#: The category of the record each step that runs logs (message ``Step <id>``, timed: ``durationMs``, ``outcome``).
STEP_CATEGORY = "inngest.step"
#: The property naming the step of a step record.
STEP_ID_KEY = "inngest.step_id"
_STEP_LOGGER = get_logger(STEP_CATEGORY)

if TYPE_CHECKING:
    _LoggerAdapter = logging.LoggerAdapter[logging.Logger]
else:  # subscripting LoggerAdapter at run time needs Python 3.11
    _LoggerAdapter = logging.LoggerAdapter


class InngestLogger(BoundLogger, _LoggerAdapter):  # type: ignore[override]
    """The logger to give ``inngest.Inngest(logger=...)``: a :class:`~otel_revops.loggers.BoundLogger` on
    category ``inngest`` (or ``category``, a dotted string or a sequence of parts) with ``bindings`` as properties.

    ``child(**bindings)`` returns another ``InngestLogger`` keeping this one's bindings. It is a
    :class:`logging.LoggerAdapter` only so that the SDK's type for ``logger`` accepts it; logging goes
    through the bound-logger methods (keyword arguments become properties).
    """

    # The `type: ignore` above: BoundLogger exposes `logger` read-only while LoggerAdapter declares a
    # writable attribute; nothing assigns it.

    def __init__(self, category: Category = "inngest", /, **bindings: Any) -> None:
        BoundLogger.__init__(self, logging.getLogger(category_name(category)), bindings)
        # What LoggerAdapter.process() hands on as `extra=`, for code that drives the adapter API.
        self.extra = dict(bindings)

    def bind(self, **props: Any) -> InngestLogger:
        """An ``InngestLogger`` with ``props`` added to this one's bindings."""
        return InngestLogger(self.name, **{**self.properties, **props})

    def child(self, **props: Any) -> InngestLogger:
        """Same as :meth:`bind` (the name the Inngest logger interface uses)."""
        return self.bind(**props)

    def __repr__(self) -> str:
        return f"<InngestLogger {self.name} {self.properties!r}>"


def replay_safe_from_env(env: Mapping[str, str] | None = None) -> bool:
    """The current pipeline's ``inngest_replay_safe`` setting, else ``OTEL_REVOPS_INNGEST_REPLAY_SAFE``
    as a bool (true when unset); a bad value raises :class:`~otel_revops.config.ConfigurationError`
    naming the variable."""
    if env is None:
        pipeline = current_pipeline()
        if pipeline is not None:
            return pipeline.settings.inngest_replay_safe
    environ = os.environ if env is None else env
    raw = environ.get(REPLAY_SAFE_ENV, "").strip()
    if not raw:
        return True
    return parse_bool(raw, name="inngest_replay_safe", env=REPLAY_SAFE_ENV)


def execution_attributes(
    *, run_id: str, function_id: str, attempt: int, event_name: str, event_data: Mapping[str, Any]
) -> dict[str, Any]:
    """The attributes bound for one request: ``inngest.*`` for the run, and ``jobId`` / ``executionId``
    when the triggering event's data has them (non-empty). A failure handler's event
    (``inngest/function.failed``) is searched in the failed run's event it carries."""
    attributes: dict[str, Any] = {
        "inngest.run_id": run_id,
        "inngest.function_id": function_id,
        "inngest.attempt": attempt,
        "inngest.event": event_name,
    }
    if event_name == FUNCTION_FAILED_EVENT:
        original = event_data.get("event")
        original_data = original.get("data") if isinstance(original, Mapping) else None
        event_data = original_data if isinstance(original_data, Mapping) else {}
    for key in ("jobId", "executionId"):
        value = event_data.get(key)
        if value is not None and value != "":
            attributes[key] = value
    return attributes


# The middleware whose state is bound in this context. A request whose hook chain was cut short
# (another middleware raising before `before_response`) would otherwise leave its attributes and its
# replay gate to the next request served on the same pool thread.
_ACTIVE: ContextVar[ExecutionContextMiddleware | None] = ContextVar("otel_revops_inngest_request", default=None)
_DEFAULTS: dict[ContextVar[Any], Any] = {EXECUTION: {}, SUPPRESSED: False, _ACTIVE: None}


class ExecutionContextMiddleware(inngest.MiddlewareSync):
    """Binds the run's attributes to every record logged while a request runs the function, and drops
    the records of replayed code.

    Pass the class in ``inngest.Inngest(middleware=[...])`` (the SDK builds one per request). It is a
    sync middleware, so it serves sync and async functions. For options use :meth:`configured`.
    When replay-safe and the client's logger is an :class:`InngestLogger`, ``ctx.logger`` is that logger.
    """

    def __init__(
        self,
        client: inngest.Inngest,
        raw_request: object,
        *,
        replay_safe: bool | None = None,
        step_records: bool = True,
    ) -> None:
        super().__init__(client, raw_request)
        #: Whether records logged while memoized steps are replayed are dropped.
        self.replay_safe = replay_safe_from_env() if replay_safe is None else replay_safe
        #: Whether each step that runs logs a timed record (category ``inngest.step``).
        self.step_records = step_records
        self._tokens: list[tuple[ContextVar[Any], Token[Any]]] = []
        self._targeted = False

    @classmethod
    def configured(
        cls, *, replay_safe: bool | None = None, step_records: bool = True
    ) -> Callable[[inngest.Inngest, object], ExecutionContextMiddleware]:
        """The middleware with options, for ``middleware=[ExecutionContextMiddleware.configured(...)]``.

        ``replay_safe``: drop records logged while memoized steps are replayed; ``None`` reads
        ``OTEL_REVOPS_INNGEST_REPLAY_SAFE`` (default true). ``step_records``: log one timed record per
        step that runs (default true).
        """
        return functools.partial(cls, replay_safe=replay_safe, step_records=step_records)

    def transform_input(
        self,
        ctx: inngest.Context | inngest.ContextSync,
        function: inngest.Function[Any],
        steps: inngest.StepMemos,
    ) -> None:
        """Bind the run's attributes and, when memoized steps will be replayed, close the gate."""
        stale = _ACTIVE.get()
        if stale is not None and stale is not self:
            stale._unbind()
        self._set(_ACTIVE, self)
        event = ctx.event
        attributes = execution_attributes(
            run_id=ctx.run_id,
            function_id=function.id,
            attempt=ctx.attempt,
            event_name=event.name,
            event_data=event.data,
        )
        self._tokens.append((EXECUTION, bind_execution(**attributes)))
        if self.replay_safe:
            self._close_gate_for_replays(ctx, steps)
        if self.replay_safe or self.step_records:
            _wrap_step_handlers(ctx.step, timed=self.step_records)

    def _close_gate_for_replays(self, ctx: inngest.Context | inngest.ContextSync, steps: inngest.StepMemos) -> None:
        if isinstance(self.client.logger, InngestLogger):
            # This gate covers ctx.logger too; the SDK's own one fails under FastAPI sync functions and
            # inngest.experimental.mocked hands functions a Mock.
            ctx.logger = self.client.logger
        # A request targeting one step (after parallel steps were planned) re-runs the code before it,
        # which ran when the step was planned: only the targeted step's own code is new.
        self._targeted = getattr(ctx.step, "_target_hashed_id", None) is not None
        self._set(SUPPRESSED, steps.size > 0 or self._targeted)

    def before_execution(self) -> None:
        """Open the gate: from here on the code runs for the first time."""
        if self.replay_safe and not self._targeted:
            SUPPRESSED.set(False)

    def before_response(self) -> None:
        """Restore the context as it was before the request."""
        self._unbind()

    def _set(self, var: ContextVar[Any], value: Any) -> None:
        self._tokens.append((var, var.set(value)))

    def _unbind(self) -> None:
        tokens, self._tokens = self._tokens, []
        for var, token in reversed(tokens):
            try:
                var.reset(token)
            except (ValueError, RuntimeError):
                # Reached from another context than the one that bound: put back what was there.
                old = token.old_value
                var.set(_DEFAULTS[var] if old is Token.MISSING else old)


def _wrap_step_handlers(step: inngest.Step | inngest.StepSync, *, timed: bool) -> None:
    """Make ``step.run`` run its handler — called only when the step really runs, never when its result
    is memoized — with the replay gate open and, when ``timed``, inside a timed block."""
    # An instance attribute shadows the method for this request's step object only.
    target: Any = step
    run: Callable[..., Any] = step.run
    if inspect.iscoroutinefunction(run):

        async def run_async(step_id: str, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
            return await run(step_id, _as_new_code(step_id, handler, timed=timed), *args, **kwargs)

        target.run = run_async
        return

    def run_sync(step_id: str, handler: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return run(step_id, _as_new_code(step_id, handler, timed=timed), *args, **kwargs)

    target.run = run_sync


def _step_block(step_id: str, timed: bool) -> contextlib.AbstractContextManager[Any]:
    if not timed:
        return contextlib.nullcontext()
    return Timed(f"Step {step_id}", _STEP_LOGGER, {STEP_ID_KEY: step_id})


def _as_new_code(step_id: str, handler: Callable[..., Any], *, timed: bool) -> Callable[..., Any]:
    if inspect.iscoroutinefunction(handler):

        @functools.wraps(handler)
        async def async_handler(*args: Any, **kwargs: Any) -> Any:
            with suppressed(False), _step_block(step_id, timed):
                return await handler(*args, **kwargs)

        return async_handler

    @functools.wraps(handler)
    def sync_handler(*args: Any, **kwargs: Any) -> Any:
        block = _step_block(step_id, timed)
        with suppressed(False):
            block.__enter__()
            try:
                result = handler(*args, **kwargs)
            except BaseException as exc:
                block.__exit__(type(exc), exc, exc.__traceback__)
                raise
        if inspect.isawaitable(result):
            return _awaited(result, block)
        with suppressed(False):
            block.__exit__(None, None, None)
        return result

    return sync_handler


async def _awaited(awaitable: Awaitable[Any], block: contextlib.AbstractContextManager[Any]) -> Any:
    with suppressed(False):
        try:
            result = await awaitable
        except BaseException as exc:
            block.__exit__(type(exc), exc, exc.__traceback__)
            raise
        block.__exit__(None, None, None)
        return result
