"""Undeliverable batches are held (disk spool or memory), replayed in order, and survive a restart."""

from __future__ import annotations

import gzip
import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

import otel_revops
from otel_revops.delivery import ExporterDestination
from otel_revops.delivery._codec import decode_record, encode_record
from otel_revops.delivery._spool import Spool


class Destination(LogRecordExporter):
    """An exporter whose destination can be taken down and brought back."""

    def __init__(self, up: bool = True) -> None:
        self.up = threading.Event()
        if up:
            self.up.set()
        self.bodies: list[str] = []
        self.attempts = 0

    def export(self, batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        self.attempts += 1
        if not self.up.is_set():
            return LogRecordExportResult.FAILURE
        self.bodies.extend(str(r.log_record.body) for r in batch)
        return LogRecordExportResult.SUCCESS

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return True


def _spooled(exporter: Destination) -> ExporterDestination:
    """``exporter`` as a destination whose spool sub-directory is ``test-destination``."""
    return ExporterDestination(exporter, key="test-destination")


def _log(count: int, prefix: str = "r") -> list[str]:
    for n in range(count):
        logging.getLogger("app").info("%s%d", prefix, n)
    return [f"{prefix}{n}" for n in range(count)]


def test_outage_then_recovery_delivers_everything_in_order(tmp_path: Path) -> None:
    """Batches failed during an outage go to the spool and arrive, in order, once the destination is back."""
    destination = Destination(up=False)
    pipeline = otel_revops.configure_logging(
        console="none", exporters=[_spooled(destination)], spool_dir=str(tmp_path), export_batch_size=50,
        retry_deadline_ms=0,
    )
    sent = _log(500)
    assert not pipeline.force_flush(5000)
    spool_dir = tmp_path / "revops-sync" / "test-destination"
    assert any(p.name.endswith(".jsonl.gz") for p in spool_dir.iterdir())
    destination.up.set()
    assert pipeline.force_flush(10_000)
    assert destination.bodies == sent
    assert list(spool_dir.iterdir()) == []


def test_force_flush_keeps_trying_until_its_timeout(tmp_path: Path) -> None:
    """A destination back after the flush's first failed attempt gets everything before the flush returns."""
    destination = Destination(up=False)
    pipeline = otel_revops.configure_logging(console="none", exporters=[_spooled(destination)], spool_dir=str(tmp_path))
    sent = _log(100)
    failed_once = threading.Event()
    original = destination.export

    def export(batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        result = original(batch)
        if result is LogRecordExportResult.FAILURE:
            failed_once.set()
        return result

    destination.export = export  # type: ignore[method-assign]
    restorer = threading.Thread(target=lambda: failed_once.wait(30) and destination.up.set())
    restorer.start()
    try:
        assert pipeline.force_flush(30_000)
    finally:
        restorer.join()
    assert destination.bodies == sent


def test_next_process_replays_the_spool(tmp_path: Path) -> None:
    """What one pipeline could not deliver, the next one started on the same spool delivers."""
    down = Destination(up=False)
    first = otel_revops.configure_logging(console="none", exporters=[_spooled(down)], spool_dir=str(tmp_path))
    sent = _log(300, "first")
    first.shutdown(timeout_millis=2000)
    assert down.bodies == []
    up = Destination()
    second = otel_revops.configure_logging(console="none", exporters=[_spooled(up)], spool_dir=str(tmp_path))
    sent += _log(10, "second")
    assert second.force_flush(10_000)
    assert up.bodies == sent


def test_full_queue_overflows_to_the_spool(tmp_path: Path) -> None:
    """With a tiny queue and a slow destination, records overflow to the spool instead of being lost."""
    destination = Destination()
    gate = threading.Event()
    original = destination.export

    def slow(batch: Sequence[ReadableLogRecord]) -> LogRecordExportResult:
        gate.wait(5)
        return original(batch)

    destination.export = slow  # type: ignore[method-assign]
    pipeline = otel_revops.configure_logging(
        console="none", exporters=[_spooled(destination)], spool_dir=str(tmp_path), max_queue_size=20, export_batch_size=10
    )
    sent = _log(1000)
    gate.set()
    assert pipeline.force_flush(20_000)
    stats = pipeline.stats()["exporters"]["Destination"]
    assert stats["dropped_queue_full"] == 0
    assert sorted(destination.bodies) == sorted(sent)
    assert len(destination.bodies) == len(sent)


def test_memory_backlog_without_spool(tmp_path: Path) -> None:
    """With the spool off, failed batches wait in memory and are delivered once the destination is back."""
    destination = Destination(up=False)
    pipeline = otel_revops.configure_logging(console="none", exporters=[_spooled(destination)], spool=False)
    sent = _log(200)
    assert not pipeline.force_flush(3000)
    assert pipeline.stats()["exporters"]["Destination"]["held_in_memory"] == 200
    destination.up.set()
    assert pipeline.force_flush(10_000)
    assert destination.bodies == sent


def test_spool_bound_drops_oldest_and_counts(tmp_path: Path) -> None:
    """Beyond max bytes the oldest batches are dropped and counted."""
    records = [decode_record(encode_record(_readable(n))) for n in range(10)]
    probe = Spool(tmp_path / "probe", max_bytes=10**6)
    probe.write(records[:1], "w", "1")
    bound = 3 * probe.size()
    spool = Spool(tmp_path / "spool", max_bytes=bound)
    for n in range(10):
        spool.write(records[n : n + 1], "w", str(n))
    assert spool.size() <= bound
    assert spool.dropped > 0
    remaining = []
    while (claimed := spool.claim_oldest()) is not None:
        remaining += [r.log_record.body for r in claimed.records]
        spool.release(claimed, delivered=True)
    assert remaining == [f"m{n}" for n in range(spool.dropped, 10)]


def test_spool_files_are_gzip_json_lines_named_with_their_count(tmp_path: Path) -> None:
    """A batch file is gzip-compressed JSON lines (``zcat`` reads it) and its name ends with its record count."""
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.write([_readable(n) for n in range(3)], "a1b2", "7")
    (path,) = spool.pending_files()
    assert path.name.endswith("-a1b2-7-3.jsonl.gz")
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    assert [json.loads(line)["b"] for line in lines] == ["m0", "m1", "m2"]


def test_delivered_batches_free_their_room(tmp_path: Path) -> None:
    """Writing and delivering far more than the bound drops nothing: the spool counts what it holds now."""
    spool = Spool(tmp_path, max_bytes=4096)
    for n in range(200):
        spool.write([_readable(n)], "w", str(n))
        claimed = spool.claim_oldest()
        assert claimed is not None and [r.log_record.body for r in claimed.records] == [f"m{n}"]
        spool.release(claimed, delivered=True)
    assert spool.dropped == 0
    assert spool.size() == 0


def test_an_unreadable_batch_is_moved_aside_and_the_rest_replayed(tmp_path: Path) -> None:
    """A batch file that cannot be decompressed is moved into quarantine/, counted, and the next batch is claimed."""
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.write([_readable(n) for n in range(4)], "w", "1")
    spool.write([_readable(9)], "w", "2")
    oldest = spool.pending_files()[0]
    oldest.write_bytes(b"not gzip")
    claimed = spool.claim_oldest()
    assert claimed is not None and [r.log_record.body for r in claimed.records] == ["m9"]
    assert (claimed.writer, claimed.batch) == ("w", "2")
    assert spool.quarantined == 1
    assert (tmp_path / "quarantine" / oldest.name).read_bytes() == b"not gzip"


def test_lines_that_do_not_decode_are_counted_and_their_file_kept(tmp_path: Path) -> None:
    """Lines of the wrong shape are skipped and counted; the file goes to quarantine/ once the rest is delivered."""
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.write([_readable(n) for n in range(3)], "w", "1")
    (path,) = spool.pending_files()
    lines = gzip.decompress(path.read_bytes()).decode().splitlines()
    damaged = [lines[0], "[1, 2]", '{"b": "x", "s": "abc"}', lines[2], "not json"]
    path.write_bytes(gzip.compress(("\n".join(damaged) + "\n").encode()))
    claimed = spool.claim_oldest()
    assert claimed is not None and [r.log_record.body for r in claimed.records] == ["m0", "m2"]
    assert claimed.bad_lines == 3 and spool.bad_lines == 3
    spool.release(claimed, delivered=True)
    assert spool.pending_files() == []
    assert (tmp_path / "quarantine" / path.name).exists()


def test_a_directory_named_like_a_batch_is_moved_aside(tmp_path: Path) -> None:
    """A directory with a batch's name neither stops the replay nor is taken for a batch."""
    spool = Spool(tmp_path, max_bytes=10**6)
    (tmp_path / "00000000000000000001-w-1-5.jsonl.gz").mkdir()
    spool.write([_readable(3)], "w", "2")
    claimed = spool.claim_oldest()
    assert claimed is not None and [r.log_record.body for r in claimed.records] == ["m3"]
    assert spool.quarantined == 1


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path) -> None:
    """A write that fails part way (the file may grow no further) raises and leaves nothing behind."""
    import resource

    spool = Spool(tmp_path, max_bytes=10**9)
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    previous = signal_ignored()
    resource.setrlimit(resource.RLIMIT_FSIZE, (64, hard))
    try:
        with pytest.raises(OSError):
            spool.write([_readable(n) for n in range(200)], "w", "1")
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        restore_signal(previous)
    assert list(tmp_path.iterdir()) == []


def signal_ignored() -> object:
    """Ignore SIGXFSZ (sent when a write passes RLIMIT_FSIZE), so the write fails with EFBIG instead."""
    import signal

    return signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def restore_signal(previous: object) -> None:
    """Put SIGXFSZ's handler back."""
    import signal

    signal.signal(signal.SIGXFSZ, previous)  # type: ignore[arg-type]


def test_two_processes_never_claim_the_same_batch(tmp_path: Path) -> None:
    """A claimed file is invisible to another claimant; a dead claimant's file is taken back."""
    spool = Spool(tmp_path, max_bytes=10**6)
    spool.write([_readable(1)], "w", "1")
    claimed = spool.claim_oldest()
    assert claimed is not None
    assert spool.claim_oldest() is None
    dead = claimed.path.with_name(claimed.path.name.rsplit("-", 1)[0] + "-999999999")
    os.replace(claimed.path, dead)
    again = spool.claim_oldest()
    assert again is not None and [r.log_record.body for r in again.records] == ["m1"]


def test_codec_round_trip_keeps_what_exporters_read() -> None:
    """Body, severity, attributes (nested, bytes), trace ids, resource and scope survive the spool."""
    original = _readable(7)
    copy = decode_record(encode_record(original))
    assert copy.log_record.body == "m7"
    assert copy.log_record.severity_number == original.log_record.severity_number
    assert dict(copy.log_record.attributes or {}) == {"jobId": "j", "nested": {"a": [1, 2]}, "raw": b"\x00\xff"}
    assert copy.log_record.trace_id == 0xABC
    assert copy.resource.attributes["service.name"] == "svc"
    assert copy.instrumentation_scope is not None and copy.instrumentation_scope.name == "inngest.sync"


def _readable(n: int) -> ReadableLogRecord:
    from opentelemetry._logs import LogRecord, SeverityNumber
    from opentelemetry.context import Context
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.util.instrumentation import InstrumentationScope
    from opentelemetry.trace import NonRecordingSpan, SpanContext, set_span_in_context

    span = SpanContext(0xABC, 0xDEF, is_remote=False)
    record = LogRecord(
        timestamp=1_700_000_000_000_000_000 + n,
        context=set_span_in_context(NonRecordingSpan(span), Context()),
        severity_number=SeverityNumber.WARN,
        severity_text="WARN",
        body=f"m{n}",
        attributes={"jobId": "j", "nested": {"a": [1, 2]}, "raw": b"\x00\xff"},
    )
    return ReadableLogRecord(
        log_record=record, resource=Resource({"service.name": "svc"}), instrumentation_scope=InstrumentationScope("inngest.sync")
    )
