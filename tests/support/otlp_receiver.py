"""A real OTLP receiver of logs and metrics (gRPC and HTTP/protobuf) that keeps what it receives for assertions."""

from __future__ import annotations

import gzip
import threading
import zlib
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import TYPE_CHECKING, cast

# Neither grpcio nor protobuf ships type information; types-grpcio/types-protobuf add it when installed.
import grpc  # type: ignore[import-untyped, unused-ignore]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2_grpc
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = [
    "LOGS_PATH",
    "METRICS_PATH",
    "OTLPReceiver",
    "ReceivedLog",
    "ReceivedPoint",
    "decode_any_value",
    "decode_attributes",
    "flatten_metrics",
    "flatten_request",
]

LOGS_PATH = "/v1/logs"
METRICS_PATH = "/v1/metrics"
_PROTOBUF = "application/x-protobuf"


@dataclass(frozen=True)
class ReceivedLog:
    """One log record as it arrived, with every OTLP value decoded to plain Python."""

    body: object
    severity_text: str
    severity_number: int
    attributes: dict[str, object]
    resource: dict[str, object]
    scope_name: str
    scope_version: str
    trace_id: str
    span_id: str
    time_unix_nano: int
    observed_time_unix_nano: int
    event_name: str
    transport: str
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ReceivedPoint:
    """One metric data point as it arrived: a sum or gauge's ``value``, a histogram's ``count`` and ``sum``."""

    name: str
    kind: str
    attributes: dict[str, object]
    resource: dict[str, object]
    scope_name: str
    unit: str
    value: float
    count: int
    sum: float
    monotonic: bool
    time_unix_nano: int
    transport: str


def flatten_metrics(request: ExportMetricsServiceRequest, transport: str) -> list[ReceivedPoint]:
    """Return every data point of a metrics export request, each carrying its metric, resource and scope."""
    points = []
    for resource_metrics in request.resource_metrics:
        resource = decode_attributes(resource_metrics.resource.attributes)
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data") or ""
                data = getattr(metric, kind)
                for point in data.data_points:
                    number = point.WhichOneof("value") if kind in ("sum", "gauge") else None
                    points.append(
                        ReceivedPoint(
                            name=metric.name,
                            kind=kind,
                            attributes=decode_attributes(point.attributes),
                            resource=dict(resource),
                            scope_name=scope_metrics.scope.name,
                            unit=metric.unit,
                            value=float(getattr(point, number)) if number else 0.0,
                            count=int(getattr(point, "count", 0)),
                            sum=float(getattr(point, "sum", 0.0)),
                            monotonic=bool(getattr(data, "is_monotonic", False)),
                            time_unix_nano=point.time_unix_nano,
                            transport=transport,
                        )
                    )
    return points


