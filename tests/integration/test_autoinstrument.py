"""Zero-code start: ``opentelemetry-instrument python app.py`` configured by the environment alone.

The subprocess tests run the sample applications in ``tests/apps`` under the real
``opentelemetry-instrument`` and look where a user would: the console, MongoDB, an OTLP receiver.
The in-process tests pin the pieces: the exporter names, the stock OpenTelemetry handlers (stamped
with the execution context, or taken off), and the global provider's forwarding.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from opentelemetry._logs import LogRecord
from opentelemetry.instrumentation.logging.handler import LoggingHandler as ContribLoggingHandler
from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    BatchLogRecordProcessor,
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)
from pymongo import MongoClient

import otel_revops
from otel_revops.autoinstrument import adopt_logging_handlers
from otel_revops.autoinstrument.api_records import CurrentPipelineProcessor
from otel_revops.autoinstrument.exporter_names import LogsPlan, default_logs_exporters, plan_logs
from otel_revops.config import ConfigurationError
from otel_revops.exporters.mongodb import MongoLogRecordExporter
from otel_revops.handler import BridgeHandler
from tests.support.otlp_receiver import OTLPReceiver
from tests.support.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
APPS = ROOT / "tests" / "apps"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
BRIDGE = "otel_revops.handler.BridgeHandler"
SDK_HANDLER = "opentelemetry.sdk._logs._internal.LoggingHandler"
APP_TIMEOUT = 60
BAD_SETTING_MESSAGE = "otel-revops: logging was NOT set up by opentelemetry-instrument: "

Documents = list[dict[str, Any]]


def run_app(app: str, env: Mapping[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``tests/apps/<app>`` under ``opentelemetry-instrument`` with ``env`` over a copy of this
    process's environment without its OTEL_* and MongoDB variables; wait for it to exit."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("OTEL_") and name != "MONGODB_URI"
    }
    environment.update(env)
    return subprocess.run(
        [str(INSTRUMENT), sys.executable, str(APPS / app), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=APP_TIMEOUT,
        check=False,
    )


def app_report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    """The JSON line a sample application printed, after checking that it exited cleanly."""
    assert result.returncode == 0, f"exit {result.returncode}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    report: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return report


def history(client: MongoClient[dict[str, Any]], database: str) -> Documents:
    """The history documents stored in ``database``, oldest first."""
    return list(client[database]["execution_logs"].find().sort("timestamp", 1))


def in_memory_exporter() -> InMemoryLogRecordExporter:
    """The SDK's exporter that keeps what it is given."""
    return InMemoryLogRecordExporter()  # type: ignore[no-untyped-call]


def mongo_env(uri: str, database: str) -> dict[str, str]:
    """The variables pointing the MongoDB exporter at the test's database."""
    return {"OTEL_REVOPS_MONGODB_URI": uri, "OTEL_REVOPS_MONGODB_DATABASE": database}


