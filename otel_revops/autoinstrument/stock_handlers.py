"""The stock OpenTelemetry logging handlers, made to carry the execution context — or removed.

Run after every instrumentor (entry point group ``opentelemetry_post_instrument``), whatever the
distro and configurator:

* when the library's bridge handler is on the root logger, the stock handlers (the SDK's deprecated
  one, the ``opentelemetry-instrumentation-logging`` one) would log every record a second time, so
  they are taken off;
* otherwise :class:`ExecutionStampFilter` is put on each of them: it copies the execution context
  onto the record on the calling thread — the only thread that can read it, since the SDK exports on
  a worker — and it drops what is logged while an exporter runs, which would otherwise feed back
  into the exporters.
"""

from __future__ import annotations

import logging

from opentelemetry.instrumentation.utils import is_instrumentation_enabled

from otel_revops.attributes import to_any_value
from otel_revops.context import EXECUTION, EXPORTING, SUPPRESSED
from otel_revops.handler import BridgeHandler
from otel_revops.pipeline import current_pipeline

__all__ = ["ExecutionStampFilter", "adopt_logging_handlers", "is_stock_handler"]


class ExecutionStampFilter(logging.Filter):
    """For a stock OTel handler: add the execution attributes to the record, drop exporters' own records.

    The stock handlers turn a record's extra attributes into OTel attributes, so the execution
    context set with :func:`~otel_revops.execution_context` arrives as ``jobId``, ``executionId`` …
    A record is dropped while an exporter runs (:func:`~otel_revops.context.exporting` or the SDK's
    suppress-instrumentation flag, which its batch processor sets around ``export``), while records are
    suppressed, and while :func:`~otel_revops.configure_logging`'s pipeline is running (its bridge
    handler has the record already).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        """True to let the handler emit ``record``, stamped."""
        if EXPORTING.get() or SUPPRESSED.get() or not is_instrumentation_enabled() or current_pipeline() is not None:
            return False
        fields = record.__dict__
        for key, value in EXECUTION.get().items():
            if key not in fields:
                fields[key] = to_any_value(value)
        return True


def is_stock_handler(handler: logging.Handler) -> bool:
    """Whether ``handler`` is one of OpenTelemetry's own ``LoggingHandler`` classes (SDK or contrib)."""
    return any(
        cls.__name__ == "LoggingHandler" and cls.__module__.startswith("opentelemetry.")
        for cls in type(handler).__mro__
    )


def adopt_logging_handlers() -> None:
    """Remove the stock OTel handlers from the root logger when the bridge handler is there; else stamp them."""
    root = logging.getLogger()
    stock = [handler for handler in root.handlers if is_stock_handler(handler)]
    if any(isinstance(handler, BridgeHandler) for handler in root.handlers):
        for handler in stock:
            root.removeHandler(handler)
        return
    for handler in stock:
        if not any(isinstance(existing, ExecutionStampFilter) for existing in handler.filters):
            handler.addFilter(ExecutionStampFilter())
