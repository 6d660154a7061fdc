"""The pure record → MongoDB documents mapping: shapes, safe keys and values, truncation."""

from __future__ import annotations

import decimal
import logging
import sys
import uuid
from datetime import datetime, timezone
from typing import Any

import bson
import pytest
from bson import ObjectId
from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import SpanContext, TraceFlags

from otel_revops.attributes import RECORD_UID
from otel_revops.exporters.mongodb.documents import (
    Sanitizer,
    execution_key,
    level_name,
    record_documents,
    safe_key,
    truncate_bytes,
    truncate_text,
)
from otel_revops.translate import to_otel_record

JOB_ID = "65a4f3b2c1d2e3f4a5b6c7d8"
EXECUTION_ID = "65a4f3b2c1d2e3f4a5b6c7d9"
CATEGORY = f"inngest.execution.{JOB_ID}.{EXECUTION_ID}"


def readable(
    message: str = "Job execution started: incremental sync",
    *,
    level: int = logging.INFO,
    properties: dict[str, Any] | None = None,
    context: dict[str, Any] | None = None,
    category: str = CATEGORY,
    span: SpanContext | None = None,
    exc_info: Any = None,
    service: str = "revops-sync",
) -> ReadableLogRecord:
    """A record as the pipeline makes it: a stdlib record translated by ``to_otel_record``."""
    record = logging.LogRecord(category, level, __file__, 42, message, None, exc_info)
    for key, value in (properties or {}).items():
        setattr(record, key, value)
    base = {"jobId": JOB_ID, "executionId": EXECUTION_ID} if context is None else context
    return ReadableLogRecord(
        log_record=to_otel_record(record, base, span),
        resource=Resource.create({"service.name": service}),
        instrumentation_scope=InstrumentationScope(category),
    )


def encodable(document: dict[str, Any]) -> bool:
    """Whether pymongo can encode ``document`` (what insert_many does first)."""
    bson.encode(document)
    return True


class TestSafeKey:
    def test_ordinary_keys_are_kept(self) -> None:
        """Keys MongoDB stores as given are not touched."""
        assert safe_key("jitterMs") == "jitterMs"
        assert safe_key("price$") == "price$"
        assert safe_key("") == ""

    def test_special_keys_are_rewritten(self) -> None:
        """A leading $, dots and NUL become look-alike characters MongoDB stores as plain text."""
        assert safe_key("$where") == "\uff04where"
        assert safe_key("a.b.c") == "a\uff0eb\uff0ec"
        assert safe_key("nul\x00key") == "nul\u2400key"
        assert safe_key("$a.b") == "\uff04a\uff0eb"

    def test_non_string_keys_become_strings(self) -> None:
        """Integer and tuple keys are stored as their text."""
        assert safe_key(3) == "3"
        assert safe_key((1, 2)) == "(1, 2)"

    def test_long_keys_are_cut(self) -> None:
        """A key longer than 1 KiB is truncated with a marker."""
        key = safe_key("k" * 5000)
        assert len(key.encode()) <= 1024
        assert "truncated" in key


class TestTruncation:
    def test_short_text_is_unchanged(self) -> None:
        """Text within the limit is returned as is."""
        assert truncate_text("hello", 64) == "hello"

    def test_long_text_is_cut_with_a_marker(self) -> None:
        """Text over the limit keeps its head, ends with a marker naming the bytes cut, and fits the limit."""
        text = truncate_text("x" * 10_000, 1024)
        assert text.startswith("x" * 900)
        assert text.endswith("bytes]")
        assert "truncated" in text
        assert len(text.encode()) <= 1024

    def test_multibyte_text_is_cut_on_a_character_boundary(self) -> None:
        """Cutting inside a multi-byte character never produces invalid UTF-8."""
        text = truncate_text("é€😀" * 2000, 1000)
        text.encode("utf-8")  # raises on a lone surrogate
        assert len(text.encode()) <= 1000
        assert text.startswith("é€😀")

    def test_bytes_are_cut_with_a_marker(self) -> None:
        """Long bytes values keep their head and fit the limit."""
        data = truncate_bytes(b"\x01" * 5000, 512)
        assert len(data) == 512
        assert data.startswith(b"\x01" * 400)
        assert b"truncated" in data