class TestZeroCodeStart:
    @pytest.mark.parametrize(("protocol", "transport"), [("grpc", "grpc"), ("http/protobuf", "http")])
    def test_environment_alone_sets_up_console_mongodb_and_otlp(
        self,
        protocol: str,
        transport: str,
        otlp_receiver: OTLPReceiver,
        mongo_uri: str,
        mongo_client: MongoClient[dict[str, Any]],
        mongo_db_name: str,
    ) -> None:
        """OTEL_PYTHON_DISTRO=otel_revops: one bridge handler; records on the console once, in MongoDB and at
        the OTLP receiver, with execution attributes, resource and the configured headers."""
        endpoint = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
        result = run_app(
            "plain_app.py",
            {
                "OTEL_PYTHON_DISTRO": "otel_revops",
                **mongo_env(mongo_uri, mongo_db_name),
                "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
                "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
                "OTEL_EXPORTER_OTLP_HEADERS": "x-api-key=secret-1",
                "OTEL_SERVICE_NAME": "plain-app",
                "OTEL_RESOURCE_ATTRIBUTES": "deployment.environment=staging",
                "OTEL_REVOPS_CONSOLE_COLORS": "never",
            },
        )

        assert app_report(result)["handlers"] == [BRIDGE]
        for message in ("Outside any execution", "Job execution started: 3 rows", "Job execution finished"):
            assert result.stderr.count(f"app.sync: {message}") == 1, result.stderr
        assert '"executionId": "exec-7"' in result.stderr

        stored = history(mongo_client, mongo_db_name)
        assert [document["message"] for document in stored] == [
            "Job execution started: 3 rows",
            "Job execution finished",
        ]
        assert {(d["jobId"], d["executionId"], d["service"]) for d in stored} == {("job-42", "exec-7", "plain-app")}
        assert stored[0]["metadata"]["syncMode"] == "incremental"
        assert stored[0]["metadata"]["rows"] == 3

        received = [record for record in otlp_receiver.wait_for_records(3) if record.scope_name == "app.sync"]
        assert [record.body for record in received] == [
            "Outside any execution",
            "Job execution started: 3 rows",
            "Job execution finished",
        ]
        started = received[1]
        assert (started.attributes["jobId"], started.attributes["executionId"]) == ("job-42", "exec-7")
        assert started.attributes["log.record.uid"] == str(stored[0]["_id"])
        assert started.resource["service.name"] == "plain-app"
        assert started.resource["deployment.environment"] == "staging"
        assert started.transport == transport
        assert started.headers["x-api-key"] == "secret-1"

    def test_configure_logging_in_the_app_replaces_the_auto_pipeline(
        self, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]], mongo_db_name: str
    ) -> None:
        """An app that calls configure_logging() itself ends with one bridge handler; nothing is logged twice,
        even with the SDK's handler switched on by its variable."""
        result = run_app(
            "configuring_app.py",
            {
                "OTEL_PYTHON_DISTRO": "otel_revops",
                "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
                **mongo_env(mongo_uri, mongo_db_name),
            },
        )

        report = app_report(result)
        assert report["before"] == [BRIDGE]
        assert report["handlers"] == [BRIDGE]
        assert result.stderr.count("app.configured: Before configure_logging") == 1
        assert result.stderr.count("app.configured: After configure_logging") == 1
        assert "Skipping installation of LoggingHandler" not in result.stderr
        stored = history(mongo_client, mongo_db_name)
        assert [document["message"] for document in stored] == ["Before configure_logging", "After configure_logging"]

    def test_stock_distro_with_only_the_mongodb_exporter(
        self, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]], mongo_db_name: str
    ) -> None:
        """The stock distro and configurator, OTEL_LOGS_EXPORTER=mongodb and the SDK's handler: records bound with
        execution_context reach MongoDB; pymongo at DEBUG does not feed back. (The stock distro would send traces
        and metrics to an OTLP collector on localhost; there is none here.)"""
        result = run_app(
            "plain_app.py",
            {
                "OTEL_PYTHON_DISTRO": "distro",
                "OTEL_PYTHON_CONFIGURATOR": "configurator",
                "OTEL_LOGS_EXPORTER": "mongodb",
                "OTEL_TRACES_EXPORTER": "none",
                "OTEL_METRICS_EXPORTER": "none",
                "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
                **mongo_env(mongo_uri, mongo_db_name),
            },
            "--pymongo-debug",
        )

        assert SDK_HANDLER in app_report(result)["handlers"]
        stored = history(mongo_client, mongo_db_name)
        assert [document["message"] for document in stored] == [
            "Job execution started: 3 rows",
            "Job execution finished",
        ]
        assert {(d["jobId"], d["executionId"]) for d in stored} == {("job-42", "exec-7")}
        assert stored[0]["metadata"]["syncMode"] == "incremental"


