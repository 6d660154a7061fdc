"""The pipeline's own ``MeterProvider``, for when the application set none: its metrics go to the
pipeline's OTLP collector. Imported only then: the metrics SDK is not loaded otherwise."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from opentelemetry.instrumentation.utils import suppress_instrumentation
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import (
    MetricExporter,
    MetricExportResult,
    MetricsData,
    PeriodicExportingMetricReader,
)

from otel_revops.context import exporting

if TYPE_CHECKING:
    from opentelemetry.sdk.resources import Resource

    from otel_revops.config import Settings

__all__ = ["metrics_endpoint", "otlp_meter_provider"]

_METRICS_PATH = "/v1/metrics"


class _ExportingMetricExporter(MetricExporter):
    """A metric exporter whose exports run as an exporter's (what it logs reaches the console only, and
    instrumentations do not trace its requests)."""

    def __init__(self, inner: MetricExporter) -> None:
        super().__init__(inner._preferred_temporality, inner._preferred_aggregation)
        self._inner = inner

    def export(self, metrics_data: MetricsData, timeout_millis: float = 10_000, **kwargs: Any) -> MetricExportResult:
        with exporting(), suppress_instrumentation():
            return self._inner.export(metrics_data, timeout_millis=timeout_millis, **kwargs)

    def force_flush(self, timeout_millis: float = 10_000) -> bool:
        return self._inner.force_flush(timeout_millis)

    def shutdown(self, timeout_millis: float = 30_000, **kwargs: Any) -> None:
        self._inner.shutdown(timeout_millis=timeout_millis, **kwargs)


def otlp_meter_provider(settings: Settings, resource: Resource) -> SdkMeterProvider:
    """A provider exporting to the metrics' endpoint for ``settings``' OTLP one (:func:`metrics_endpoint`)
    every ``OTEL_METRIC_EXPORT_INTERVAL`` ms."""
    assert settings.otlp_endpoint is not None
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "").strip() or settings.otlp_protocol
    endpoint = metrics_endpoint(settings.otlp_endpoint, protocol)
    exporter: MetricExporter
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter as HttpExporter

        exporter = HttpExporter(endpoint=endpoint)
    else:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter as GrpcExporter

        exporter = GrpcExporter(endpoint=endpoint)
    reader = PeriodicExportingMetricReader(_ExportingMetricExporter(exporter))
    return SdkMeterProvider(metric_readers=[reader], resource=resource, shutdown_on_exit=False)


def metrics_endpoint(endpoint: str, protocol: str, env: dict[str, str] | None = None) -> str | None:
    """Where the metrics go for the logs' ``endpoint``: None when the standard variables say it (the
    exporter reads them itself); for HTTP the base URL with ``/v1/metrics``."""
    environ = os.environ if env is None else env
    if environ.get("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "").strip():
        return None
    if endpoint.strip() == environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip():
        return None
    if protocol != "http/protobuf":
        return endpoint
    from otel_revops.exporters.otlp import LOGS_PATH

    base = endpoint.rstrip("/").removesuffix(LOGS_PATH)
    return base + _METRICS_PATH