class TestSanitizer:
    def test_bson_types_pass_through(self) -> None:
        """None, bool, ints, floats, strings, datetimes, ObjectIds, lists and dicts are kept."""
        now = datetime.now(timezone.utc)
        oid = ObjectId()
        value = {"n": None, "b": True, "i": 7, "f": 1.5, "s": "x", "d": now, "o": oid, "l": [1, "a"], "m": {"k": 1}}
        assert Sanitizer().value(value) == value

    def test_other_values_become_their_text(self) -> None:
        """Sets become lists; decimals, UUIDs and objects become their str; huge ints their digits."""
        identifier = uuid.uuid4()

        class Thing:
            def __str__(self) -> str:
                return "a thing"

        sanitizer = Sanitizer()
        assert sorted(sanitizer.value({1, 2})) == [1, 2]
        assert sanitizer.value(decimal.Decimal("1.10")) == "1.10"
        assert sanitizer.value(identifier) == str(identifier)
        assert sanitizer.value(Thing()) == "a thing"
        assert sanitizer.value(2**70) == str(2**70)
        assert sanitizer.value(datetime(2024, 1, 15).date()) == "2024-01-15"

    def test_raising_str_never_raises(self) -> None:
        """An object whose __str__ and __repr__ raise still yields a placeholder."""

        class Hostile:
            def __str__(self) -> str:
                raise RuntimeError("no")

            def __repr__(self) -> str:
                raise RuntimeError("no")

        assert "Hostile" in Sanitizer().value(Hostile())

    def test_keys_are_made_safe_at_every_depth(self) -> None:
        """Nested mappings have their keys rewritten too."""
        assert Sanitizer().value({"$x": {"a.b": {"c\x00": 1}}}) == {"\uff04x": {"a\uff0eb": {"c\u2400": 1}}}

    def test_cycles_and_depth_are_bounded(self) -> None:
        """A self-referencing list and an absurdly deep dict become markers, and stay encodable."""
        loop: list[Any] = [1]
        loop.append(loop)
        deep: dict[str, Any] = {}
        cursor = deep
        for _ in range(200):
            cursor["d"] = {}
            cursor = cursor["d"]
        result = Sanitizer().value({"loop": loop, "deep": deep})
        assert result["loop"] == [1, "<cycle>"]
        assert encodable(result)

    def test_long_values_are_truncated(self) -> None:
        """A string or bytes value over max_bytes is cut to it, with a marker."""
        sanitizer = Sanitizer(max_bytes=1024)
        text = sanitizer.value("y" * 100_000)
        data = sanitizer.value(b"z" * 100_000)
        assert len(text.encode()) <= 1024
        assert "truncated" in text
        assert len(data) <= 1024

    def test_a_record_is_held_to_its_budget(self) -> None:
        """Many large values stop at the record's budget; later ones become a marker."""
        sanitizer = Sanitizer(max_bytes=1024)
        result = sanitizer.value({f"k{i}": "v" * 1000 for i in range(100)})
        assert len(bson.encode(result)) < 40 * 1024
        assert "<omitted: the record is over its size budget>" in result.values()

    def test_broken_mapping_never_raises(self) -> None:
        """A mapping whose items() raises is stored as its text."""

        class Broken(dict[str, Any]):
            def items(self) -> Any:
                raise RuntimeError("broken")

        assert Sanitizer().value(Broken(a=1)) == {"value": "{'a': 1}"}


class TestLevelName:
    @pytest.mark.parametrize(
        ("severity", "name"),
        [
            (1, "debug"),
            (8, "debug"),
            (9, "info"),
            (12, "info"),
            (13, "warning"),
            (16, "warning"),
            (17, "error"),
            (20, "error"),
            (21, "critical"),
            (24, "critical"),
        ],
    )
    def test_severity_numbers_map_to_the_original_names(self, severity: int, name: str) -> None:
        """DEBUG < 9, INFO < 13, WARN < 17, ERROR < 21, else critical."""
        assert level_name(severity) == name

    def test_without_a_number_the_text_decides(self) -> None:
        """A record with only a severity text maps by its name, and defaults to info."""
        assert level_name(None, "WARN") == "warning"
        assert level_name(None, "fatal") == "critical"
        assert level_name(None, None) == "info"


