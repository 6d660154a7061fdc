"""The file sink: OTLP/JSON lines in real files, rotated by size without splitting a line or losing a record."""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest
from google.protobuf.json_format import ParseDict  # type: ignore[import-untyped, unused-ignore]
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExportResult
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import format_span_id, format_trace_id

import otel_revops
from otel_revops.config import ConfigurationError
from otel_revops.exporters.file import FileLogRecordExporter, rotated_paths
from otel_revops.translate import to_otel_record

REPO_ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger("app.file")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_* variable of the surrounding shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("OTEL_") or name == "MONGODB_URI":
            monkeypatch.delenv(name)


def readable(sequence: int, padding: int = 0) -> ReadableLogRecord:
    """A pipeline-made OTel record carrying ``seq`` (and ``padding`` characters to make it bigger)."""
    record = logging.LogRecord("app.file", logging.INFO, __file__, 1, f"record {sequence}", None, None)
    attributes = {"jobId": "sync-hubspot", "executionId": "run-1", "seq": sequence, "pad": "x" * padding}
    return ReadableLogRecord(
        log_record=to_otel_record(record, attributes, None),
        resource=Resource.create({"service.name": "revops-sync"}),
        instrumentation_scope=InstrumentationScope("app.file"),
    )


def attribute_values(record: dict[str, Any]) -> dict[str, Any]:
    """An OTLP/JSON record's attributes as ``{key: the AnyValue's single value}``."""
    return {kv["key"]: next(iter(kv["value"].values()), None) for kv in record.get("attributes", [])}


def file_records(path: Path) -> list[dict[str, Any]]:
    """Every log record in one file, in order; each line must be whole OTLP/JSON."""
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        request = json.loads(line)
        for resource_logs in request["resourceLogs"]:
            for scope_logs in resource_logs["scopeLogs"]:
                records.extend(scope_logs["logRecords"])
    return records


def sequences(paths: list[Path]) -> list[int]:
    """The ``seq`` attribute of every record in ``paths``, oldest file first."""
    found = []
    for path in reversed(paths):
        if path.exists():
            found += [int(attribute_values(r)["seq"]) for r in file_records(path)]
    return found


class TestFormat:
    def test_each_batch_is_one_otlp_json_line(self, tmp_path: Path) -> None:
        """A batch logged inside a span is one line of OTLP/JSON: camelCase keys, numeric severity, hex ids."""
        path = tmp_path / "logs" / "app.jsonl"
        pipeline = otel_revops.configure_logging(
            exporters=[FileLogRecordExporter(path)], console="none", service_name="revops-sync"
        )
        tracer = TracerProvider().get_tracer("test")
        with (
            tracer.start_as_current_span("sync") as span,
            otel_revops.execution_context(job_id="sync-hubspot", execution_id="run-1"),
        ):
            log.warning("Rate limited", extra={"retryAfter": 1.5})
            log.info("Synced %d contacts", 12)
        assert pipeline.force_flush(5000)
        otel_revops.shutdown_logging()

        (line,) = path.read_text(encoding="utf-8").splitlines()
        request = json.loads(line)
        (resource_logs,) = request["resourceLogs"]
        assert {"key": "service.name", "value": {"stringValue": "revops-sync"}} in resource_logs["resource"][
            "attributes"
        ]
        (scope_logs,) = resource_logs["scopeLogs"]
        assert scope_logs["scope"]["name"] == "app.file"
        first, second = scope_logs["logRecords"]
        context = span.get_span_context()
        assert first["traceId"] == format_trace_id(context.trace_id)
        assert first["spanId"] == format_span_id(context.span_id)
        assert (first["severityNumber"], first["severityText"]) == (13, "WARN")
        assert first["body"] == {"stringValue": "Rate limited"}
        assert first["timeUnixNano"].isdigit()
        assert attribute_values(first)["retryAfter"] == 1.5
        assert attribute_values(first)["executionId"] == "run-1"
        assert second["body"] == {"stringValue": "Synced 12 contacts"}

        # A protobuf JSON parser reads the line once the ids are given back in its base64 form.
        for record in (first, second):
            for key in ("traceId", "spanId"):
                record[key] = base64.b64encode(bytes.fromhex(record[key])).decode()
        parsed = ParseDict(request, ExportLogsServiceRequest())
        assert parsed.resource_logs[0].scope_logs[0].log_records[0].trace_id == context.trace_id.to_bytes(16, "big")


