"""The stock OTLP log exporter, chosen by protocol (``grpc`` or ``http/protobuf``), as a destination of
the delivery layer that knows the receiver's request size limit.

A receiver refuses a request larger than its limit (the OpenTelemetry Collector: 4 MiB over gRPC by
default, ``max_recv_msg_size_mib``; 20 MiB over HTTP, ``max_request_body_size``), and it would refuse
the same batch on every retry. :class:`OtlpDestination` looks at a batch the exporter failed: when its
request is over ``max_request_bytes`` the batch is refused, and the delivery layer sends it again in
halves, down to a single record over the limit, which is counted as refused; from then on batches are
measured before they are sent. A batch within the limit that fails is retried.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence

from opentelemetry.exporter.otlp.proto.common._log_encoder import encode_logs
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

from otel_revops.config import OtlpProtocol
from otel_revops.delivery import Attempt, Destination, Done, Outcome, Refused, Retry
from otel_revops.diagnostics import warn

__all__ = ["LOGS_PATH", "OtlpDestination", "create_otlp_exporter", "explicit_endpoint"]

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


def _request_bytes(records: Sequence[ReadableLogRecord]) -> int:
    """The size of the OTLP request (the protobuf both transports send) holding ``records``."""
    return int(encode_logs(records).ByteSize())


class OtlpDestination(Destination, LogRecordExporter):
    """``exporter`` (a stock OTLP exporter) writing to ``endpoint`` over ``protocol``, whose receiver
    refuses requests over ``max_request_bytes``. ``split_batches`` counts the batches refused for their size.

    Its own ``export``, for a processor that does not retry, sends the batch as it is.
    """

    def __init__(
        self, exporter: LogRecordExporter, endpoint: str, protocol: OtlpProtocol, max_request_bytes: int
    ) -> None:
        self.exporter = exporter
        self.max_request_bytes = max_request_bytes
        self.name = type(exporter).__name__
        self.key = f"otlp-{hashlib.sha256(f'{protocol}|{endpoint}'.encode()).hexdigest()[:12]}"
        self.split_batches = 0
        self._measure = False

    def write(self, records: Sequence[ReadableLogRecord], attempt: Attempt) -> Outcome:
        """Send ``records``; a batch over the request limit is refused, to be sent in halves."""
        if self._measure and _request_bytes(records) > self.max_request_bytes:
            return self._too_large(records)
        if self.exporter.export(records) is LogRecordExportResult.SUCCESS:
            return Done()
        if _request_bytes(records) > self.max_request_bytes:
            self._measure = True
            return self._too_large(records)
        return Retry("the OTLP exporter could not send the batch")

    def _too_large(self, records: Sequence[ReadableLogRecord]) -> Refused:
        if len(records) > 1:
            self.split_batches += 1
            warn(
                f"otlp-split-{id(self)}",
                f"a batch of {len(records)} records is over {self.max_request_bytes} bytes, the OTLP receiver's "
                "request limit (OTEL_REVOPS_OTLP_MAX_REQUEST_BYTES): sending it in parts",
            )
        return Refused(f"the request is over {self.max_request_bytes} bytes, the receiver's limit")

    def counts(self) -> Mapping[str, int]:
        """``split_batches``: the batches refused for their size (and sent in parts)."""
        return {"split_batches": self.split_batches}

    def flush(self, timeout_millis: int) -> bool:
        """Flush the stock exporter."""
        return bool(self.exporter.force_flush(timeout_millis))

    def close(self, timeout_millis: int) -> None:
        """Shut the stock exporter down (it interrupts its own retry wait)."""
        self.exporter.shutdown()  # type: ignore[no-untyped-call]

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        """Send ``batch`` through the stock exporter, as it is."""
        return self.exporter.export(batch)

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the stock exporter."""
        return self.flush(timeout_millis)

    def shutdown(self) -> None:
        """Shut the stock exporter down."""
        self.close(0)


def create_otlp_exporter(endpoint: str | None, protocol: OtlpProtocol, max_request_bytes: int) -> OtlpDestination:
    """The OTLP exporter for ``protocol``, as an :class:`OtlpDestination` (``max_request_bytes``: the
    ``otlp_max_request_bytes`` setting).

    ``endpoint`` None (or the value of the standard variables) lets the exporter read the
    ``OTEL_EXPORTER_OTLP_*`` variables itself: endpoint, headers, timeout, compression, certificates.
    Any other endpoint is a base URL: HTTP gets ``/v1/logs`` appended unless it already ends so.
    Headers and the rest still come from the environment.
    """
    where = endpoint or next((os.environ[name] for name in _ENDPOINT_ENVS if os.environ.get(name, "").strip()), "")
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
    return OtlpDestination(exporter, where.strip(), protocol, max_request_bytes)
