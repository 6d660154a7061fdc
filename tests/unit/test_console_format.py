"""The console in the original's format, byte for byte, through a real logging call."""

from __future__ import annotations

import io
import json
import logging
import re
import time

import pytest

import otel_revops
from otel_revops.rendering import render_pretty

STAMP = re.compile(r"\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\]")


def _configure(**settings: object) -> io.StringIO:
    stream = io.StringIO()
    otel_revops.configure_logging(console_stream=stream, console_colors="never", log_level="debug", **settings)
    return stream


def _fixed(text: str) -> str:
    return STAMP.sub("[T]", text)


class TestPrettyFormat:
    def test_original_example_byte_for_byte(self) -> None:
        """The design document's example renders exactly (fixed clock)."""
        created = time.mktime(time.strptime("2024-01-15 10:30:45", "%Y-%m-%d %H:%M:%S")) - time.timezone + 0.123
        text = render_pretty(
            created, logging.INFO, "inngest.sync", "Starting chunked sync for entity",
            {"jobId": "65a4f3b2c1d2e3f4g5h6i7j8", "entity": "contacts"},
        )
        assert text == (
            "ℹ️ [2024-01-15T10:30:45.123Z] INFO    inngest.sync: Starting chunked sync for entity\n"
            "   Properties: {\n"
            '     "jobId": "65a4f3b2c1d2e3f4g5h6i7j8",\n'
            '     "entity": "contacts"\n'
            "   }\n"
            "\n"
        )

    @pytest.mark.parametrize(
        ("level", "head"),
        [
            (logging.DEBUG, "🔍 [T] DEBUG   cat: message"),
            (logging.INFO, "ℹ️ [T] INFO    cat: message"),
            (logging.WARNING, "⚠️ [T] WARNING cat: message"),
            (logging.ERROR, "❌ [T] ERROR   cat: message"),
            (logging.CRITICAL, "🚨 [T] CRITICAL cat: message"),
        ],
    )
    def test_each_level_without_properties(self, level: int, head: str) -> None:
        """Glyph, bracketed UTC time, level padded to 7, category, message, then a blank line."""
        stream = _configure()
        logging.getLogger("cat").log(level, "message")
        assert _fixed(stream.getvalue()) == head + "\n\n"

    def test_warning_with_properties(self) -> None:
        """The original's second example: properties indented under the line."""
        stream = _configure()
        otel_revops.get_logger("inngest.sync.scheduler").warning(
            "Missed scheduled run", jobId="65a4f3b2c1d2e3f4g5h6i7j8", missedRunTime="2024-01-15T10:25:00.000Z"
        )
        assert _fixed(stream.getvalue()) == (
            "⚠️ [T] WARNING inngest.sync.scheduler: Missed scheduled run\n"
            "   Properties: {\n"
            '     "jobId": "65a4f3b2c1d2e3f4g5h6i7j8",\n'
            '     "missedRunTime": "2024-01-15T10:25:00.000Z"\n'
            "   }\n"
            "\n"
        )

    def test_nested_values_are_indented(self) -> None:
        """Nested JSON keeps two-space steps, offset by the properties' indent."""
        stream = _configure()
        logging.getLogger("c").info("m", extra={"chunk": {"from": 0, "ids": [1, 2]}, "ok": True, "n": None})
        assert _fixed(stream.getvalue()) == (
            "ℹ️ [T] INFO    c: m\n"
            "   Properties: {\n"
            '     "chunk": {\n'
            '       "from": 0,\n'
            '       "ids": [\n'
            "         1,\n"
            "         2\n"
            "       ]\n"
            "     },\n"
            '     "ok": true,\n'
            '     "n": null\n'
            "   }\n"
            "\n"
        )

    def test_time_is_utc_with_milliseconds(self) -> None:
        """The bracketed time is the record's creation time in UTC."""
        stream = _configure()
        before = time.time()
        logging.getLogger("c").info("m")
        stamp = re.search(r"\[(.*?)\]", stream.getvalue())
        assert stamp is not None
        parsed = time.strptime(stamp.group(1)[:19], "%Y-%m-%dT%H:%M:%S")
        assert abs(time.mktime(parsed) - time.timezone - before) < 2

    def test_exception_traceback_under_the_record(self) -> None:
        """An exception's traceback prints under its record, indented."""
        stream = _configure()
        try:
            raise ValueError("bad chunk")
        except ValueError:
            logging.getLogger("c").exception("chunk failed")
        text = stream.getvalue()
        assert text.startswith("❌ [")
        assert "ERROR   c: chunk failed\n   Traceback (most recent call last):\n" in text
        assert "   ValueError: bad chunk\n\n" in text

    def test_percent_args_are_merged(self) -> None:
        """Stdlib %-style arguments are formatted into the message."""
        stream = _configure()
        logging.getLogger("c").info("synced %d of %s", 3, "contacts")
        assert "c: synced 3 of contacts\n" in stream.getvalue()

    def test_ascii_glyphs_when_the_stream_cannot_encode_emoji(self) -> None:
        """A stream that cannot encode the glyphs gets ASCII ones, never an error."""
        raw = io.BytesIO()
        stream = io.TextIOWrapper(raw, encoding="ascii", write_through=True)
        otel_revops.configure_logging(console_stream=stream, console_colors="never")
        logging.getLogger("c").warning("caf\u00e9 closed")
        text = raw.getvalue().decode("ascii")
        assert text.startswith("[!] [")
        assert "WARNING c: caf? closed\n" in text

    def test_colours_only_when_asked_or_on_a_terminal(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """No escape codes on a plain stream; FORCE_COLOR turns them on; NO_COLOR wins."""
        monkeypatch.delenv("NO_COLOR", raising=False)
        monkeypatch.delenv("FORCE_COLOR", raising=False)
        stream = io.StringIO()
        otel_revops.configure_logging(console_stream=stream)
        logging.getLogger("c").info("m")
        assert "\x1b[" not in stream.getvalue()
        monkeypatch.setenv("FORCE_COLOR", "1")
        stream = io.StringIO()
        otel_revops.configure_logging(console_stream=stream)
        logging.getLogger("c").info("m")
        assert "\x1b[32mINFO" in stream.getvalue()
        monkeypatch.setenv("NO_COLOR", "1")
        stream = io.StringIO()
        otel_revops.configure_logging(console_stream=stream)
        logging.getLogger("c").info("m")
        assert "\x1b[" not in stream.getvalue()

    def test_line_is_written_before_the_call_returns(self) -> None:
        """The console is synchronous: the text is there as soon as the call returns."""
        stream = _configure()
        logging.getLogger("c").info("now")
        assert "c: now" in stream.getvalue()


class TestJsonFormat:
    def test_fields_in_order_with_trace_ids_and_exception(self) -> None:
        """time, level, category, message, properties, traceId, spanId, exception: each exact JSON, in that
        order, quotes and non-ASCII text included."""
        from opentelemetry.sdk.trace import TracerProvider

        stream = _configure(console="json")
        tracer = TracerProvider().get_tracer("t")
        with tracer.start_as_current_span("sync"):
            try:
                raise ValueError('bad "value" é')
            except ValueError:
                logging.getLogger('sync."quoted"').exception('failed: "x" é\n', extra={"nested": {"b": b"\x00"}})
        document = json.loads(stream.getvalue())
        assert list(document) == ["time", "level", "category", "message", "properties", "traceId", "spanId", "exception"]
        assert document["level"] == "error"
        assert document["category"] == 'sync."quoted"'
        assert document["message"] == 'failed: "x" é\n'
        assert document["properties"] == {"nested": {"b": "b'\\x00'"}}
        assert document["exception"].startswith("Traceback (most recent call last):")
        assert document["exception"].rstrip().endswith('ValueError: bad "value" é')

    def test_one_object_per_line(self) -> None:
        """JSON mode: time, level, category, message, properties."""
        stream = _configure(console="json")
        with otel_revops.execution_context(job_id="j", execution_id="e"):
            logging.getLogger("inngest.sync").warning("late", extra={"minutes": 5})
        line = stream.getvalue()
        assert line.count("\n") == 1
        document = json.loads(line)
        assert document["level"] == "warning"
        assert document["category"] == "inngest.sync"
        assert document["message"] == "late"
        assert document["properties"] == {"jobId": "j", "executionId": "e", "minutes": 5}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", document["time"])

    def test_trace_ids_inside_a_span(self) -> None:
        """A record inside an active span carries its trace and span ids."""
        from opentelemetry.sdk.trace import TracerProvider

        stream = _configure(console="json")
        tracer = TracerProvider().get_tracer("t")
        with tracer.start_as_current_span("sync") as span:
            logging.getLogger("c").info("in span")
        document = json.loads(stream.getvalue())
        context = span.get_span_context()
        assert document["traceId"] == f"{context.trace_id:032x}"
        assert document["spanId"] == f"{context.span_id:016x}"
