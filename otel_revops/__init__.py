"""otel-revops: execution-aware logging on OpenTelemetry.

Set up once with :func:`configure_logging`; bind the running job with :func:`execution_context`;
log with the standard library or with :func:`get_sync_logger` / :func:`get_execution_logger`.
"""

from __future__ import annotations

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

__all__ = [
    "BoundLogger",
    "ConfigurationError",
    "LoggingPipeline",
    "Settings",
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
]

__version__ = "0.1.0"
