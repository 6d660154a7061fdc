"""The ``otel_revops`` configurator: the library's logging pipeline under ``opentelemetry-instrument``.

Logs are built by :func:`~otel_revops.configure_logging` from ``OTEL_LOGS_EXPORTER`` and the
``OTEL_REVOPS_*`` / ``OTEL_*`` variables: one bridge handler on the root logger, the console written
synchronously, MongoDB / OTLP / other exporters batched. Traces and metrics are left to the SDK's
own set-up, exactly as the user configured them. The global ``LoggerProvider`` forwards to whichever
pipeline is current (see :mod:`otel_revops.autoinstrument.api_records`).

A bad setting does not stop the application: it is reported on standard error, naming the setting,
and the application runs without the library's logging.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from contextlib import suppress
from importlib.metadata import entry_points
from typing import Any, ClassVar

from opentelemetry.sdk._configuration import _initialize_components, _OTelSDKConfigurator
from opentelemetry.sdk._logs.export import LogRecordExporter
from opentelemetry.sdk.resources import SERVICE_NAME

from otel_revops.autoinstrument.api_records import CurrentPipelineProcessor
from otel_revops.autoinstrument.environ import environment
from otel_revops.autoinstrument.exporter_names import (
    LOGS_EXPORTER_ENV,
    LogsPlan,
    default_logs_exporters,
    plan_logs,
)
from otel_revops.config import ConfigurationError, Settings
from otel_revops.delivery import Destination
from otel_revops.diagnostics import warn
from otel_revops.exporters.from_settings import mongodb_destination, otlp_destination
from otel_revops.pipeline import LoggingPipeline, configure_logging

__all__ = ["LOGS_EXPORTER_GROUP", "RevOpsConfigurator", "configure_logs_from_environment"]

#: The entry point group naming log exporters.
LOGS_EXPORTER_GROUP = "opentelemetry_logs_exporter"
_CONFIG_FILE_ENV = "OTEL_CONFIG_FILE"


def _registered_exporters() -> dict[str, Any]:
    return {entry_point.name: entry_point for entry_point in entry_points(group=LOGS_EXPORTER_GROUP)}


def _load_exporter(name: str, registered: Mapping[str, Any]) -> LogRecordExporter:
    exporter_class = registered[name].load()
    if not (isinstance(exporter_class, type) and issubclass(exporter_class, LogRecordExporter)):
        raise ConfigurationError(f"{LOGS_EXPORTER_ENV} names {name!r}, whose entry point is not a LogRecordExporter")
    exporter: LogRecordExporter = exporter_class()
    return exporter


def _create_exporters(
    plan: LogsPlan, settings: Settings, registered: Mapping[str, Any]
) -> list[LogRecordExporter | Destination]:
    exporters: list[LogRecordExporter | Destination] = []
    try:
        if plan.mongodb:
            if not settings.mongodb_uri:
                raise ConfigurationError(
                    f"{LOGS_EXPORTER_ENV} names mongodb but no MongoDB URI is set: "
                    "set OTEL_REVOPS_MONGODB_URI (or MONGODB_URI)"
                )
            exporters.append(mongodb_destination(settings))
        if plan.otlp:
            exporters.append(otlp_destination(settings, plan.otlp_protocol))
        if plan.sdk_console:
            from opentelemetry.sdk._logs.export import ConsoleLogRecordExporter

            exporters.append(ConsoleLogRecordExporter())
        exporters.extend(_load_exporter(name, registered) for name in plan.others)
    except BaseException:
        for exporter in exporters:
            with suppress(Exception):
                if isinstance(exporter, Destination):
                    exporter.close(0)
                else:
                    exporter.shutdown()  # type: ignore[no-untyped-call]
        raise
    return exporters


def configure_logs_from_environment() -> LoggingPipeline:
    """Set up the library's pipeline as ``OTEL_LOGS_EXPORTER`` and the other variables say.

    Raises :class:`ConfigurationError` for an unknown exporter name or a bad setting.
    """
    value = os.environ.get(LOGS_EXPORTER_ENV, "").strip() or default_logs_exporters(os.environ)
    registered = _registered_exporters()
    plan = plan_logs(value, registered)
    settings = Settings.resolve()
    exporters = _create_exporters(plan, settings, registered)
    # The exporters were chosen by name above; empty values keep the settings from adding them again.
    return configure_logging(
        exporters=exporters,
        console=settings.console if plan.console else "none",
        mongodb_uri="",
        otlp_endpoint="",
    )


class RevOpsConfigurator(_OTelSDKConfigurator):
    """Entry point ``otel_revops`` of ``opentelemetry_configurator`` (``OTEL_PYTHON_CONFIGURATOR=otel_revops``)."""

    #: True once it configured the process: logging belongs to the library, even when a bad setting left it off.
    configured: ClassVar[bool] = False

    def _configure(self, **kwargs: Any) -> None:
        if os.environ.get(_CONFIG_FILE_ENV, "").strip():
            warn(
                "autoinstrument-config-file",
                f"{_CONFIG_FILE_ENV} is set: the SDK configures logs from that file; "
                "otel-revops only stamps the execution context on the SDK's logging handler",
            )
            super()._configure(**kwargs)  # type: ignore[no-untyped-call]
            return
        RevOpsConfigurator.configured = True
        resource_attributes: dict[str, Any] = dict(kwargs.pop("resource_attributes", None) or {})
        try:
            pipeline = configure_logs_from_environment()
        except Exception as exc:  # noqa: BLE001 - a logging setting must not stop the application
            detail = str(exc) if isinstance(exc, ConfigurationError) else f"{type(exc).__name__}: {exc}"
            warn("autoinstrument-failed", f"logging was NOT set up by opentelemetry-instrument: {detail}")
        else:
            # Traces and metrics carry the same service.name as the logs.
            resource_attributes.setdefault(SERVICE_NAME, pipeline.settings.service_name)
        processors = [*(kwargs.pop("log_record_processors", None) or ()), CurrentPipelineProcessor()]
        kwargs.pop("setup_logging_handler", None)
        # The SDK would build its own logs pipeline from OTEL_LOGS_EXPORTER: it sees none while it
        # sets up traces, metrics and a global LoggerProvider that forwards to the library's pipeline.
        with environment({LOGS_EXPORTER_ENV: "none"}):
            _initialize_components(
                setup_logging_handler=False,
                log_record_processors=processors,
                resource_attributes=resource_attributes,
                **kwargs,
            )
