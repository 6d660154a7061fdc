"""The stock OTLP log exporter, chosen by protocol (``grpc`` or ``http/protobuf``)."""

from __future__ import annotations

import os
from collections.abc import Mapping

from opentelemetry.sdk._logs.export import LogRecordExporter

from otel_revops.config import OtlpProtocol

__all__ = ["LOGS_PATH", "create_otlp_exporter", "explicit_endpoint"]

#: The path an OTLP/HTTP receiver takes logs on, appended to a base URL.
LOGS_PATH = "/v1/logs"
_ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


def explicit_endpoint(endpoint: str | None, env: Mapping[str, str] | None = None) -> str | None:
    """``endpoint``, or None when it is just what the standard environment variables say.

    The stock exporters read those variables themselves and apply the specification's rules
    (``…_LOGS_ENDPOINT`` is used as it is, ``OTEL_EXPORTER_OTLP_ENDPOINT`` gets ``/v1/logs``), so an
    endpoint that came from the environment is left to them.
    """
    if endpoint is None:
        return None
    environ = os.environ if env is None else env
    for name in _ENDPOINT_ENVS:
        value = environ.get(name, "").strip()
        if value:
            return None if value == endpoint.strip() else endpoint
    return endpoint


def create_otlp_exporter(endpoint: str | None, protocol: OtlpProtocol) -> LogRecordExporter:
    """The OTLP exporter for ``protocol``.

    ``endpoint`` None (or the value of the standard variables) lets the exporter read the
    ``OTEL_EXPORTER_OTLP_*`` variables itself: endpoint, headers, timeout, compression, certificates.
    Any other endpoint is a base URL: HTTP gets ``/v1/logs`` appended unless it already ends so.
    Headers and the rest still come from the environment.
    """
    endpoint = explicit_endpoint(endpoint)
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpExporter

        if endpoint is not None and not endpoint.rstrip("/").endswith(LOGS_PATH):
            endpoint = endpoint.rstrip("/") + LOGS_PATH
        return HttpExporter(endpoint=endpoint)
    from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

    return GrpcExporter(endpoint=endpoint)