class TestExecutionKey:
    def test_valid_object_id_becomes_object_id(self) -> None:
        """A 24-hex-digit id is the ObjectId the application's execution document uses."""
        assert execution_key(EXECUTION_ID) == ObjectId(EXECUTION_ID)

    def test_other_ids_are_kept_as_given(self) -> None:
        """Strings that are not ObjectIds, and integers, are used as they are."""
        assert execution_key("run-42") == "run-42"
        assert execution_key("65a4f3b2c1d2e3f4g5h6i7j8") == "65a4f3b2c1d2e3f4g5h6i7j8"
        assert execution_key(42) == 42
        assert execution_key(4.5) == "4.5"

    def test_spaced_hex_is_not_an_object_id(self) -> None:
        """24 characters that parse as hex only with spaces skipped stay the string they are."""
        assert execution_key("00 11 22 33 44 55 66 77 ") == "00 11 22 33 44 55 66 77 "
        assert execution_key("00112233445566778899aabb") == ObjectId("00112233445566778899aabb")


class TestRecordDocuments:
    def test_records_without_an_execution_are_skipped(self) -> None:
        """Only records with an executionId produce documents."""
        assert record_documents(readable(context={})) is None
        assert record_documents(readable(context={"jobId": JOB_ID})) is None
        assert record_documents(readable(context={"executionId": ""})) is None

    def test_entry_has_the_original_shape(self) -> None:
        """The embedded entry is {timestamp, level, message, metadata{jobId, executionId, …, category}}."""
        documents = record_documents(readable(properties={"syncMode": "incremental"}))
        assert documents is not None
        entry = documents.entry
        assert list(entry) == ["timestamp", "level", "message", "metadata"]
        assert entry["level"] == "info"
        assert entry["message"] == "Job execution started: incremental sync"
        assert entry["metadata"] == {
            "jobId": JOB_ID,
            "executionId": EXECUTION_ID,
            "syncMode": "incremental",
            "category": CATEGORY,
        }
        assert list(entry["metadata"])[:2] == ["jobId", "executionId"]
        assert list(entry["metadata"])[-1] == "category"
        assert documents.key == ObjectId(EXECUTION_ID)
        assert documents.job_id == JOB_ID
        assert encodable(entry)

    def test_timestamp_is_the_records_time_in_milliseconds(self) -> None:
        """The stored time is the record's creation time, as a UTC datetime cut to milliseconds."""
        record = readable()
        documents = record_documents(record)
        assert documents is not None
        stamp = documents.entry["timestamp"]
        assert stamp.tzinfo is timezone.utc
        assert stamp.microsecond % 1000 == 0
        nanoseconds = record.log_record.timestamp
        assert nanoseconds is not None
        assert abs(stamp.timestamp() - nanoseconds / 1e9) < 0.001

    @pytest.mark.parametrize("nanoseconds", [0, 999_999, 1_733_312_345_123_456_789, 1_733_312_345_999_999_999, 4_102_444_799_001_000_000])
    def test_stored_milliseconds_are_exact(self, nanoseconds: int) -> None:
        """The stored time is the record's, to the millisecond: no float rounding moves it."""
        record = readable()
        record.log_record.timestamp = nanoseconds
        documents = record_documents(record)
        assert documents is not None
        stamp = documents.history["timestamp"]
        since_epoch = stamp - datetime(1970, 1, 1, tzinfo=timezone.utc)
        assert since_epoch.days * 86_400_000 + since_epoch.seconds * 1000 + since_epoch.microseconds // 1000 == (
            nanoseconds // 1_000_000
        )
        assert since_epoch.microseconds % 1000 == 0

    def test_history_document_fields(self) -> None:
        """The history document carries ids, time, level, severity, message, category, metadata, service."""
        record = readable(level=logging.WARNING, properties={"missedRunTime": "2024-01-15T10:25:00.000Z"})
        documents = record_documents(record)
        assert documents is not None
        history = documents.history
        assert list(history) == [
            "_id",
            "executionId",
            "jobId",
            "timestamp",
            "level",
            "severityNumber",
            "message",
            "category",
            "metadata",
            "service",
        ]
        attributes = record.log_record.attributes
        assert attributes is not None
        assert history["_id"] == ObjectId(str(attributes[RECORD_UID]))
        assert history["executionId"] == ObjectId(EXECUTION_ID)
        assert history["jobId"] == JOB_ID
        assert history["level"] == "warning"
        assert history["severityNumber"] == SeverityNumber.WARN.value
        assert history["category"] == CATEGORY
        assert history["metadata"] is documents.entry["metadata"]
        assert history["metadata"]["missedRunTime"] == "2024-01-15T10:25:00.000Z"
        assert history["service"] == "revops-sync"
        assert encodable(history)

    def test_internal_attributes_stay_out_of_metadata(self) -> None:
        """code.*, exception.* and log.record.uid are not user properties."""
        documents = record_documents(readable())
        assert documents is not None
        assert not [key for key in documents.entry["metadata"] if key.startswith(("code", "log", "exception"))]

    def test_trace_and_span_ids_when_present(self) -> None:
        """A record logged inside a span carries its ids as hex."""
        span = SpanContext(trace_id=0x1234, span_id=0x99, is_remote=False, trace_flags=TraceFlags(1))
        documents = record_documents(readable(span=span))
        assert documents is not None
        assert documents.history["traceId"] == f"{0x1234:032x}"
        assert documents.history["spanId"] == f"{0x99:016x}"

    def test_exception_is_kept_beside_the_entry(self) -> None:
        """A record with an exception keeps type, message and stack trace under 'exception'."""
        try:
            raise ValueError("bad chunk")
        except ValueError:
            exc_info = sys.exc_info()
        documents = record_documents(readable("chunk failed", level=logging.ERROR, exc_info=exc_info))
        assert documents is not None
        exception = documents.entry["exception"]
        assert exception["type"] == "ValueError"
        assert exception["message"] == "bad chunk"
        assert "Traceback" in exception["stacktrace"]
        assert documents.history["exception"] is exception
        assert documents.entry["level"] == "error"

    def test_record_uid_is_reused(self) -> None:
        """The same record always maps to the same _id (what makes a retried insert a duplicate)."""
        record = readable()
        first = record_documents(record)
        second = record_documents(record)
        assert first is not None
        assert second is not None
        assert first.history["_id"] == second.history["_id"]

    def test_records_without_uid_get_a_new_object_id(self) -> None:
        """A record from another handler (no log.record.uid) gets a fresh ObjectId."""
        log_record = LogRecord(
            timestamp=1_700_000_000_000_000_000,
            severity_number=SeverityNumber.INFO,
            body="from the stock handler",
            attributes={"executionId": "run-7", "jobId": "job-1"},
        )
        record = ReadableLogRecord(log_record=log_record, resource=Resource.create({}), instrumentation_scope=None)
        documents = record_documents(record)
        assert documents is not None
        assert isinstance(documents.history["_id"], ObjectId)
        assert documents.key == "run-7"
        assert documents.history["executionId"] == "run-7"
        assert documents.entry["metadata"]["category"] == ""
        assert documents.entry["timestamp"] == datetime(2023, 11, 14, 22, 13, 20, tzinfo=timezone.utc)

    def test_non_string_bodies_become_text(self) -> None:
        """A mapping body is stored as its text; no body is an empty message."""
        for body, expected in (({"a": 1}, "{'a': 1}"), (None, "")):
            log_record = LogRecord(timestamp=1, body=body, attributes={"executionId": "e"})
            record = ReadableLogRecord(log_record=log_record, resource=Resource.create({}))
            documents = record_documents(record)
            assert documents is not None
            assert documents.entry["message"] == expected

    def test_bad_keys_and_values_are_made_safe(self) -> None:
        """Properties with special keys and odd values produce documents pymongo encodes."""
        properties = {"$where": "1", "a.b": {"$c": [1, {"d.e": 2}]}, "blob": b"\x00\x01", "big": 2**80}
        documents = record_documents(readable(properties=properties))
        assert documents is not None
        metadata = documents.entry["metadata"]
        assert metadata["\uff04where"] == "1"
        assert metadata["a"] == {"b": {"\uff04c": [1, {"d\uff0ee": 2}]}}
        assert metadata["blob"] == b"\x00\x01"
        assert metadata["big"] == str(2**80)
        assert encodable(documents.history)
        assert encodable({"logs": [documents.entry]})

    def test_long_message_is_truncated(self) -> None:
        """A message over max_value_bytes is cut, with a marker, in both documents."""
        documents = record_documents(readable("m" * 200_000), max_value_bytes=4096)
        assert documents is not None
        message = documents.entry["message"]
        assert len(message.encode()) <= 4096
        assert message.startswith("m" * 4000)
        assert "truncated" in message
        assert documents.history["message"] == message

    def test_message_survives_properties_over_budget(self) -> None:
        """However much the properties hold, the message is stored."""
        properties = {f"p{i}": "v" * 5000 for i in range(100)}
        documents = record_documents(readable("still here", properties=properties), max_value_bytes=4096)
        assert documents is not None
        assert documents.entry["message"] == "still here"
        assert len(bson.encode(documents.history)) < 200 * 1024