class TestRotation:
    def test_keeps_the_configured_number_of_files(self, tmp_path: Path) -> None:
        """With backup_count 3 only app.jsonl and .1 to .3 remain, none over max_bytes, holding the newest records."""
        path = tmp_path / "app.jsonl"
        exporter = FileLogRecordExporter(path, max_bytes=3000, backup_count=3)
        for sequence in range(200):
            assert exporter.export([readable(sequence)]) is LogRecordExportResult.SUCCESS
        exporter.shutdown()

        assert sorted(p.name for p in tmp_path.iterdir()) == ["app.jsonl", "app.jsonl.1", "app.jsonl.2", "app.jsonl.3"]
        assert exporter.stats()["rotations"] > 3
        assert all(p.stat().st_size <= 3000 for p in tmp_path.iterdir())
        kept = sequences(rotated_paths(path, 3))
        assert kept == list(range(200 - len(kept), 200))

    def test_no_record_is_lost_or_split_across_rotations(self, tmp_path: Path) -> None:
        """Logged through the pipeline in batches of varied size, every record is in exactly one whole line."""
        path = tmp_path / "app.jsonl"
        exporter = FileLogRecordExporter(path, max_bytes=4000, backup_count=500)
        pipeline = otel_revops.configure_logging(exporters=[exporter], console="none", export_batch_size=7)
        for sequence in range(300):
            log.info("record %d", sequence, extra={"seq": sequence, "pad": "y" * (sequence % 50)})
        assert pipeline.force_flush(10_000)
        otel_revops.shutdown_logging()

        files = [p for p in rotated_paths(path, 500) if p.exists()]
        assert len(files) >= 5
        assert sorted(sequences(files)) == list(range(300))
        assert exporter.stats()["records"] == 300

    def test_a_line_bigger_than_max_bytes_gets_a_file_of_its_own(self, tmp_path: Path) -> None:
        """An oversized batch is written whole, never cut to fit."""
        path = tmp_path / "app.jsonl"
        exporter = FileLogRecordExporter(path, max_bytes=1000, backup_count=2)
        exporter.export([readable(0)])
        exporter.export([readable(1, padding=5000)])
        exporter.export([readable(2)])
        exporter.shutdown()
        assert sequences([path.with_name("app.jsonl.1")]) == [1]
        assert sequences([path]) == [2]

    def test_concurrent_exports_write_whole_lines(self, tmp_path: Path) -> None:
        """Eight threads exporting at once while the file rotates: every line parses, every record is there once."""
        path = tmp_path / "app.jsonl"
        exporter = FileLogRecordExporter(path, max_bytes=20_000, backup_count=100)

        def export_range(start: int) -> None:
            for sequence in range(start, start + 100):
                exporter.export([readable(sequence, padding=sequence % 40)])

        threads = [threading.Thread(target=export_range, args=(n * 100,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        exporter.shutdown()
        assert exporter.stats()["rotations"] >= 10
        assert sorted(sequences(rotated_paths(path, 100))) == list(range(800))

    def test_a_failed_write_leaves_no_partial_line(self, tmp_path: Path) -> None:
        """When the disk refuses a write (file size limit), the export fails and the file keeps only whole lines."""
        path = tmp_path / "app.jsonl"
        script = f"""
import json, logging, resource, signal, sys
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from otel_revops.exporters.file import FileLogRecordExporter
from otel_revops.translate import to_otel_record

def readable(n):
    record = logging.LogRecord("app.file", logging.INFO, "x", 1, "record %d" % n, None, None)
    return ReadableLogRecord(
        log_record=to_otel_record(record, {{"seq": n, "pad": "z" * 300}}, None),
        resource=Resource.create({{}}),
        instrumentation_scope=InstrumentationScope("app.file"),
    )

exporter = FileLogRecordExporter({str(path)!r}, max_bytes=0)
records = [readable(n) for n in range(40)]
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
resource.setrlimit(resource.RLIMIT_FSIZE, (5000, 5000))
results = [exporter.export([r]).name for r in records]
print(json.dumps({{"results": results, "stats": exporter.stats()}}))
"""
        done = subprocess.run(
            [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
        )
        outcome = json.loads(done.stdout)
        written = outcome["results"].count("SUCCESS")
        assert 0 < written < 40
        assert outcome["results"] == ["SUCCESS"] * written + ["FAILURE"] * (40 - written)
        assert "cannot write" in done.stderr
        assert sequences([path]) == list(range(written))
        assert path.read_bytes().endswith(b"\n")


class TestConfiguration:
    def test_no_arguments_reads_the_environment(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """Created with no arguments, as auto-instrumentation does, it uses OTEL_REVOPS_FILE_*."""
        path = tmp_path / "env.jsonl"
        monkeypatch.setenv("OTEL_REVOPS_FILE_PATH", str(path))
        monkeypatch.setenv("OTEL_REVOPS_FILE_MAX_BYTES", "1500")
        monkeypatch.setenv("OTEL_REVOPS_FILE_BACKUP_COUNT", "2")
        exporter = FileLogRecordExporter()
        for sequence in range(30):
            exporter.export([readable(sequence)])
        exporter.shutdown()
        assert (exporter.settings.max_bytes, exporter.settings.backup_count) == (1500, 2)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["env.jsonl", "env.jsonl.1", "env.jsonl.2"]

    @pytest.mark.parametrize(
        ("variable", "value"), [("OTEL_REVOPS_FILE_MAX_BYTES", "10MB"), ("OTEL_REVOPS_FILE_BACKUP_COUNT", "-1")]
    )
    def test_bad_values_name_the_variable(
        self, variable: str, value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A bad number is a ConfigurationError naming the variable and what is allowed."""
        monkeypatch.setenv("OTEL_REVOPS_FILE_PATH", str(tmp_path / "x.jsonl"))
        monkeypatch.setenv(variable, value)
        with pytest.raises(ConfigurationError, match=f"{variable}.*expected an integer from 0 to"):
            FileLogRecordExporter()

    def test_a_path_is_required_and_must_be_writable(self, tmp_path: Path) -> None:
        """No path, or a path that cannot be created, fails at construction with the variable named."""
        with pytest.raises(ConfigurationError, match="OTEL_REVOPS_FILE_PATH"):
            FileLogRecordExporter()
        blocker = tmp_path / "a-file"
        blocker.write_text("")
        with pytest.raises(ConfigurationError, match="cannot be written"):
            FileLogRecordExporter(blocker / "app.jsonl")

    def test_flush_shutdown_and_export_after_shutdown(self, tmp_path: Path) -> None:
        """force_flush syncs, shutdown closes once, a later export fails and writes nothing."""
        path = tmp_path / "app.jsonl"
        exporter = FileLogRecordExporter(path)
        assert exporter.export([readable(1)]) is LogRecordExportResult.SUCCESS
        assert exporter.force_flush()
        exporter.shutdown()
        exporter.shutdown()
        assert exporter.export([readable(2)]) is LogRecordExportResult.FAILURE
        assert sequences([path]) == [1]

    def test_registered_as_an_opentelemetry_logs_exporter(self) -> None:
        """Entry point revops_file lets OTEL_LOGS_EXPORTER=revops_file pick the file sink."""
        (entry,) = [ep for ep in entry_points(group="opentelemetry_logs_exporter") if ep.name == "revops_file"]
        assert entry.load() is FileLogRecordExporter


class TestRotationInsideABatch:
    def test_a_big_batch_is_written_as_lines_that_fit(self, tmp_path: Path) -> None:
        """One 400-record batch with max_bytes 20,000: several whole lines, no file over 20,000 bytes, all 400
        records once, in order."""
        path = tmp_path / "app.jsonl"
        exporter = FileLogRecordExporter(path, max_bytes=20_000, backup_count=100)
        assert exporter.export([readable(sequence, padding=400) for sequence in range(400)]).name == "SUCCESS"
        exporter.shutdown()
        files = [p for p in rotated_paths(path, 100) if p.exists()]
        sizes = [p.stat().st_size for p in files]
        assert len(files) > 5
        assert max(sizes) <= 20_000, sizes
        assert sequences(files) == list(range(400))
        assert exporter.stats()["records"] == 400
