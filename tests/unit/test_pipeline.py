"""The export path: OTel records with the right attributes and resource; reconfiguring; flushing; no feedback."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import textwrap
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter, LogRecordExporter, LogRecordExportResult
from opentelemetry.sdk.trace import TracerProvider

import otel_revops
from otel_revops.handler import BridgeHandler


def _pipeline(**settings: object) -> tuple[otel_revops.LoggingPipeline, InMemoryLogRecordExporter]:
    exporter = InMemoryLogRecordExporter()
    settings.setdefault("console", "none")
    pipeline = otel_revops.configure_logging(exporters=[exporter], **settings)
    return pipeline, exporter


def _exported(pipeline: otel_revops.LoggingPipeline, exporter: InMemoryLogRecordExporter) -> list[ReadableLogRecord]:
    assert pipeline.force_flush(5000)
    return list(exporter.get_finished_logs())


class TestExportedRecords:
    def test_record_fields(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Body, severity, category as scope, user properties as attributes, code.*, uid and resource."""
        monkeypatch.setenv("OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging")
        pipeline, exporter = _pipeline(service_name="sync-worker")
        with otel_revops.execution_context(job_id="j1", execution_id="e1"):
            otel_revops.get_sync_logger("contacts").warning("Missed scheduled run %s", "now", minutes=5)
        (readable,) = _exported(pipeline, exporter)
        record = readable.log_record
        assert record.body == "Missed scheduled run now"
        assert record.severity_text == "WARN"
        assert record.severity_number is not None and record.severity_number.value == 13
        assert readable.instrumentation_scope is not None
        assert readable.instrumentation_scope.name == "inngest.sync.contacts"
        attributes = dict(record.attributes or {})
        assert {k: attributes[k] for k in ("jobId", "executionId", "entity", "minutes")} == {
            "jobId": "j1", "executionId": "e1", "entity": "contacts", "minutes": 5,
        }
        assert attributes["code.function.name"] == "test_record_fields"
        assert str(attributes["code.file.path"]).endswith("test_pipeline.py")
        assert len(str(attributes["log.record.uid"])) == 24
        assert readable.resource.attributes["service.name"] == "sync-worker"
        assert readable.resource.attributes["deployment.environment"] == "staging"

    def test_nested_values_and_exceptions(self) -> None:
        """Dicts and lists stay structured; exceptions become exception.* attributes."""
        pipeline, exporter = _pipeline()
        try:
            raise RuntimeError("chunk 3 failed")
        except RuntimeError:
            logging.getLogger("c").exception("failed", extra={"chunk": {"ids": [1, 2], "n": 2}})
        attributes = dict(_exported(pipeline, exporter)[0].log_record.attributes or {})
        assert attributes["chunk"] == {"ids": (1, 2), "n": 2} or attributes["chunk"] == {"ids": [1, 2], "n": 2}
        assert attributes["exception.type"] == "RuntimeError"
        assert attributes["exception.message"] == "chunk 3 failed"
        assert "Traceback" in str(attributes["exception.stacktrace"])

    def test_trace_correlation(self) -> None:
        """A record logged inside an active span carries its trace and span ids."""
        pipeline, exporter = _pipeline()
        with TracerProvider().get_tracer("t").start_as_current_span("sync") as span:
            logging.getLogger("c").info("in span")
        logging.getLogger("c").info("outside")
        inside, outside = _exported(pipeline, exporter)
        assert inside.log_record.trace_id == span.get_span_context().trace_id
        assert inside.log_record.span_id == span.get_span_context().span_id
        assert not outside.log_record.trace_id

    def test_snapshot_is_taken_on_the_calling_thread(self) -> None:
        """Context and arguments are captured at the call, not when the worker exports."""
        pipeline, exporter = _pipeline()
        items = ["a"]
        with otel_revops.execution_context(job_id="at-call"):
            logging.getLogger("c").info("items=%s", items)
        items.append("b")
        (readable,) = _exported(pipeline, exporter)
        assert readable.log_record.body == "items=['a']"
        assert dict(readable.log_record.attributes or {})["jobId"] == "at-call"