class TestBadSettings:
    def test_bad_setting_is_reported_and_the_app_runs_without_the_library_logging(
        self, mongo_uri: str, mongo_db_name: str
    ) -> None:
        """A bad OTEL_REVOPS_* value: one clear line on stderr naming it; the app runs with its own logging."""
        result = run_app(
            "plain_app.py",
            {
                "OTEL_PYTHON_DISTRO": "otel_revops",
                **mongo_env(mongo_uri, mongo_db_name),
                "OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT": "lots",
            },
        )

        report = app_report(result)
        assert BRIDGE not in report["handlers"]
        assert (
            f"{BAD_SETTING_MESSAGE}mongodb_embedded_limit (OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT)='lots' is not valid: "
            "expected an integer from 1 to 100000\n"
        ) in result.stderr
        # The application's own logging.basicConfig() console took over.
        assert "INFO:app.sync:Job execution started: 3 rows" in result.stderr

    def test_unknown_exporter_name_is_reported_with_the_known_names(self) -> None:
        """OTEL_LOGS_EXPORTER with a typo: the error names it and lists what is installed."""
        result = run_app(
            "plain_app.py", {"OTEL_PYTHON_DISTRO": "otel_revops", "OTEL_LOGS_EXPORTER": "revops_console,mongo"}
        )

        assert BRIDGE not in app_report(result)["handlers"]
        line = next(line for line in result.stderr.splitlines() if line.startswith(BAD_SETTING_MESSAGE))
        assert "OTEL_LOGS_EXPORTER='revops_console,mongo' is not valid: unknown exporter 'mongo'" in line
        assert "mongodb" in line
        assert "revops_console" in line


class TestExporterNames:
    def test_default_follows_what_is_configured(self) -> None:
        """The console always; MongoDB when a URI is set; OTLP when an endpoint is."""
        assert default_logs_exporters({}) == "revops_console"
        assert default_logs_exporters({"MONGODB_URI": "mongodb://db"}) == "revops_console,mongodb"
        assert (
            default_logs_exporters(
                {"OTEL_REVOPS_MONGODB_URI": "mongodb://db", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}
            )
            == "revops_console,mongodb,otlp"
        )
        assert default_logs_exporters({"OTEL_EXPORTER_OTLP_LOGS_ENDPOINT": " http://c "}) == "revops_console,otlp"

    def test_names_map_to_pipeline_pieces(self) -> None:
        """Our console, MongoDB, OTLP (with the protocol a name fixes), the SDK console and other entry points."""
        registered = {"revops_console", "mongodb", "console", "otlp_proto_grpc", "otlp_proto_http", "file"}
        assert plan_logs(" revops_console , mongodb,otlp_proto_http,console,file,file", registered) == LogsPlan(
            console=True, mongodb=True, otlp=True, otlp_protocol="http/protobuf", sdk_console=True, others=("file",)
        )
        assert plan_logs("otlp", registered) == LogsPlan(otlp=True)
        assert plan_logs("none", registered) == LogsPlan()

    def test_unknown_and_contradictory_names_raise(self) -> None:
        """A name no entry point has, or both OTLP protocols, raise naming OTEL_LOGS_EXPORTER."""
        with pytest.raises(ConfigurationError, match=r"OTEL_LOGS_EXPORTER='mongo'.*unknown exporter 'mongo'"):
            plan_logs("mongo", {"mongodb"})
        with pytest.raises(ConfigurationError, match="both OTLP protocols"):
            plan_logs("otlp_proto_grpc,otlp_proto_http", set())


@pytest.fixture
def sdk_provider() -> Iterator[tuple[LoggerProvider, InMemoryLogRecordExporter]]:
    """A stock SDK provider exporting synchronously into memory, shut down after the test."""
    provider = LoggerProvider(shutdown_on_exit=False)
    exporter = in_memory_exporter()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    try:
        yield provider, exporter
    finally:
        provider.shutdown()


class _Reached(logging.Filter):
    """Placed after the library's filter on a handler: notes each record the handler goes on to emit."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[tuple[str, str | None]] = []

    def filter(self, record: logging.LogRecord) -> bool:
        self.records.append((record.name, record.threadName))
        return True


class _Everything(logging.Handler):
    """Notes every record logged anywhere, with its thread."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[tuple[str, str | None]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.threadName))


