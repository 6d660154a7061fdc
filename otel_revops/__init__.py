"""otel-revops: execution-aware logging on OpenTelemetry.

Set up once with :func:`configure_logging`; bind the running job with :func:`execution_context`;
log with the standard library or with :func:`get_sync_logger` / :func:`get_execution_logger`.

Importing the package is cheap: each name below loads its module (and OpenTelemetry's SDK) the first
time it is used.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from otel_revops import _exit  # noqa: F401 - registers the exit hook at import

if TYPE_CHECKING:
    from otel_revops.config import ConfigurationError, Settings
    from otel_revops.context import bind_execution, current_execution, execution_context, reset_execution
    from otel_revops.loggers import BoundLogger, get_execution_logger, get_logger, get_sync_logger
    from otel_revops.pipeline import (
        LoggingPipeline,
        configure_logging,
        current_pipeline,
        force_flush,
        shutdown_logging,
    )
    from otel_revops.timing import Timed, timed

_MODULES = {
    "ConfigurationError": "otel_revops.config",
    "Settings": "otel_revops.config",
    "bind_execution": "otel_revops.context",
    "current_execution": "otel_revops.context",
    "execution_context": "otel_revops.context",
    "reset_execution": "otel_revops.context",
    "BoundLogger": "otel_revops.loggers",
    "get_execution_logger": "otel_revops.loggers",
    "get_logger": "otel_revops.loggers",
    "get_sync_logger": "otel_revops.loggers",
    "LoggingPipeline": "otel_revops.pipeline",
    "configure_logging": "otel_revops.pipeline",
    "current_pipeline": "otel_revops.pipeline",
    "force_flush": "otel_revops.pipeline",
    "shutdown_logging": "otel_revops.pipeline",
    "Timed": "otel_revops.timing",
    "timed": "otel_revops.timing",
}

__all__ = [
    "BoundLogger",
    "ConfigurationError",
    "LoggingPipeline",
    "Settings",
    "Timed",
    "bind_execution",
    "configure_logging",
    "current_execution",
    "current_pipeline",
    "execution_context",
    "force_flush",
    "get_execution_logger",
    "get_logger",
    "get_sync_logger",
    "reset_execution",
    "shutdown_logging",
    "timed",
]

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'otel_revops' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_MODULES])
