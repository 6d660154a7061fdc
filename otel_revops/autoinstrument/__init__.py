"""Zero-code set-up: ``opentelemetry-instrument python app.py`` with the ``otel_revops`` distro.

* :class:`RevOpsDistro` (``OTEL_PYTHON_DISTRO=otel_revops``) picks the configurator and the default
  logs exporters;
* :class:`RevOpsConfigurator` (``OTEL_PYTHON_CONFIGURATOR=otel_revops``) builds the library's
  logging pipeline from the environment and lets the SDK set up traces and metrics;
* :func:`adopt_logging_handlers` (``opentelemetry_post_instrument``) keeps one bridge on the root
  logger, or, under the stock distro, stamps the execution context on the stock handlers.
"""

from __future__ import annotations

from otel_revops.autoinstrument.configurator import RevOpsConfigurator, configure_logs_from_environment
from otel_revops.autoinstrument.distro import RevOpsDistro
from otel_revops.autoinstrument.stock_handlers import ExecutionStampFilter, adopt_logging_handlers

__all__ = [
    "ExecutionStampFilter",
    "RevOpsConfigurator",
    "RevOpsDistro",
    "adopt_logging_handlers",
    "configure_logs_from_environment",
]