class TestStockHandlers:
    def test_stock_handler_carries_the_execution_context(
        self, sdk_provider: tuple[LoggerProvider, InMemoryLogRecordExporter]
    ) -> None:
        """The contrib LoggingHandler, adopted, exports the execution attributes bound on the calling thread."""
        provider, exporter = sdk_provider
        root = logging.getLogger()
        root.addHandler(ContribLoggingHandler(logger_provider=provider))
        root.setLevel(logging.INFO)
        adopt_logging_handlers()
        with otel_revops.execution_context(job_id="job-42", execution_id="exec-7", syncMode="full"):
            logging.getLogger("app").info("stamped")
        (readable,) = exporter.get_finished_logs()
        attributes = dict(readable.log_record.attributes or {})
        assert {key: attributes.get(key) for key in ("jobId", "executionId", "syncMode")} == {
            "jobId": "job-42",
            "executionId": "exec-7",
            "syncMode": "full",
        }

    def test_stock_handler_stands_aside_while_configure_logging_runs(
        self, sdk_provider: tuple[LoggerProvider, InMemoryLogRecordExporter]
    ) -> None:
        """Once the app calls configure_logging(), a stock handler stops exporting: each record goes out once."""
        provider, stock_exporter = sdk_provider
        root = logging.getLogger()
        root.addHandler(ContribLoggingHandler(logger_provider=provider))
        root.setLevel(logging.INFO)
        adopt_logging_handlers()
        ours = in_memory_exporter()
        pipeline = otel_revops.configure_logging(exporters=[ours], console="none")
        logging.getLogger("app").info("once")
        assert pipeline.force_flush(5000)
        assert [r.log_record.body for r in ours.get_finished_logs()] == ["once"]
        assert stock_exporter.get_finished_logs() == ()

    def test_stock_handlers_are_taken_off_when_the_bridge_is_there(
        self, sdk_provider: tuple[LoggerProvider, InMemoryLogRecordExporter]
    ) -> None:
        """With the bridge handler installed, adopting removes the stock OpenTelemetry handlers."""
        provider, _ = sdk_provider
        otel_revops.configure_logging(console="none")
        root = logging.getLogger()
        root.addHandler(ContribLoggingHandler(logger_provider=provider))
        adopt_logging_handlers()
        assert [type(h) for h in root.handlers if isinstance(h, (BridgeHandler, ContribLoggingHandler))] == [
            BridgeHandler
        ]

    def test_pymongo_logs_while_exporting_do_not_feed_back(
        self, mongo_uri: str, mongo_client: MongoClient[dict[str, Any]], mongo_db_name: str
    ) -> None:
        """Stock BatchLogRecordProcessor + MongoDB exporter + pymongo at DEBUG: the records pymongo logs on the
        export thread never reach the stock handler; the application's record is stored with its execution."""
        provider = LoggerProvider(shutdown_on_exit=False)
        exporter = MongoLogRecordExporter(uri=mongo_uri, database=mongo_db_name)
        provider.add_log_record_processor(BatchLogRecordProcessor(exporter, schedule_delay_millis=50))
        handler = ContribLoggingHandler(logger_provider=provider)
        root, pymongo_logger = logging.getLogger(), logging.getLogger("pymongo")
        everything, reached = _Everything(), _Reached()
        root.addHandler(handler)
        root.addHandler(everything)
        root.setLevel(logging.INFO)
        pymongo_level = pymongo_logger.level
        pymongo_logger.setLevel(logging.DEBUG)
        try:
            adopt_logging_handlers()
            handler.addFilter(reached)
            with otel_revops.execution_context(job_id="job-42", execution_id="exec-7"):
                logging.getLogger("app").info("Job execution started")
            wait_for(lambda: history(mongo_client, mongo_db_name), timeout=10, message="record stored in MongoDB")

            def export_thread_records(seen: list[tuple[str, str | None]]) -> list[tuple[str, str | None]]:
                return [(name, thread) for name, thread in seen if str(thread).startswith("OtelBatch")]

            wait_for(
                lambda: any(name.startswith("pymongo") for name, _ in export_thread_records(everything.records)),
                timeout=10,
                message="pymongo logged on the export thread",
            )
            assert export_thread_records(reached.records) == []
            assert ("app", "MainThread") in reached.records
        finally:
            pymongo_logger.setLevel(pymongo_level)
            provider.shutdown()
        (stored,) = history(mongo_client, mongo_db_name)
        assert (stored["message"], stored["jobId"], stored["executionId"]) == (
            "Job execution started",
            "job-42",
            "exec-7",
        )


