"""Pure mapping of an OpenTelemetry log record to the MongoDB documents that store it.

Two documents come from each record that belongs to an execution (it has an ``executionId``):

* the **entry** pushed onto the execution document's ``logs`` array, in the original's shape::

    {timestamp, level, message, metadata: {jobId, executionId, ...every property..., category}}

  (the properties in the order they were logged, the execution context's first), plus ``exception``
  (``{type, message, stacktrace}``) when the record carries one;
* the **history document**, one per record in the logs collection::

    {_id, executionId, jobId, timestamp, level, severityNumber, message, category, metadata,
     metadataKeys, scope, traceId, spanId, exception, service}

  ``_id`` is the record's ``log.record.uid`` (fixed when the record entered the pipeline), so writing
  the same record twice is refused by the server as a duplicate instead of being stored twice.
  ``executionId`` holds the same value as the execution document's ``_id`` (an ``ObjectId`` when the id
  is one), so ``find({"executionId": execution["_id"]})`` joins them; ``metadata.executionId`` keeps
  the id as it was logged. ``traceId``, ``spanId`` and ``exception`` are present only when known;
  ``scope`` (the category's static part, see :mod:`otel_revops.categories`) only when it differs
  from ``category``.

Dotted property keys are stored nested (``inngest.run_id`` → ``metadata.inngest.run_id``; the rule, and
``metadataKeys``, in :mod:`.nesting`). Everything is made safe to store: keys MongoDB treats specially
are rewritten (a leading ``$`` becomes ``＄``, NUL becomes ``␀``, a dot that cannot nest ``．``),
values become BSON types (anything else its ``str``), and a string or bytes value longer than
``max_value_bytes`` is cut with a ``… [truncated N bytes]`` marker. A record's values together are held
to ``16 × max_value_bytes``; values beyond that budget are replaced by a marker. None of these
functions raises on odd input.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from bson import ObjectId
from bson.binary import Binary
from bson.decimal128 import Decimal128
from bson.int64 import Int64
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.trace import format_span_id, format_trace_id

from otel_revops.attributes import RECORD_UID, user_properties
from otel_revops.categories import record_category
from otel_revops.exporters.mongodb.nesting import nested_path, place
from otel_revops.values import INT64_BOUND, safe_str, valid_text

__all__ = [
    "DEFAULT_MAX_VALUE_BYTES",
    "RecordDocuments",
    "Sanitizer",
    "execution_key",
    "level_name",
    "record_documents",
    "safe_key",
    "truncate_bytes",
    "truncate_text",
]

#: Default longest string or bytes value stored (64 KiB).
DEFAULT_MAX_VALUE_BYTES = 65_536
_RECORD_BUDGET_FACTOR = 16
# BSON allows 100 levels of nesting; the documents wrap metadata in two more.
_MAX_DEPTH = 32
_MAX_KEY_BYTES = 1024
_MAX_KEY_CHARS = _MAX_KEY_BYTES // 4
# What a scalar or container slot is charged against a record's budget, beyond its text.
_SLOT_BYTES = 8
_OVER_BUDGET = "<omitted: the record is over its size budget>"
_UNSAFE_KEY = re.compile(r"^\$|[.\x00]")
_KEY_REPLACEMENTS = {"$": "\uff04", ".": "\uff0e", "\x00": "\u2400"}
# Keys repeat from record to record: each is made safe once (held to a bounded number of keys).
_SAFE_KEYS: dict[str, str] = {}
_SAFE_KEYS_LIMIT = 4096
# Execution ids repeat from record to record too: each becomes its document's ``_id`` once.
_EXECUTION_KEYS: dict[str, Any] = {}
_UTC = timezone.utc
_EXCEPTION_KEYS = (("exception.type", "type"), ("exception.message", "message"), ("exception.stacktrace", "stacktrace"))


def safe_key(key: Any) -> str:
    """``key`` as a field name MongoDB stores as given: ``str`` of it, a leading ``$`` → ``＄``,
    ``.`` → ``．``, NUL → ``␀``, lone surrogates → ``�``, cut to 1 KiB."""
    if type(key) is str:
        known = _SAFE_KEYS.get(key)
        if known is not None:
            return known
        if len(_SAFE_KEYS) >= _SAFE_KEYS_LIMIT:
            _SAFE_KEYS.clear()
        known = _SAFE_KEYS[key] = _safe_key(key)
        return known
    return _safe_key(key)


def _safe_key(key: Any) -> str:
    text = valid_text(key if type(key) is str else safe_str(key))
    if len(text) > _MAX_KEY_CHARS:
        text = truncate_text(text, _MAX_KEY_BYTES)
    if _UNSAFE_KEY.search(text) is None:
        return text
    return _UNSAFE_KEY.sub(lambda m: _KEY_REPLACEMENTS[m.group(0)], text)


def _marker(dropped: int) -> str:
    return f"… [truncated {dropped} bytes]"


def truncate_text(text: str, max_bytes: int) -> str:
    """``text`` if its UTF-8 form fits ``max_bytes``, else its head with a marker, together within ``max_bytes``."""
    if len(text) * 4 <= max_bytes:
        return text
    encoded = text.encode("utf-8", "surrogatepass")
    if len(encoded) <= max_bytes:
        return text
    marker = _marker(len(encoded) - max_bytes)
    keep = max(0, max_bytes - len(marker.encode()) - 8)
    head = encoded[:keep].decode("utf-8", "ignore")
    return head + _marker(len(encoded) - len(head.encode("utf-8", "surrogatepass")))


def truncate_bytes(data: bytes, max_bytes: int) -> bytes:
    """``data`` if it fits ``max_bytes``, else its head followed by a marker."""
    if len(data) <= max_bytes:
        return data
    marker = _marker(len(data) - max_bytes).encode()
    return data[: max(0, max_bytes - len(marker))] + marker


class Sanitizer:
    """Turns one record's values into BSON-safe ones, within a byte budget for the whole record.

    Create one per record: ``budget`` is spent as values are converted.
    """

    __slots__ = ("budget", "max_bytes")

    def __init__(self, max_bytes: int = DEFAULT_MAX_VALUE_BYTES, budget: int | None = None) -> None:
        self.max_bytes = max_bytes
        self.budget = max_bytes * _RECORD_BUDGET_FACTOR if budget is None else budget

    def text(self, value: str) -> str:
        """A string value, truncated to ``max_bytes`` and charged to the budget."""
        if self.budget <= 0:
            return _OVER_BUDGET
        if len(value) * 4 > self.max_bytes or len(value) * 4 > self.budget:
            value = truncate_text(value, min(self.max_bytes, max(64, self.budget)))
        self.budget -= len(value)
        return valid_text(value)

    def mapping(self, value: Mapping[Any, Any], depth: int = 0, seen: frozenset[int] = frozenset()) -> dict[str, Any]:
        """A mapping with safe keys and values (a broken mapping becomes ``{"value": str(mapping)}``)."""
        if id(value) in seen:
            return {"value": "<cycle>"}
        inner = seen | {id(value)}
        try:
            items = list(value.items())
        except Exception:  # noqa: BLE001 - a user's mapping may raise anything
            return {"value": self.text(safe_str(value))}
        result: dict[str, Any] = {}
        for key, item in items:
            name = safe_key(key)
            self.budget -= len(name) + _SLOT_BYTES
            if self.budget <= 0:
                result[name] = _OVER_BUDGET
                break
            result[name] = self.value(item, depth + 1, inner)
        return result

    def value(self, value: Any, depth: int = 0, seen: frozenset[int] = frozenset()) -> Any:
        """``value`` as a BSON type: None, bool, int64, float, str, datetime, ObjectId, bytes, lists and dicts;
        anything else its ``str``. Never raises."""
        kind = type(value)
        if kind is str:
            size = len(value) * 4
            if size <= self.max_bytes and size < self.budget:
                self.budget -= len(value)
                return valid_text(value)
            return self.text(value)
        if value is None or kind is bool or kind is float:
            return value
        if kind is int:
            return value if -INT64_BOUND <= value < INT64_BOUND else str(value)
        if kind is datetime or kind is ObjectId:
            return value
        return self._other(value, depth, seen)

    def _other(self, value: Any, depth: int, seen: frozenset[int]) -> Any:
        if depth >= _MAX_DEPTH:
            return "<too deep>"
        if self.budget <= 0:
            return _OVER_BUDGET
        if isinstance(value, Mapping):
            return self.mapping(value, depth, seen)
        if isinstance(value, (list, tuple, set, frozenset)):
            if id(value) in seen:
                return "<cycle>"
            inner = seen | {id(value)}
            result: list[Any] = []
            for item in list(value):
                self.budget -= _SLOT_BYTES
                if self.budget <= 0:
                    result.append(_OVER_BUDGET)
                    break
                result.append(self.value(item, depth + 1, inner))
            return result
        if isinstance(value, (bytes, bytearray, memoryview)):
            data = truncate_bytes(bytes(value), min(self.max_bytes, max(64, self.budget)))
            self.budget -= len(data)
            return data
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return self.value(int(value))
        if isinstance(value, float):
            return float(value)
        if isinstance(value, str):
            return self.text(str.__str__(value))
        if isinstance(value, datetime):
            return value
        if isinstance(value, (ObjectId, Decimal128, Binary, Int64)):
            return value
        if isinstance(value, date):
            return self.text(value.isoformat())
        return self.text(safe_str(value))


def level_name(severity_number: int | None, severity_text: str | None = None) -> str:
    """The original's level name for an OTel severity: ``debug`` (< 9), ``info`` (< 13), ``warning`` (< 17),
    ``error`` (< 21), else ``critical``; without a number, from the text, else ``info``."""
    if severity_number is None or severity_number <= 0:
        text = (severity_text or "").strip().lower()
        if text.startswith(("trace", "debug")):
            return "debug"
        if text.startswith("warn"):
            return "warning"
        if text.startswith("err"):
            return "error"
        if text.startswith(("fatal", "crit")):
            return "critical"
        return "info"
    if severity_number < 9:
        return "debug"
    if severity_number < 13:
        return "info"
    if severity_number < 17:
        return "warning"
    if severity_number < 21:
        return "error"
    return "critical"


def execution_key(execution_id: Any) -> Any:
    """The execution document's ``_id``: ``ObjectId(execution_id)`` when it is a valid one, else the id as given
    (strings and 64-bit integers; anything else its ``str``)."""
    kind = type(execution_id)
    if kind is ObjectId:
        return execution_id
    if kind is str:
        known = _EXECUTION_KEYS.get(execution_id)
        if known is None:
            known = _object_id(execution_id) or valid_text(execution_id)
            if len(_EXECUTION_KEYS) >= _SAFE_KEYS_LIMIT:
                _EXECUTION_KEYS.clear()
            _EXECUTION_KEYS[execution_id] = known
        return known
    if kind is int and -INT64_BOUND <= execution_id < INT64_BOUND:
        return execution_id
    return safe_str(execution_id)


def _object_id(text: str) -> ObjectId | None:
    """``ObjectId(text)`` when ``text`` is 24 hex digits, else None (parsed once, not validated first)."""
    if len(text) != 24:
        return None
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        return None
    return ObjectId(raw) if len(raw) == 12 else None  # fromhex skips spaces: "00 11 …" is not an ObjectId


def _timestamp(nanoseconds: int | None) -> datetime:
    if nanoseconds is None:
        return datetime.now(_UTC)
    # BSON dates hold milliseconds. A float of epoch seconds is exact to well under half a microsecond
    # until 2106, and fromtimestamp rounds to the nearest microsecond: the milliseconds come back exact.
    return datetime.fromtimestamp((nanoseconds // 1_000_000) / 1000, _UTC)


def _message(body: Any, max_bytes: int) -> str:
    if type(body) is str:
        text = body
    elif body is None:
        text = ""
    elif isinstance(body, (bytes, bytearray)):
        text = bytes(body).decode("utf-8", "replace")
    else:
        text = safe_str(body)
    return valid_text(text if len(text) * 4 <= max_bytes else truncate_text(text, max_bytes))


def _record_id(attributes: Mapping[str, Any]) -> ObjectId:
    uid = attributes.get(RECORD_UID)
    return (_object_id(uid) if type(uid) is str else None) or ObjectId()


def _metadata(
    properties: Mapping[str, Any], job_id: Any, sanitizer: Sanitizer
) -> tuple[dict[str, Any], list[str] | None]:
    """The stored metadata, in the properties' order, dotted keys nested (:mod:`.nesting`); and the keys as
    logged when any is stored under another name (else None). ``jobId`` is given sanitized already."""
    metadata: dict[str, Any] = {}
    created: set[int] = set()
    renamed = False
    for key, value in properties.items():
        stored = job_id if key == "jobId" else sanitizer.value(value)
        path = nested_path(key, properties) if "." in key else None
        if path is not None and place(metadata, [safe_key(part) for part in path], stored, created):
            renamed = True
            continue
        name = safe_key(key)
        renamed = renamed or name != key
        metadata[name] = stored
    if not renamed:
        return metadata, None
    return metadata, [valid_text(key)[:_MAX_KEY_CHARS] for key in properties]


@dataclass(slots=True)
class RecordDocuments:
    """The documents of one record: the execution it belongs to (``key`` = the execution document's ``_id``),
    its ``jobId`` as logged, the ``entry`` for the embedded ``logs`` array and the ``history`` document."""

    key: Any
    job_id: Any
    entry: dict[str, Any]
    history: dict[str, Any]


def record_documents(
    record: ReadableLogRecord, max_value_bytes: int = DEFAULT_MAX_VALUE_BYTES
) -> RecordDocuments | None:
    """The documents storing ``record``, or None when it belongs to no execution (no ``executionId``).

    A record without a ``log.record.uid`` gets a new ``ObjectId``: build its documents once and reuse
    them when the write is retried.
    """
    log = record.log_record
    attributes: Mapping[str, Any] = log.attributes or {}
    execution_id = attributes.get("executionId")
    if execution_id is None or execution_id == "":
        return None
    sanitizer = Sanitizer(max_value_bytes)
    # The message comes first: it is kept (truncated to max_value_bytes) whatever the properties spend.
    message = _message(log.body, max_value_bytes)
    sanitizer.budget -= len(message)
    properties = user_properties(attributes)
    job_id = sanitizer.value(properties.get("jobId"))
    metadata, logged_keys = _metadata(properties, job_id, sanitizer)
    category = sanitizer.text(record_category(record))
    metadata["category"] = category
    timestamp = _timestamp(log.timestamp if log.timestamp is not None else log.observed_timestamp)
    severity = int(log.severity_number._value_) if log.severity_number is not None else None
    level = level_name(severity, log.severity_text)
    key = execution_key(execution_id)
    entry: dict[str, Any] = {"timestamp": timestamp, "level": level, "message": message, "metadata": metadata}
    history: dict[str, Any] = {
        "_id": _record_id(attributes),
        "executionId": key,
        "jobId": job_id,
        "timestamp": timestamp,
        "level": level,
        "severityNumber": severity,
        "message": message,
        "category": category,
        "metadata": metadata,
    }
    if logged_keys is not None:
        history["metadataKeys"] = logged_keys
    scope = record.instrumentation_scope
    if scope is not None and scope.name and scope.name != category:
        history["scope"] = sanitizer.text(scope.name)
    if log.trace_id:
        history["traceId"] = format_trace_id(log.trace_id)
    if log.span_id:
        history["spanId"] = format_span_id(log.span_id)
    if "exception.type" in attributes or "exception.message" in attributes or "exception.stacktrace" in attributes:
        exception = {name: sanitizer.value(attributes[attr]) for attr, name in _EXCEPTION_KEYS if attr in attributes}
        entry["exception"] = exception
        history["exception"] = exception
    service = record.resource.attributes.get("service.name") if record.resource is not None else None
    if service is not None:
        history["service"] = sanitizer.value(service)
    return RecordDocuments(key, job_id, entry, history)