class TestDottedKeys:
    """Dotted keys nest; a key that is a leaf and a parent keeps both; the logged keys are kept when renamed."""

    @staticmethod
    def stored(properties: dict[str, object]) -> tuple[dict[str, object], object]:
        documents = record_documents(readable(properties=properties))
        assert documents is not None
        metadata = dict(documents.history["metadata"])
        metadata.pop("category")
        return metadata, documents.history.get("metadataKeys")

    def test_dotted_keys_nest_in_order(self) -> None:
        metadata, keys = self.stored({"inngest.run_id": "r", "n": 1, "inngest.fn.id": "f"})
        assert list(metadata) == ["jobId", "executionId", "inngest", "n"]
        assert metadata["inngest"] == {"run_id": "r", "fn": {"id": "f"}}
        assert keys == ["jobId", "executionId", "inngest.run_id", "n", "inngest.fn.id"]

    @pytest.mark.parametrize(
        ("properties", "expected"),
        [
            ({"a": 1, "a.b": 2}, {"a": 1, "a\uff0eb": 2}),
            ({"a.b": 2, "a": 1}, {"a\uff0eb": 2, "a": 1}),
            ({"a.b": 1, "a.b.c": 2}, {"a": {"b": 1}, "a\uff0eb\uff0ec": 2}),
            ({"a..b": 1, ".c": 2, "d.": 3}, {"a\uff0e\uff0eb": 1, "\uff0ec": 2, "d\uff0e": 3}),
            ({"$a.$b": 1, "n\x00.m": 2}, {"\uff04a": {"\uff04b": 1}, "n\u2400": {"m": 2}}),
        ],
    )
    def test_leaf_and_parent_keep_both(self, properties: dict[str, object], expected: dict[str, object]) -> None:
        metadata, keys = self.stored(properties)
        assert {k: v for k, v in metadata.items() if k not in ("executionId", "jobId")} == expected
        assert keys == ["jobId", "executionId", *properties]

    def test_plain_keys_store_no_key_list(self) -> None:
        assert self.stored({"entity": "contacts"})[1] is None

    def test_the_cli_view_gives_back_the_logged_properties(self) -> None:
        from otel_revops.cli.render import record_view

        properties = {"inngest.run_id": "r", "a": 1, "a.b": 2, "$x": 3, "inngest.attempt": 0}
        documents = record_documents(readable(properties=properties))
        assert documents is not None
        view = record_view(documents.history)
        assert view.properties == {"jobId": JOB_ID, "executionId": EXECUTION_ID, **properties}
        assert list(view.properties) == ["jobId", "executionId", *properties]