class TestLifecycle:
    def test_reconfiguring_leaves_one_handler_and_flushes_the_old_pipeline(self) -> None:
        """The old pipeline's records are exported and its exporter shut down; one bridge handler remains."""
        _first, first_exporter = _pipeline()
        logging.getLogger("c").info("to the first")
        second, second_exporter = _pipeline()
        logging.getLogger("c").info("to the second")
        bridges = [h for h in logging.getLogger().handlers if isinstance(h, BridgeHandler)]
        assert bridges == [second.handler]
        assert [r.log_record.body for r in first_exporter.get_finished_logs()] == ["to the first"]
        assert [r.log_record.body for r in _exported(second, second_exporter)] == ["to the second"]
        assert first_exporter._stopped  # type: ignore[attr-defined]

    def test_levels_are_set_and_restored(self) -> None:
        """Root and per-category levels apply while configured and are restored on shutdown."""
        logging.getLogger("pymongo").setLevel(logging.NOTSET)
        otel_revops.configure_logging(console="none", log_level="debug", log_levels="pymongo=warning")
        assert logging.getLogger().level == logging.DEBUG
        assert logging.getLogger("pymongo").level == logging.WARNING
        otel_revops.shutdown_logging()
        assert logging.getLogger("pymongo").level == logging.NOTSET

    def test_module_level_flush_and_shutdown(self) -> None:
        """otel_revops.force_flush() exports; shutdown_logging() detaches and is idempotent."""
        pipeline, exporter = _pipeline()
        logging.getLogger("c").info("m")
        assert otel_revops.force_flush(5000)
        assert len(exporter.get_finished_logs()) == 1
        assert otel_revops.shutdown_logging()
        assert otel_revops.shutdown_logging()
        assert pipeline.handler not in logging.getLogger().handlers

    def test_at_exit_hook_flushes(self, tmp_path: Path) -> None:
        """A process that never calls shutdown still exports what it logged."""
        out = tmp_path / "exported.txt"
        script = textwrap.dedent(
            f"""
            import logging
            import otel_revops
            from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

            class FileExporter(LogRecordExporter):
                def export(self, batch):
                    with open({str(out)!r}, "a") as f:
                        for r in batch:
                            f.write(str(r.log_record.body) + "\\n")
                    return LogRecordExportResult.SUCCESS
                def shutdown(self): pass
                def force_flush(self, timeout_millis=0): return True

            otel_revops.configure_logging(console="none", exporters=[FileExporter()])
            for n in range(1000):
                logging.getLogger("c").info("record %d", n)
            """
        )
        subprocess.run([sys.executable, "-c", script], check=True, timeout=60)
        lines = out.read_text().splitlines()
        assert lines == [f"record {n}" for n in range(1000)]


class _LoggingExporter(LogRecordExporter):
    """An exporter that logs on every export, like a chatty driver."""

    def __init__(self) -> None:
        self.exported = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.exported += len(batch)
        logging.getLogger("pymongo.command").warning("driver chatter while exporting %d", len(batch))
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


class TestNoFeedbackAndNoSilentLoss:
    def test_exporter_logs_do_not_come_back(self) -> None:
        """Records logged by an exporter reach the console but are never exported again."""
        exporter = _LoggingExporter()
        stream = io.StringIO()
        pipeline = otel_revops.configure_logging(console_stream=stream, exporters=[exporter])
        for n in range(10):
            logging.getLogger("app").info("record %d", n)
        assert pipeline.force_flush(5000)
        assert pipeline.force_flush(5000)
        assert exporter.exported == 10
        assert "driver chatter while exporting" in stream.getvalue()

    def test_full_queue_drops_are_counted_and_reported(self, capfd: pytest.CaptureFixture[str]) -> None:
        """Without a spool, with the exporter stuck and the queue full, drops are counted and reported on stderr."""
        release = threading.Event()

        class Stuck(InMemoryLogRecordExporter):
            def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
                release.wait(10)
                return super().export(batch)

        exporter = Stuck()
        pipeline = otel_revops.configure_logging(
            console="none", exporters=[exporter], export_batch_size=5, max_queue_size=10,
            enqueue_timeout_ms=0, spool=False,
        )
        for n in range(200):
            logging.getLogger("c").info("r%d", n)
        release.set()
        assert pipeline.force_flush(10_000)
        stats = pipeline.stats()
        exported = len(exporter.get_finished_logs())
        dropped = stats["forwarder"]["dropped"] + stats["exporters"]["Stuck"]["dropped_queue_full"]
        assert dropped > 0
        assert exported + dropped == 200
        assert "dropped" in capfd.readouterr().err
