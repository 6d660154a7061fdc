"""``otel-revops logs`` renders a stored record exactly as the live console rendered the original."""

from __future__ import annotations

import io
import logging
import sys
from datetime import datetime, timezone
from typing import Any

import bson
import pytest
from bson.codec_options import CodecOptions
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags

from otel_revops.cli.render import format_time, record_view, render_record
from otel_revops.config import ConsoleMode
from otel_revops.exporters.console import ConsoleWriter
from otel_revops.exporters.mongodb.documents import record_documents
from otel_revops.records import record_properties
from otel_revops.translate import to_otel_record

CONTEXT = {"jobId": "65a4f3b2c1d2e3f4a5b6c7d8", "executionId": "65a4f3b2c1d2e3f4a5b6c7d9", "attempt": 2}
SPAN = SpanContext(0x0AF7651916CD43DD8448EB211C80319C, 0x00F067AA0BA902B7, is_remote=False, trace_flags=TraceFlags(1))
STORED: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def live_and_stored(
    mode: ConsoleMode,
    message: str,
    *,
    level: int = logging.INFO,
    created: float = 1736937045.123456,
    properties: dict[str, Any] | None = None,
    exc_info: Any = None,
    span: SpanContext | None = None,
) -> tuple[str, str]:
    """What the live console wrote for a record, and what the command renders from its stored history document."""
    record = logging.LogRecord("inngest.sync", level, __file__, 7, message, None, exc_info)
    record.created = created
    for key, value in (properties or {}).items():
        setattr(record, key, value)
    props = record_properties(record, CONTEXT)
    stream = io.StringIO()
    writer = ConsoleWriter(stream, mode, "never")
    writer.write_record(record, props, span)
    readable = ReadableLogRecord(
        log_record=to_otel_record(record, props, span),
        resource=Resource.create({"service.name": "revops-sync"}),
        instrumentation_scope=InstrumentationScope("inngest.sync"),
    )
    documents = record_documents(readable)
    assert documents is not None
    stored = bson.decode(bson.encode(documents.history), codec_options=STORED)
    rendered = render_record(stored, json=mode == "json", glyphs=writer.glyphs, palette=writer.palette)
    return stream.getvalue(), rendered


def raise_and_catch() -> Any:
    """exc_info of a real exception with a traceback."""
    empty: dict[str, int] = {}
    try:
        empty["missing"]
    except KeyError:
        return sys.exc_info()
    raise AssertionError("unreachable")


class TestSameAsLiveConsole:
    @pytest.mark.parametrize("mode", ["pretty", "json"])
    @pytest.mark.parametrize("created", [1736937045.123456, 1736937045.0, 1736937045.999999, 1736937045.0005])
    def test_timestamps_render_to_the_same_millisecond(self, mode: ConsoleMode, created: float) -> None:
        """Stored times hold milliseconds; the rendering never lands one millisecond early."""
        live, stored = live_and_stored(mode, "Sync started", created=created)
        assert stored == live

    @pytest.mark.parametrize("mode", ["pretty", "json"])
    @pytest.mark.parametrize("level", [logging.DEBUG, logging.INFO, logging.WARNING, logging.ERROR, logging.CRITICAL])
    def test_every_level(self, mode: ConsoleMode, level: int) -> None:
        """Each level keeps its glyph, name and padding."""
        live, stored = live_and_stored(mode, "Rate limited", level=level)
        assert stored == live

    @pytest.mark.parametrize("mode", ["pretty", "json"])
    def test_properties_nested_values_and_exception(self, mode: ConsoleMode) -> None:
        """Execution context, extra= properties (nested, lists, unicode) and the traceback all match."""
        live, stored = live_and_stored(
            mode,
            "Failed to upsert contact — skipping",
            level=logging.ERROR,
            properties={"contact": {"id": 42, "emails": ["a@example.com"]}, "ratio": 0.5, "ok": False, "none": None},
            exc_info=raise_and_catch(),
        )
        assert "KeyError" in live
        assert stored == live

    def test_json_carries_trace_and_span_ids(self) -> None:
        """Inside a span, the JSON line has the same traceId and spanId as the live one."""
        live, stored = live_and_stored("json", "Inside a span", span=SPAN)
        assert '"traceId": "0af7651916cd43dd8448eb211c80319c"' in live
        assert stored == live


class TestRecordView:
    def test_tolerates_a_sparse_document(self) -> None:
        """A document missing most fields still renders, as INFO with what is there."""
        view = record_view({"message": "only a message"})
        assert (view.levelno, view.category, view.message, view.properties) == (logging.INFO, "", "only a message", {})

    def test_category_is_not_repeated_in_properties(self) -> None:
        """metadata.category becomes the category, not a property."""
        view = record_view({"metadata": {"jobId": "j", "category": "hubspot.api"}, "level": "warning"})
        assert (view.category, view.properties, view.levelno) == ("hubspot.api", {"jobId": "j"}, logging.WARNING)

    def test_unknown_level_name_falls_back_to_the_severity_number(self) -> None:
        """A level name the console does not know is read from severityNumber."""
        assert record_view({"level": "notice", "severityNumber": 17}).levelno == logging.ERROR

    def test_naive_and_aware_times_are_both_utc(self) -> None:
        """pymongo's naive datetimes are UTC, as are aware ones."""
        naive = datetime(2026, 1, 15, 10, 30, 45, 123000)
        aware = naive.replace(tzinfo=timezone.utc)
        assert record_view({"timestamp": naive}).created == record_view({"timestamp": aware}).created
        assert format_time(naive) == format_time(aware) == "2026-01-15 10:30:45Z"
