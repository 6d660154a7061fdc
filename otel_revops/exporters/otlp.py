"""The stock OTLP log exporter, chosen by protocol (``grpc`` or ``http/protobuf``), kept under the
receiver's request size limit.

A receiver refuses a request larger than its limit (the OpenTelemetry Collector: 4 MiB over gRPC by
default, ``max_recv_msg_size_mib``; 20 MiB over HTTP, ``max_request_body_size``), and it would refuse
the same batch on every retry. :class:`RequestSizeLimit` looks at a refused batch: when its request is
over ``max_request_bytes`` it is sent again in parts under the limit, halved as often as needed, and
from then on batches are measured before they are sent. A batch within the limit, or a single record
over it, stays refused (and held for retry).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_revops.config import OtlpProtocol
from otel_revops.diagnostics import warn
from otel_revops.processor import spool_key

__all__ = ["LOGS_PATH", "RequestSizeLimit", "create_otlp_exporter", "explicit_endpoint"]

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


def _parts(batch: Sequence[ReadableLogRecord], limit: int) -> list[Sequence[ReadableLogRecord]]:
    """``batch`` cut in halves until each part's OTLP request (the protobuf both transports send) is
    within ``limit``, or is one record."""
    if len(batch) < 2 or encode_logs(batch).ByteSize() <= limit:
        return [batch]
    middle = len(batch) // 2
    return _parts(batch[:middle], limit) + _parts(batch[middle:], limit)


class RequestSizeLimit(LogRecordExporter):
    """``exporter``, with a refused batch whose request is over ``max_request_bytes`` sent again in parts.

    A part refused in turn fails the whole batch, which is then held and retried whole: the parts
    delivered before it are sent again (OTLP delivery is at least once). ``split_batches`` counts the
    batches sent in parts.
    """

    def __init__(self, exporter: LogRecordExporter, max_request_bytes: int) -> None:
        self.exporter = exporter
        self.max_request_bytes = max_request_bytes
        self.split_batches = 0

    @property
    def exporter_name(self) -> str:
        """The wrapped exporter's class name (what :meth:`LoggingPipeline.stats` files its counts under)."""
        return type(self.exporter).__name__

    @property
    def spool_key(self) -> str:
        """The wrapped exporter's destination: batches spooled for it replay into it."""
        return spool_key(self.exporter)

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Export ``batch``; if it is refused and its request is over the limit, export it in parts.
        Once the receiver has refused a request for its size, batches are measured before they are sent."""
        if self.split_batches and len(batch) > 1:
            parts = _parts(batch, self.max_request_bytes)
            if len(parts) > 1:
                return self._export_parts(batch, parts)
        result = self.exporter.export(batch)
        if result is LogRecordExportResult.SUCCESS or len(batch) < 2:
            return result
        parts = _parts(batch, self.max_request_bytes)
        return result if len(parts) == 1 else self._export_parts(batch, parts)

    def _export_parts(
        self, batch: Sequence[ReadableLogRecord], parts: list[Sequence[ReadableLogRecord]]
    ) -> LogRecordExportResult:
        self.split_batches += 1
        warn(
            f"otlp-split-{id(self)}",
            f"a batch of {len(batch)} records is over {self.max_request_bytes} bytes, the OTLP receiver's "
            f"request limit (OTEL_REVOPS_OTLP_MAX_REQUEST_BYTES): sending it in {len(parts)} parts",
        )
        for part in parts:
            if self.exporter.export(part) is not LogRecordExportResult.SUCCESS:
                return LogRecordExportResult.FAILURE
        return LogRecordExportResult.SUCCESS

    def stats(self) -> dict[str, int]:
        """``split_batches``: the batches sent in parts."""
        return {"split_batches": self.split_batches}

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the wrapped exporter."""
        return bool(self.exporter.force_flush(timeout_millis))

    def shutdown(self) -> None:
        """Shut the wrapped exporter down."""
        self.exporter.shutdown()  # type: ignore[no-untyped-call]


def create_otlp_exporter(endpoint: str | None, protocol: OtlpProtocol, max_request_bytes: int) -> RequestSizeLimit:
    """The OTLP exporter for ``protocol``, under :class:`RequestSizeLimit` (``max_request_bytes``: the
    ``otlp_max_request_bytes`` setting).

    ``endpoint`` None (or the value of the standard variables) lets the exporter read the
    ``OTEL_EXPORTER_OTLP_*`` variables itself: endpoint, headers, timeout, compression, certificates.
    Any other endpoint is a base URL: HTTP gets ``/v1/logs`` appended unless it already ends so.
    Headers and the rest still come from the environment.
    """
    endpoint = explicit_endpoint(endpoint)
    exporter: LogRecordExporter
    if protocol == "http/protobuf":
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpExporter

        if endpoint is not None and not endpoint.rstrip("/").endswith(LOGS_PATH):
            endpoint = endpoint.rstrip("/") + LOGS_PATH
        exporter = HttpExporter(endpoint=endpoint)
    else:
        from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcExporter

        exporter = GrpcExporter(endpoint=endpoint)
    return RequestSizeLimit(exporter, max_request_bytes)
