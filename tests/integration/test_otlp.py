"""OTLP forwarding: records reach a real OTLP receiver over gRPC and HTTP/protobuf, with the execution
attributes and the resource a backend searches by, configured by argument or by the standard variables."""

from __future__ import annotations

import io
import logging
import os
from typing import Any

import pytest
from pymongo import MongoClient

import otel_revops
from otel_revops.config import ConfigurationError, OtlpProtocol
from otel_revops.exporters.otlp import explicit_endpoint
from otel_revops.handler import BridgeHandler
from tests.support.otlp_receiver import OTLPReceiver, ReceivedLog
from tests.support.waiting import wait_for

PROTOCOLS: list[OtlpProtocol] = ["grpc", "http/protobuf"]
TRANSPORT = {"grpc": "grpc", "http/protobuf": "http"}

log = logging.getLogger("app.forwarding")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* or MongoDB variable of the surrounding shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("OTEL_") or name == "MONGODB_URI":
            monkeypatch.delenv(name)


def endpoint_for(receiver: OTLPReceiver, protocol: OtlpProtocol) -> str:
    """The receiver's base URL for ``protocol``."""
    return receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint


def log_one_execution() -> None:
    """One INFO record inside an execution, with an ``extra=`` property."""
    with otel_revops.execution_context(job_id="job-42", execution_id="exec-7", syncMode="incremental"):
        log.info("Synced %d contacts", 12, extra={"entity": "contacts"})


def only_record(receiver: OTLPReceiver) -> ReceivedLog:
    """The single record the receiver got (after waiting for it)."""
    (record,) = receiver.wait_for_records(1)
    return record


