"""The pipeline's health as OpenTelemetry metrics: the four instruments reach a real OTLP receiver over
gRPC and HTTP with the pipeline's own counts, across an outage too; the application's own
MeterProvider is used when there is one; without a provider or an endpoint nothing is exported."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest
from opentelemetry import metrics

import otel_revops
from otel_revops._metrics_otlp import metrics_endpoint
from otel_revops.config import OtlpProtocol
from tests.support.otlp_receiver import OTLPReceiver, ReceivedPoint

PROTOCOLS: list[OtlpProtocol] = ["grpc", "http/protobuf"]
OTLP = "OTLPLogExporter"
FILE = "FileLogRecordExporter"

log = logging.getLogger("app.health")

Latest = dict[tuple[str, frozenset[tuple[str, object]]], ReceivedPoint]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* variable of the surrounding shell leaks in; metrics are exported every 100 ms."""
    for name in list(os.environ):
        if name.startswith("OTEL_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("OTEL_METRIC_EXPORT_INTERVAL", "100")


def point(latest: Latest, name: str, **attributes: str) -> ReceivedPoint | None:
    """The newest point of metric ``name`` with exactly ``attributes``."""
    return latest.get((name, frozenset(attributes.items())))


def value(latest: Latest, name: str, **attributes: str) -> float | None:
    found = point(latest, name, **attributes)
    return None if found is None else found.value


def records(latest: Latest, destination: str, outcome: str) -> float | None:
    return value(latest, "otel_revops.records", destination=destination, outcome=outcome)


def endpoint_for(receiver: OTLPReceiver, protocol: OtlpProtocol) -> str:
    return receiver.grpc_endpoint if protocol == "grpc" else receiver.http_endpoint


class TestToTheCollector:
    @pytest.mark.parametrize("protocol", PROTOCOLS)
    def test_the_four_metrics_arrive_with_the_pipelines_counts(
        self, protocol: OtlpProtocol, otlp_receiver: OTLPReceiver, tmp_path: Path
    ) -> None:
        """Records exported per destination, queues and spools empty, attempts timed; the resource is the logs'."""
        pipeline = otel_revops.configure_logging(
            otlp_endpoint=endpoint_for(otlp_receiver, protocol),
            otlp_protocol=protocol,
            file_path=str(tmp_path / "records.jsonl"),
            service_name="revops-health",
            console="none",
        )
        with otel_revops.execution_context(job_id="job-1", execution_id="exec-1"):
            for n in range(30):
                log.info("record %d", n)
        assert pipeline.force_flush(10_000)
        otlp_receiver.wait_for_records(30)

        def settled(latest: Latest) -> bool:
            duration = point(latest, "otel_revops.export.duration", destination=OTLP, outcome="ok")
            return (
                records(latest, OTLP, "exported") == 30
                and records(latest, FILE, "exported") == 30
                and value(latest, "otel_revops.queue.size", destination=OTLP) == 0
                and duration is not None
                and duration.count >= 1
            )

        latest = otlp_receiver.wait_for_metrics(settled, timeout=20)
        for destination in (OTLP, FILE):
            for outcome in ("held", "replayed", "refused", "dropped"):
                assert records(latest, destination, outcome) == 0, (destination, outcome)
            assert value(latest, "otel_revops.spool.bytes", destination=destination) == 0
        assert records(latest, "forwarder", "dropped") == 0
        counter = point(latest, "otel_revops.records", destination=OTLP, outcome="exported")
        assert counter is not None
        assert (counter.kind, counter.monotonic, counter.scope_name) == ("sum", True, "otel_revops")
        assert counter.transport == ("grpc" if protocol == "grpc" else "http")
        assert counter.resource["service.name"] == "revops-health"
        duration = point(latest, "otel_revops.export.duration", destination=FILE, outcome="ok")
        assert duration is not None
        assert (duration.kind, duration.unit) == ("histogram", "ms")
        assert duration.count >= 1
        assert duration.sum > 0

    def test_held_and_replayed_across_an_outage(self, otlp_receiver: OTLPReceiver) -> None:
        """While the collector refuses logs the records are held (in the spool, counted in bytes), the
        failed attempts timed as retries; when it is back they are replayed and the spool empties."""
        otlp_receiver.refuse()
        pipeline = otel_revops.configure_logging(
            otlp_endpoint=otlp_receiver.grpc_endpoint, console="none", retry_deadline_ms=200
        )
        for n in range(20):
            log.warning("during the outage %d", n)

        def held_on_disk(latest: Latest) -> bool:
            retries = point(latest, "otel_revops.export.duration", destination=OTLP, outcome="retry")
            return (
                records(latest, OTLP, "held") == 20
                and (value(latest, "otel_revops.spool.bytes", destination=OTLP) or 0) > 0
                and retries is not None
            )

        latest = otlp_receiver.wait_for_metrics(held_on_disk, timeout=30)
        assert records(latest, OTLP, "exported") == 0
        assert records(latest, OTLP, "replayed") == 0

        otlp_receiver.refuse(False)
        assert pipeline.force_flush(30_000)
        otlp_receiver.wait_for_records(20)
        latest = otlp_receiver.wait_for_metrics(
            lambda latest: (
                records(latest, OTLP, "replayed") == 20
                and value(latest, "otel_revops.spool.bytes", destination=OTLP) == 0
            ),
            timeout=30,
        )
        assert records(latest, OTLP, "exported") == 20
        assert records(latest, OTLP, "held") == 20
        assert records(latest, OTLP, "dropped") == 0

    def test_dropped_records_are_counted(self, otlp_receiver: OTLPReceiver) -> None:
        """Records dropped by a full queue (no spool, the collector down) are counted as the pipeline counts them."""
        otlp_receiver.refuse()
        pipeline = otel_revops.configure_logging(
            otlp_endpoint=otlp_receiver.grpc_endpoint,
            console="none",
            spool=False,
            max_queue_size=5,
            enqueue_timeout_ms=0,
        )
        for n in range(200):
            log.error("while full %d", n)
        pipeline.forwarder.flush(10_000)
        stats = pipeline.stats()
        exporter = stats["exporters"][OTLP]
        dropped = exporter["dropped_queue_full"] + exporter["dropped_shutdown"]
        forwarder_dropped = stats["forwarder"]["dropped"] + stats["forwarder"]["failed"]
        assert dropped + forwarder_dropped > 0
        latest = otlp_receiver.wait_for_metrics(
            lambda latest: (
                (records(latest, OTLP, "dropped") or 0) >= dropped
                and (records(latest, "forwarder", "dropped") or 0) >= forwarder_dropped
            ),
            timeout=20,
        )
        final = pipeline.stats()
        assert records(latest, OTLP, "dropped") == (
            final["exporters"][OTLP]["dropped_queue_full"] + final["exporters"][OTLP]["dropped_shutdown"]
        )
        assert records(latest, "forwarder", "dropped") == final["forwarder"]["dropped"] + final["forwarder"]["failed"]


class TestNoProvider:
    @pytest.mark.parametrize("how", ["no endpoint", "metrics off"])
    def test_nothing_is_exported_and_no_reader_runs(
        self, how: str, otlp_receiver: OTLPReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No application provider and no OTLP endpoint (or OTEL_REVOPS_METRICS=false): the instruments
        are the API's proxies, no metric reader thread starts, and the collector gets no metric."""
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", otlp_receiver.grpc_endpoint)
        if how == "metrics off":
            monkeypatch.setenv("OTEL_REVOPS_METRICS", "false")
            settings: dict[str, Any] = {"otlp_endpoint": otlp_receiver.grpc_endpoint}
        else:
            settings = {"file_path": str(tmp_path / "records.jsonl")}
        pipeline = otel_revops.configure_logging(console="none", **settings)
        for n in range(10):
            log.info("no metrics %d", n)
        assert pipeline.force_flush(10_000)
        assert pipeline.metrics.own_provider is None
        assert isinstance(metrics.get_meter_provider(), metrics._internal._ProxyMeterProvider)
        assert not [t for t in threading.enumerate() if t.name == "OtelPeriodicExportingMetricReader"]
        assert otel_revops.shutdown_logging(10_000)
        if how == "metrics off":
            otlp_receiver.wait_for_records(10)
        assert otlp_receiver.metric_points() == []


_APPLICATION_PROVIDER = """
import json, logging, sys
from opentelemetry import metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
import otel_revops

def set_provider():
    reader = InMemoryMetricReader()
    metrics.set_meter_provider(MeterProvider(metric_readers=[reader]))
    return reader

when, endpoint, path = sys.argv[1:]
if when == "before":
    reader = set_provider()
pipeline = otel_revops.configure_logging(console="none", otlp_endpoint=endpoint or None, file_path=path)
if when == "after":
    reader = set_provider()
for n in range(7):
    logging.getLogger("app").info("counted %d", n)
assert pipeline.force_flush(10_000)
found = {}
for resource_metrics in reader.get_metrics_data().resource_metrics:
    for scope_metrics in resource_metrics.scope_metrics:
        for metric in scope_metrics.metrics:
            for data_point in metric.data.data_points:
                key = metric.name + " " + ",".join(f"{k}={v}" for k, v in sorted(data_point.attributes.items()))
                found[key] = data_point.value if hasattr(data_point, "value") else data_point.count
print(json.dumps({"scope": scope_metrics.scope.name, "found": found}))
"""


class TestApplicationProvider:
    @pytest.mark.parametrize("when", ["before", "after"])
    def test_the_applications_meter_provider_is_used(
        self, when: str, otlp_receiver: OTLPReceiver, tmp_path: Path
    ) -> None:
        """A global MeterProvider reads the metrics: set before configure_logging (which then sends none
        to its OTLP endpoint), or after a configure_logging without an endpoint."""
        script = tmp_path / "app.py"
        script.write_text(textwrap.dedent(_APPLICATION_PROVIDER))
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
        endpoint = otlp_receiver.grpc_endpoint if when == "before" else ""
        result = subprocess.run(
            [sys.executable, str(script), when, endpoint, str(tmp_path / "records.jsonl")],
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout.strip().splitlines()[-1])
        found = report["found"]
        assert report["scope"] == "otel_revops"
        assert found[f"otel_revops.records destination={FILE},outcome=exported"] == 7
        assert found[f"otel_revops.records destination={FILE},outcome=dropped"] == 0
        assert found[f"otel_revops.export.duration destination={FILE},outcome=ok"] >= 1
        assert found[f"otel_revops.queue.size destination={FILE}"] == 0
        if when == "before":
            assert found[f"otel_revops.records destination={OTLP},outcome=exported"] == 7
            assert otlp_receiver.wait_for_records(7)
            assert otlp_receiver.metric_points() == []


class TestEndpoint:
    @pytest.mark.parametrize(
        ("endpoint", "protocol", "env", "expected"),
        [
            ("http://a:4317", "grpc", {}, "http://a:4317"),
            ("http://a:4318", "http/protobuf", {}, "http://a:4318/v1/metrics"),
            ("http://a:4318/v1/logs", "http/protobuf", {}, "http://a:4318/v1/metrics"),
            (
                "http://a:4318/",
                "http/protobuf",
                {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://b:4318"},
                "http://a:4318/v1/metrics",
            ),
            ("http://a:4318", "http/protobuf", {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://a:4318"}, None),
            ("http://a:4317", "grpc", {"OTEL_EXPORTER_OTLP_METRICS_ENDPOINT": "http://m:4317"}, None),
        ],
    )
    def test_metrics_go_beside_the_logs(
        self, endpoint: str, protocol: str, env: dict[str, str], expected: str | None
    ) -> None:
        """The logs' endpoint with /v1/metrics for HTTP; None when the standard variables say where."""
        assert metrics_endpoint(endpoint, protocol, env) == expected