class TestGlobalProvider:
    def test_api_records_reach_the_current_pipeline_stamped(self) -> None:
        """Records emitted on the global provider go to whichever pipeline is current, with the execution context."""
        provider = LoggerProvider(shutdown_on_exit=False)
        provider.add_log_record_processor(CurrentPipelineProcessor())
        first, second = in_memory_exporter(), in_memory_exporter()
        try:
            pipeline = otel_revops.configure_logging(exporters=[first], console="none", service_name="api-app")
            with otel_revops.execution_context(job_id="job-42", execution_id="exec-7"):
                provider.get_logger("some.instrumentation").emit(LogRecord(body="via the API"))
            assert pipeline.force_flush(5000)
            (readable,) = first.get_finished_logs()
            attributes = dict(readable.log_record.attributes or {})
            assert (attributes["jobId"], attributes["executionId"]) == ("job-42", "exec-7")
            assert len(str(attributes["log.record.uid"])) == 24
            assert readable.instrumentation_scope is not None
            assert readable.instrumentation_scope.name == "some.instrumentation"
            assert readable.resource.attributes["service.name"] == "api-app"

            replacement = otel_revops.configure_logging(exporters=[second], console="none")
            provider.get_logger("some.instrumentation").emit(LogRecord(body="after reconfiguring"))
            assert replacement.force_flush(5000)
            assert [r.log_record.body for r in second.get_finished_logs()] == ["after reconfiguring"]
            assert len(first.get_finished_logs()) == 1
        finally:
            provider.shutdown()


def printed_spans(stdout: str) -> list[dict[str, Any]]:
    """The span objects the console span exporter printed (indented JSON, one after another)."""
    decoder = json.JSONDecoder()
    spans, at = [], 0
    while (start := stdout.find("{", at)) >= 0:
        value, at = decoder.raw_decode(stdout, start)
        if isinstance(value, dict) and "context" in value and "name" in value:
            spans.append(value)
    return spans


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_exporters_traffic_is_never_traced(protocol: str, otlp_receiver: OTLPReceiver) -> None:
    """requests and gRPC instrumented: the app's own GET is a span; the OTLP export of its logs is not."""
    endpoint = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
    control = f"{otlp_receiver.http_endpoint}/control"
    result = run_app(
        "traffic_app.py",
        {
            "OTEL_PYTHON_DISTRO": "otel_revops",
            "OTEL_TRACES_EXPORTER": "console",
            "OTEL_METRICS_EXPORTER": "none",
            "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
            "OTEL_EXPORTER_OTLP_PROTOCOL": protocol,
            "OTEL_REVOPS_CONSOLE": "none",
        },
        control,
    )
    assert result.returncode == 0, result.stderr
    done = json.loads(result.stdout.strip().splitlines()[-1])
    assert done["flushed"] and done["traces_flushed"], done
    received = [r for r in otlp_receiver.wait_for_records(5) if r.scope_name == "app.traffic"]
    assert sorted(int(str(r.attributes["n"])) for r in received) == list(range(5))
    spans = printed_spans(result.stdout)
    urls = [str(span["attributes"].get("url.full") or span["attributes"].get("http.url")) for span in spans]
    assert control in urls, spans
    assert [span["name"] for span in spans if "LogsService" in span["name"]] == []
    assert [url for url in urls if url.endswith("/v1/logs")] == []
    assert len(spans) == 1, [span["name"] for span in spans]