class TestForwarding:
    @pytest.mark.parametrize("protocol", PROTOCOLS)
    def test_record_arrives_with_execution_attributes_and_resource(
        self, protocol: OtlpProtocol, otlp_receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """configure_logging(otlp_endpoint=…) forwards body, severity, category, execution attributes and resource."""
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
        pipeline = otel_revops.configure_logging(
            otlp_endpoint=endpoint_for(otlp_receiver, protocol),
            otlp_protocol=protocol,
            service_name="revops-sync",
            console="none",
        )
        log_one_execution()
        assert pipeline.force_flush(5000)

        record = only_record(otlp_receiver)
        assert record.transport == TRANSPORT[protocol]
        assert record.body == "Synced 12 contacts"
        assert (record.severity_text, record.severity_number) == ("INFO", 9)
        assert record.scope_name == "app.forwarding"
        assert {key: record.attributes.get(key) for key in ("jobId", "executionId", "syncMode", "entity")} == {
            "jobId": "job-42",
            "executionId": "exec-7",
            "syncMode": "incremental",
            "entity": "contacts",
        }
        assert len(str(record.attributes["log.record.uid"])) == 24
        assert record.resource["service.name"] == "revops-sync"
        assert record.resource["deployment.environment"] == "staging"

    @pytest.mark.parametrize("protocol", PROTOCOLS)
    def test_standard_variables_alone_turn_forwarding_on_with_headers(
        self, protocol: OtlpProtocol, otlp_receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """OTEL_EXPORTER_OTLP_ENDPOINT / _PROTOCOL / _HEADERS: the receiver gets the record and the headers."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint_for(otlp_receiver, protocol))
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-api-key=secret-1,x-tenant=revops")
        pipeline = otel_revops.configure_logging(console="none")
        log_one_execution()
        assert pipeline.force_flush(5000)

        record = only_record(otlp_receiver)
        assert record.transport == TRANSPORT[protocol]
        assert record.attributes["executionId"] == "exec-7"
        assert record.headers["x-api-key"] == "secret-1"
        assert record.headers["x-tenant"] == "revops"

    def test_logs_variables_win_over_the_general_ones(
        self, otlp_receiver: OTLPReceiver, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """…_LOGS_ENDPOINT (a full URL, used as given) and …_LOGS_PROTOCOL beat the general variables."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", otlp_receiver.grpc_endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", f"{otlp_receiver.http_endpoint}/v1/logs")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_LOGS_PROTOCOL", "http/protobuf")
        pipeline = otel_revops.configure_logging(console="none")
        log_one_execution()
        assert pipeline.force_flush(5000)

        assert only_record(otlp_receiver).transport == "http"

    def test_otlp_beside_console_and_mongodb(
        self,
        otlp_receiver: OTLPReceiver,
        mongo_uri: str,
        mongo_client: MongoClient[dict[str, Any]],
        mongo_db_name: str,
    ) -> None:
        """The same record is on the console, in MongoDB and at the OTLP receiver."""
        console = io.StringIO()
        pipeline = otel_revops.configure_logging(
            console_stream=console,
            console_colors="never",
            mongodb_uri=mongo_uri,
            mongodb_database=mongo_db_name,
            otlp_endpoint=otlp_receiver.grpc_endpoint,
        )
        log_one_execution()
        assert pipeline.force_flush(5000)

        record = only_record(otlp_receiver)
        stored = list(mongo_client[mongo_db_name]["execution_logs"].find())
        assert [document["message"] for document in stored] == ["Synced 12 contacts"]
        assert str(stored[0]["_id"]) == record.attributes["log.record.uid"]
        assert stored[0]["jobId"] == "job-42"
        assert console.getvalue().count("Synced 12 contacts") == 1


class TestRequestSizeLimit:
    @pytest.mark.parametrize("protocol", PROTOCOLS)
    def test_a_batch_over_the_receivers_limit_arrives_in_parts(
        self, protocol: OtlpProtocol, capfd: pytest.CaptureFixture[str]
    ) -> None:
        """A receiver that takes at most 64 KiB a request refuses a 200-record batch of 2 KiB records: the
        batch is sent again in parts, the next one is measured and sent in parts at once, and every record
        arrives once, in order."""
        with OTLPReceiver(max_request_bytes=64 * 1024) as receiver:
            pipeline = otel_revops.configure_logging(
                otlp_endpoint=endpoint_for(receiver, protocol),
                otlp_protocol=protocol,
                otlp_max_request_bytes=64 * 1024,
                console="none",
                spool=False,
                export_batch_size=200,
                export_delay_ms=60_000,
            )
            for n in range(400):
                log.info("payload %d", n, extra={"n": n, "payload": "x" * 2048})
            assert pipeline.force_flush(60_000)

            records = receiver.wait_for_records(400)
            assert [r.attributes["n"] for r in records] == list(range(400))
            stats = pipeline.stats()["exporters"]["OTLPLogExporter"]
            # Each halving of a batch over the limit counts: the 200-record batches were cut to parts of 25.
            assert stats["destination"]["split_batches"] >= 2
            assert stats["failed_attempts"] == 0
            assert receiver.accepted_requests >= 8
        assert "sending it in" in capfd.readouterr().err

    def test_a_batch_within_the_limit_stays_refused(self) -> None:
        """A refusal that is not about size (the receiver is refusing everything) does not split the batch."""
        with OTLPReceiver() as receiver:
            receiver.refuse()
            pipeline = otel_revops.configure_logging(
                otlp_endpoint=receiver.http_endpoint,
                otlp_protocol="http/protobuf",
                console="none",
                spool=False,
            )
            for n in range(20):
                log.info("small %d", n)
            wait_for(lambda: receiver.refused_requests >= 1, timeout=20, message="a refused request")
            receiver.refuse(False)
            assert pipeline.force_flush(30_000)
            assert [r.body for r in receiver.wait_for_records(20)] == [f"small {n}" for n in range(20)]
            assert pipeline.stats()["exporters"]["OTLPLogExporter"]["destination"]["split_batches"] == 0


class TestSettings:
    def test_bad_protocol_names_the_variable_and_changes_nothing(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """An unknown OTLP protocol raises naming the variable and the allowed values; no handler is added."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
        handlers = list(logging.getLogger().handlers)
        with pytest.raises(
            ConfigurationError, match=r"OTEL_EXPORTER_OTLP_PROTOCOL.*'http/json'.*'grpc', 'http/protobuf'"
        ):
            otel_revops.configure_logging()
        assert logging.getLogger().handlers == handlers
        assert not any(isinstance(handler, BridgeHandler) for handler in logging.getLogger().handlers)

    @pytest.mark.parametrize(
        ("endpoint", "env", "expected"),
        [
            (None, {}, None),
            ("http://a:4317", {}, "http://a:4317"),
            ("http://a:4317", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317"}, None),
            ("http://a:4318/v1/logs", {"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": " http://a:4318/v1/logs "}, None),
            ("http://b:4317", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4317"}, "http://b:4317"),
        ],
    )
    def test_an_endpoint_from_the_environment_is_left_to_the_exporter(
        self, endpoint: str | None, env: dict[str, str], expected: str | None
    ) -> None:
        """Only an endpoint given as an argument is passed on; the variables are read by the exporter itself."""
        assert explicit_endpoint(endpoint, env) == expected
