"""The test-support servers behave like the real things the suite relies on them to be."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import grpc  # type: ignore[import-untyped, unused-ignore]
import pytest
from opentelemetry import trace
from opentelemetry._logs import SeverityNumber
from opentelemetry.exporter.otlp.proto.grpc._log_exporter import OTLPLogExporter as GrpcLogExporter
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter as HttpLogExporter
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2_grpc import LogsServiceStub
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, ArrayValue, KeyValue, KeyValueList
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import LogRecordExporter, SimpleLogRecordProcessor
from opentelemetry.sdk.resources import Resource
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from tests.support.mongo_server import MongoServer, daemon_command_line
from tests.support.otlp_receiver import OTLPReceiver, decode_any_value
from tests.support.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
TRACE_ID = 0x0AF7651916CD43DD8448EB211C80319C
SPAN_ID = 0x00F067AA0BA902B7
TIMESTAMP_NS = 1_700_000_000_123_456_789


class TestWaitFor:
    def test_returns_the_first_truthy_value(self) -> None:
        """wait_for hands back what the predicate returned once it became truthy."""
        calls: list[int] = []

        def third_call_succeeds() -> list[int] | None:
            calls.append(1)
            return calls if len(calls) == 3 else None

        assert wait_for(third_call_succeeds, timeout=2, interval=0.001) == [1, 1, 1]

    def test_raises_with_message_and_last_value_at_the_deadline(self) -> None:
        """A predicate that never holds fails after the timeout, naming the message and the last value."""
        started = time.monotonic()
        with pytest.raises(AssertionError, match=r"^queue never drained \(after 0.10s; last value: 0\)$"):
            wait_for(lambda: 0, timeout=0.1, message="queue never drained")
        assert time.monotonic() - started >= 0.1


def _client(uri: str) -> MongoClient[dict[str, Any]]:
    return MongoClient(uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500)


class TestMongoServer:
    def test_restart_after_kill_keeps_acknowledged_writes(self, private_mongo_server: MongoServer) -> None:
        """A killed daemon restarts on the same port with every acknowledged write; stop() cleans up."""
        server = private_mongo_server
        uri, first_pid, workdir = server.uri, server.pid, server.workdir
        client = _client(uri)
        client.app.runs.insert_one({"_id": "run-1", "status": "running"})
        server.kill()
        assert not server.running
        with pytest.raises(PyMongoError):
            client.app.runs.find_one({"_id": "run-1"})
        server.restart()
        assert (server.uri, server.workdir) == (uri, workdir)
        assert server.pid != first_pid
        assert client.app.runs.find_one({"_id": "run-1"}) == {"_id": "run-1", "status": "running"}
        client.close()
        second_pid = server.pid
        server.stop()
        assert not workdir.exists()
        assert daemon_command_line(second_pid) is None

    def test_fixtures_give_each_test_a_fresh_database(self, mongo_db: Database[dict[str, Any]]) -> None:
        """mongo_db is an empty, uniquely named database on a live server."""
        assert mongo_db.name.startswith("t_") and len(mongo_db.name) == 10
        assert mongo_db.list_collection_names() == []
        mongo_db.records.insert_many([{"n": 1}, {"n": 2}])
        assert mongo_db.records.count_documents({}) == 2

    def test_script_starts_a_detached_daemon_and_stops_exactly_it(self, tmp_path: Path) -> None:
        """scripts/test_mongo.py leaves a reachable daemon behind after start, and stop ends it."""
        pidfile, urifile = tmp_path / "mongo.pid", tmp_path / "mongo.uri"
        script = [sys.executable, str(REPO_ROOT / "scripts" / "test_mongo.py")]
        subprocess.run([*script, "start", "--pidfile", str(pidfile), "--urifile", str(urifile)], check=True)
        pid, uri = int(pidfile.read_text()), urifile.read_text().strip()
        try:
            argv = daemon_command_line(pid)
            assert argv is not None and os.getsid(pid) == pid
            client = _client(uri)
            assert client.admin.command("ping")["ok"] == 1.0
            client.close()
        finally:
            subprocess.run([*script, "stop", "--pidfile", str(pidfile)], check=True)
        assert daemon_command_line(pid) is None
        assert not pidfile.exists()
        assert not Path(argv[argv.index("--storage-path") + 1]).parent.exists()


def _provider(exporter: LogRecordExporter) -> LoggerProvider:
    provider = LoggerProvider(resource=Resource.create({"service.name": "billing-worker"}))
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    return provider


def _emit_in_span(provider: LoggerProvider, body: Any) -> None:
    span = NonRecordingSpan(SpanContext(TRACE_ID, SPAN_ID, is_remote=False, trace_flags=TraceFlags(1)))
    provider.get_logger("billing.jobs", "1.2.3").emit(
        body=body,
        timestamp=TIMESTAMP_NS,
        severity_number=SeverityNumber.WARN,
        severity_text="WARNING",
        attributes={"jobId": "job-7", "attempt": 2, "ratio": 0.5, "retry": True, "tags": ["a", "b"]},
        context=trace.set_span_in_context(span),
    )


class TestOTLPReceiver:
    def test_grpc_exporter_records_arrive_decoded(self, otlp_receiver: OTLPReceiver) -> None:
        """A record sent by the stock OTLP/gRPC exporter arrives with body, attributes, resource and ids."""
        exporter = GrpcLogExporter(endpoint=otlp_receiver.grpc_endpoint, insecure=True, headers={"x-tenant": "t1"})
        provider = _provider(exporter)
        _emit_in_span(provider, "invoice sent")
        provider.shutdown()
        [record] = otlp_receiver.wait_for_records(1, timeout=5)
        assert record.body == "invoice sent"
        assert (record.severity_text, record.severity_number) == ("WARNING", SeverityNumber.WARN.value)
        assert record.attributes == {"jobId": "job-7", "attempt": 2, "ratio": 0.5, "retry": True, "tags": ["a", "b"]}
        assert record.resource["service.name"] == "billing-worker"
        assert (record.scope_name, record.scope_version) == ("billing.jobs", "1.2.3")
        assert (record.trace_id, record.span_id) == (f"{TRACE_ID:032x}", f"{SPAN_ID:016x}")
        assert (record.time_unix_nano, record.observed_time_unix_nano > 0) == (TIMESTAMP_NS, True)
        assert (record.transport, record.headers["x-tenant"]) == ("grpc", "t1")

    def test_http_exporter_with_gzip_records_arrive_decoded(self, otlp_receiver: OTLPReceiver) -> None:
        """The stock OTLP/HTTP exporter's gzip-compressed protobuf is decoded, structured body included."""
        exporter = HttpLogExporter(
            endpoint=f"{otlp_receiver.http_endpoint}/v1/logs", compression=Compression.Gzip, headers={"X-Tenant": "t2"}
        )
        provider = _provider(exporter)
        _emit_in_span(provider, {"event": "invoice sent", "lines": [1, 2]})
        provider.shutdown()
        [record] = otlp_receiver.wait_for_records(1, timeout=5)
        assert record.body == {"event": "invoice sent", "lines": [1, 2]}
        assert record.attributes["jobId"] == "job-7"
        assert record.resource["service.name"] == "billing-worker"
        assert record.severity_text == "WARNING"
        assert record.trace_id == f"{TRACE_ID:032x}"
        assert (record.transport, record.headers["x-tenant"], record.headers["content-encoding"]) == (
            "http",
            "t2",
            "gzip",
        )

    def test_refusing_answers_unavailable_and_503_and_counts(self, otlp_receiver: OTLPReceiver) -> None:
        """While refusing, both transports reject exports and keep nothing; afterwards they accept again."""
        request = ExportLogsServiceRequest(
            resource_logs=[
                ResourceLogs(scope_logs=[ScopeLogs(log_records=[LogRecord(body=AnyValue(string_value="x"))])])
            ]
        )
        payload = gzip.compress(request.SerializeToString())
        post = urllib.request.Request(
            f"{otlp_receiver.http_endpoint}/v1/logs",
            data=payload,
            headers={"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"},
        )
        channel = grpc.insecure_channel(otlp_receiver.grpc_endpoint.removeprefix("http://"))
        stub = LogsServiceStub(channel)  # type: ignore[no-untyped-call]

        otlp_receiver.refuse(True)
        with pytest.raises(grpc.RpcError) as refused_rpc:
            stub.Export(request, timeout=5)
        assert refused_rpc.value.code() == grpc.StatusCode.UNAVAILABLE
        with pytest.raises(urllib.error.HTTPError) as refused_post:
            urllib.request.urlopen(post, timeout=5)
        refused_post.value.close()
        assert refused_post.value.code == 503
        assert (otlp_receiver.refused_requests, otlp_receiver.records()) == (2, [])

        otlp_receiver.refuse(False)
        stub.Export(request, timeout=5)
        with urllib.request.urlopen(post, timeout=5) as response:
            assert (response.status, response.headers["Content-Type"]) == (200, "application/x-protobuf")
        channel.close()
        assert [r.transport for r in otlp_receiver.wait_for_records(2, timeout=5)] == ["grpc", "http"]
        assert otlp_receiver.accepted_requests == 2

    def test_wait_for_records_fails_when_too_few_arrive(self, otlp_receiver: OTLPReceiver) -> None:
        """Waiting for records that never come fails with the count received."""
        with pytest.raises(AssertionError, match=r"expected 1 OTLP log records within 0\.05s, received 0"):
            otlp_receiver.wait_for_records(1, timeout=0.05)

    def test_any_value_decodes_every_kind_recursively(self) -> None:
        """Each AnyValue kind becomes the matching Python value, nested arrays and kvlists included."""
        nested = KeyValueList(
            values=[
                KeyValue(key="s", value=AnyValue(string_value="text")),
                KeyValue(key="b", value=AnyValue(bool_value=False)),
                KeyValue(key="i", value=AnyValue(int_value=-3)),
                KeyValue(key="d", value=AnyValue(double_value=1.5)),
                KeyValue(key="raw", value=AnyValue(bytes_value=b"\x00\x01")),
                KeyValue(key="empty", value=AnyValue()),
            ]
        )
        value = AnyValue(array_value=ArrayValue(values=[AnyValue(kvlist_value=nested), AnyValue(int_value=7)]))
        assert decode_any_value(value) == [
            {"s": "text", "b": False, "i": -3, "d": 1.5, "raw": b"\x00\x01", "empty": None},
            7,
        ]
