"""The stock OTLP log exporter, chosen by protocol (``grpc`` or ``http/protobuf``)."""

from __future__ import annotations

from opentelemetry.sdk._logs.export import LogRecordExporter

from otel_revops.config import OtlpProtocol

__all__ = ["create_otlp_exporter"]


def create_otlp_exporter(endpoint: str | None, protocol: OtlpProtocol) -> LogRecordExporter:
    """The OTLP exporter for ``protocol``. ``endpoint`` None lets the exporter read the standard
    ``OTEL_EXPORTER_OTLP_*`` variables itself (endpoint, headers, timeout, compression, certificates);
    an explicit base URL gets ``/v1/logs`` appended for HTTP."""
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpExporter

        if endpoint is not None and not endpoint.rstrip("/").endswith("/v1/logs"):
            endpoint = endpoint.rstrip("/") + "/v1/logs"
        return HttpExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

    return GrpcExporter(endpoint=endpoint)