def decode_any_value(value: AnyValue) -> object:
    """Return an OTLP ``AnyValue`` as Python: str, bool, int, float, bytes, list, dict, or ``None`` if unset."""
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [decode_any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return decode_attributes(value.kvlist_value.values)
    if kind is None:
        return None
    return getattr(value, kind)


def decode_attributes(pairs: Iterable[KeyValue]) -> dict[str, object]:
    """Return OTLP key/value pairs as a dict, values decoded recursively."""
    return {pair.key: decode_any_value(pair.value) for pair in pairs}


def flatten_request(request: ExportLogsServiceRequest, transport: str, headers: Mapping[str, str]) -> list[ReceivedLog]:
    """Return every log record of an export request, each carrying its resource and scope."""
    received = []
    for resource_logs in request.resource_logs:
        resource = decode_attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            for record in scope_logs.log_records:
                received.append(
                    ReceivedLog(
                        body=decode_any_value(record.body),
                        severity_text=record.severity_text,
                        severity_number=record.severity_number,
                        attributes=decode_attributes(record.attributes),
                        resource=dict(resource),
                        scope_name=scope_logs.scope.name,
                        scope_version=scope_logs.scope.version,
                        trace_id=record.trace_id.hex(),
                        span_id=record.span_id.hex(),
                        time_unix_nano=record.time_unix_nano,
                        observed_time_unix_nano=record.observed_time_unix_nano,
                        event_name=record.event_name,
                        transport=transport,
                        headers=dict(headers),
                    )
                )
    return received


def _metadata_text(value: str | bytes) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else value


class _LogsServicer(logs_service_pb2_grpc.LogsServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(self, request: ExportLogsServiceRequest, context: grpc.ServicerContext) -> ExportLogsServiceResponse:
        headers = {key.lower(): _metadata_text(value) for key, value in context.invocation_metadata()}
        if not self._receiver._accept(request, "grpc", headers):
            context.abort(grpc.StatusCode.UNAVAILABLE, "receiver is refusing exports")
        return ExportLogsServiceResponse()


class _MetricsServicer(metrics_service_pb2_grpc.MetricsServiceServicer):
    def __init__(self, receiver: OTLPReceiver) -> None:
        self._receiver = receiver

    def Export(
        self, request: ExportMetricsServiceRequest, context: grpc.ServicerContext
    ) -> ExportMetricsServiceResponse:
        self._receiver._accept_metrics(request, "grpc")
        return ExportMetricsServiceResponse()


class _ReceiverHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, receiver: OTLPReceiver) -> None:
        super().__init__(("127.0.0.1", 0), _LogsHTTPHandler)
        self.receiver = receiver


class _LogsHTTPHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        limit = cast(_ReceiverHTTPServer, self.server).receiver.max_request_bytes
        if limit is not None and len(body) > limit:
            self._reply(413, b"request body too large")
            return
        path = self.path.split("?", 1)[0]
        if path not in (LOGS_PATH, METRICS_PATH):
            self._reply(404, b"")
            return
        if self.headers.get_content_type() != _PROTOBUF:
            self._reply(415, b"only application/x-protobuf is supported")
            return
        try:
            if path == METRICS_PATH:
                metrics = ExportMetricsServiceRequest.FromString(self._decompress(body))
            else:
                request = ExportLogsServiceRequest.FromString(self._decompress(body))
        except (OSError, zlib.error, EOFError, DecodeError, ValueError) as error:
            self._reply(400, f"undecodable export request: {error}".encode())
            return
        if path == METRICS_PATH:
            cast(_ReceiverHTTPServer, self.server).receiver._accept_metrics(metrics, "http")
            self._reply(200, ExportMetricsServiceResponse().SerializeToString(), _PROTOBUF)
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        receiver = cast(_ReceiverHTTPServer, self.server).receiver
        if not receiver._accept(request, "http", headers):
            self._reply(503, b"receiver is refusing exports")
            return
        self._reply(200, ExportLogsServiceResponse().SerializeToString(), _PROTOBUF)

    def _decompress(self, body: bytes) -> bytes:
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            return gzip.decompress(body)
        if encoding == "deflate":
            return zlib.decompress(body)
        if encoding == "identity":
            return body
        raise ValueError(f"unsupported Content-Encoding {encoding!r}")

    def _reply(self, status: int, payload: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:
        """Keep the per-request access log out of the test output."""


class OTLPReceiver:
    """Receives OTLP log and metric exports over gRPC and HTTP/protobuf on 127.0.0.1 and keeps them as
    ``ReceivedLog`` and ``ReceivedPoint``.

    ``refuse(True)`` makes both transports answer log exports with UNAVAILABLE / HTTP 503 until
    ``refuse(False)`` (metrics are always taken, so that a test can watch an outage through them);
    refused requests are counted and their records dropped, as a collector that is down would.
    ``max_request_bytes`` refuses larger requests as a collector does (gRPC's receive limit:
    RESOURCE_EXHAUSTED; HTTP: 413), without counting them.
    """

    def __init__(self, max_request_bytes: int | None = None) -> None:
        """Describe a receiver; nothing listens until ``start()``."""
        self.max_request_bytes = max_request_bytes
        self._changed = threading.Condition()
        self._records: list[ReceivedLog] = []
        self._points: list[ReceivedPoint] = []
        self._refusing = False
        self._accepted_requests = 0
        self._refused_requests = 0
        self._grpc_server: grpc.Server | None = None
        self._grpc_port = 0
        self._http_server: _ReceiverHTTPServer | None = None
        self._http_thread: threading.Thread | None = None

    @property
    def grpc_endpoint(self) -> str:
        """Where an OTLP/gRPC exporter sends: ``http://127.0.0.1:PORT``."""
        if self._grpc_server is None:
            raise RuntimeError("OTLPReceiver is not running")
        return f"http://127.0.0.1:{self._grpc_port}"

    @property
    def http_endpoint(self) -> str:
        """The OTLP/HTTP base URL ``http://127.0.0.1:PORT``; exporters append ``/v1/logs``."""
        if self._http_server is None:
            raise RuntimeError("OTLPReceiver is not running")
        return f"http://127.0.0.1:{self._http_server.server_address[1]}"

    @property
    def accepted_requests(self) -> int:
        """How many export requests were accepted (one request carries a batch of records)."""
        with self._changed:
            return self._accepted_requests

    @property
    def refused_requests(self) -> int:
        """How many export requests were refused while ``refuse(True)`` was in force."""
        with self._changed:
            return self._refused_requests

    def start(self) -> Self:
        """Start both transports on free ports and return ``self``."""
        if self._grpc_server is not None:
            raise RuntimeError("OTLPReceiver already running")
        options = (
            [] if self.max_request_bytes is None else [("grpc.max_receive_message_length", self.max_request_bytes)]
        )
        grpc_server = grpc.server(
            ThreadPoolExecutor(max_workers=4, thread_name_prefix="otlp-receiver-grpc"), options=options
        )
        # The generated registration function carries no annotations.
        logs_service_pb2_grpc.add_LogsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _LogsServicer(self), grpc_server
        )
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(  # type: ignore[no-untyped-call]
            _MetricsServicer(self), grpc_server
        )
        self._grpc_port = grpc_server.add_insecure_port("127.0.0.1:0")
        grpc_server.start()
        self._grpc_server = grpc_server
        self._http_server = _ReceiverHTTPServer(self)
        self._http_thread = threading.Thread(
            target=self._http_server.serve_forever, kwargs={"poll_interval": 0.05}, name="otlp-receiver-http"
        )
        self._http_thread.daemon = True
        self._http_thread.start()
        return self

    def stop(self) -> None:
        """Shut both transports down; a second call does nothing."""
        grpc_server, self._grpc_server = self._grpc_server, None
        http_server, self._http_server = self._http_server, None
        if grpc_server is not None:
            grpc_server.stop(grace=None).wait()
        if http_server is not None:
            http_server.shutdown()
            http_server.server_close()
        if self._http_thread is not None:
            self._http_thread.join()
            self._http_thread = None

    def refuse(self, refusing: bool = True) -> None:
        """Answer every export with UNAVAILABLE / 503 while ``refusing`` is true."""
        with self._changed:
            self._refusing = refusing

    def records(self) -> list[ReceivedLog]:
        """A snapshot of every record received so far, in arrival order."""
        with self._changed:
            return list(self._records)

    def wait_for_records(self, count: int, timeout: float = 10.0) -> list[ReceivedLog]:
        """Wait until at least ``count`` records arrived and return them all; ``AssertionError`` on deadline."""
        with self._changed:
            if self._changed.wait_for(lambda: len(self._records) >= count, timeout=timeout):
                return list(self._records)
            received = len(self._records)
        raise AssertionError(f"expected {count} OTLP log records within {timeout}s, received {received}")

    def metric_points(self) -> list[ReceivedPoint]:
        """A snapshot of every metric data point received so far, in arrival order."""
        with self._changed:
            return list(self._points)

    def wait_for_metrics(
        self,
        predicate: Callable[[dict[tuple[str, frozenset[tuple[str, object]]], ReceivedPoint]], bool],
        timeout: float = 10.0,
    ) -> dict[tuple[str, frozenset[tuple[str, object]]], ReceivedPoint]:
        """Wait until ``predicate`` holds for the latest point of each (metric name, attributes) and
        return those points; ``AssertionError`` with what arrived on deadline."""
        with self._changed:
            if self._changed.wait_for(lambda: predicate(self._latest()), timeout=timeout):
                return self._latest()
            latest = self._latest()
        raise AssertionError(f"metrics not as expected within {timeout}s; latest: {latest}")

    def _latest(self) -> dict[tuple[str, frozenset[tuple[str, object]]], ReceivedPoint]:
        latest: dict[tuple[str, frozenset[tuple[str, object]]], ReceivedPoint] = {}
        for point in self._points:
            latest[point.name, frozenset(point.attributes.items())] = point
        return latest

    def clear(self) -> None:
        """Forget received records and reset both request counters."""
        with self._changed:
            self._records.clear()
            self._points.clear()
            self._accepted_requests = 0
            self._refused_requests = 0

    def __enter__(self) -> Self:
        """Start the receiver."""
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop the receiver."""
        self.stop()

    def _accept(self, request: ExportLogsServiceRequest, transport: str, headers: Mapping[str, str]) -> bool:
        with self._changed:
            if self._refusing:
                self._refused_requests += 1
                return False
            self._records.extend(flatten_request(request, transport, headers))
            self._accepted_requests += 1
            self._changed.notify_all()
            return True

    def _accept_metrics(self, request: ExportMetricsServiceRequest, transport: str) -> None:
        with self._changed:
            self._points.extend(flatten_metrics(request, transport))
            self._changed.notify_all()
