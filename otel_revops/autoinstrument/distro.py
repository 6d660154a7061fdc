"""The ``otel_revops`` distro: defaults for ``opentelemetry-instrument`` (``OTEL_PYTHON_DISTRO=otel_revops``)."""

from __future__ import annotations

import os
from typing import Any

# The module is marked untyped as a whole, so mypy sees none of its names.
from opentelemetry.instrumentation.distro import BaseDistro  # type: ignore[attr-defined]

from otel_revops.autoinstrument.configurator import RevOpsConfigurator
from otel_revops.autoinstrument.environ import environment
from otel_revops.autoinstrument.exporter_names import LOGS_EXPORTER_ENV, default_logs_exporters

__all__ = ["CONFIGURATOR_ENV", "CONFIGURATOR_NAME", "RevOpsDistro"]

CONFIGURATOR_ENV = "OTEL_PYTHON_CONFIGURATOR"
#: The entry point name of :class:`~otel_revops.autoinstrument.RevOpsConfigurator`.
CONFIGURATOR_NAME = "otel_revops"
_CONTRIB_LOGGING_MODULE = "opentelemetry.instrumentation.logging"
_SDK_HANDLER_ENV = "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED"


class RevOpsDistro(BaseDistro):  # type: ignore[misc]
    """Chooses the ``otel_revops`` configurator and the logs exporters; leaves traces and metrics alone.

    ``OTEL_LOGS_EXPORTER`` defaults to ``revops_console``, plus ``mongodb`` when a MongoDB URI is set
    and ``otlp`` when an OTLP endpoint is. Variables already set are kept.
    """

    def _configure(self, **kwargs: Any) -> None:
        # Read by the auto-instrumentation after the distro ran: without it, whichever configurator
        # happens to be installed first would be used.
        os.environ.setdefault(CONFIGURATOR_ENV, CONFIGURATOR_NAME)
        os.environ.setdefault(LOGS_EXPORTER_ENV, default_logs_exporters(os.environ))

    def load_instrumentor(self, entry_point: Any, **kwargs: Any) -> None:
        """Activate an instrumentor. Under the ``otel_revops`` configurator the logging instrumentor keeps
        its features but adds no handler: the bridge handler is the only one (two would log every
        record twice)."""
        module = str(getattr(entry_point, "value", ""))
        if not (module.startswith(_CONTRIB_LOGGING_MODULE) and RevOpsConfigurator.configured):
            super().load_instrumentor(entry_point, **kwargs)
            return
        kwargs["enable_log_auto_instrumentation"] = False
        # Unset for the call: set, it makes the instrumentor warn about the SDK's handler, which is not installed.
        with environment({_SDK_HANDLER_ENV: None}):
            super().load_instrumentor(entry_point, **kwargs)
