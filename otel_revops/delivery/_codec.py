"""Pure encoding of OpenTelemetry records as JSON-safe dicts, for the spool's files."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from opentelemetry._logs import LogRecord, SeverityNumber
from opentelemetry.context import Context
from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags, set_span_in_context

__all__ = ["decode_record", "encode_record"]


def _encode_value(value: Any) -> Any:
    if isinstance(value, bytes):
        return {"$b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, Mapping):
        return {"$map": {str(k): _encode_value(v) for k, v in value.items()}}
    if isinstance(value, (list, tuple)):
        return [_encode_value(v) for v in value]
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if "$b64" in value:
            return base64.b64decode(value["$b64"])
        return {str(k): _decode_value(v) for k, v in dict(value.get("$map", {})).items()}
    if isinstance(value, list):
        return [_decode_value(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(f"not a spooled value: {type(value).__name__}")


def _optional(value: Any, kind: type) -> Any:
    if value is not None and not isinstance(value, kind):
        raise TypeError(f"expected {kind.__name__}, got {type(value).__name__}")
    return value


def encode_record(readable: ReadableLogRecord) -> dict[str, Any]:
    """A JSON-safe dict holding everything an exporter reads from ``readable``."""
    record = readable.log_record
    scope = readable.instrumentation_scope
    return {
        "t": record.timestamp,
        "o": record.observed_timestamp,
        "tid": record.trace_id or 0,
        "sid": record.span_id or 0,
        "tf": int(record.trace_flags or 0),
        "st": record.severity_text,
        "sn": record.severity_number.value if record.severity_number is not None else None,
        "b": _encode_value(record.body),
        "a": {k: _encode_value(v) for k, v in (record.attributes or {}).items()},
        "e": record.event_name,
        "r": {k: _encode_value(v) for k, v in readable.resource.attributes.items()},
        "rs": readable.resource.schema_url,
        "s": [scope.name, scope.version, scope.schema_url] if scope is not None else None,
    }


def decode_record(data: Any) -> ReadableLogRecord:
    """The :class:`ReadableLogRecord` that :func:`encode_record` described.

    Raises ``TypeError``, ``ValueError``, ``KeyError`` or ``IndexError`` when ``data`` is not of that shape.
    """
    if not isinstance(data, dict):
        raise TypeError(f"a spooled record is an object, not {type(data).__name__}")
    context = None
    if data.get("tid"):
        span = SpanContext(
            int(data["tid"]), int(data["sid"]), is_remote=False, trace_flags=TraceFlags(int(data.get("tf") or 0))
        )
        context = set_span_in_context(NonRecordingSpan(span), Context())
    attributes = data.get("a") or {}
    if not isinstance(attributes, dict):
        raise TypeError("spooled attributes are an object")
    severity = _optional(data.get("sn"), int)
    record = LogRecord(
        timestamp=_optional(data.get("t"), int),
        observed_timestamp=_optional(data.get("o"), int),
        context=context,
        severity_text=_optional(data.get("st"), str),
        severity_number=SeverityNumber(severity) if severity is not None else None,
        body=_decode_value(data.get("b")),
        attributes={str(k): _decode_value(v) for k, v in attributes.items()},
        event_name=_optional(data.get("e"), str),
    )
    resource = data.get("r") or {}
    if not isinstance(resource, dict):
        raise TypeError("a spooled resource is an object")
    scope = data.get("s")
    if scope is not None:
        if not isinstance(scope, list) or len(scope) != 3:
            raise TypeError("a spooled scope is a list of three")
        name, version, schema_url = scope
        scope = InstrumentationScope(str(name), _optional(version, str), _optional(schema_url, str))
    return ReadableLogRecord(
        log_record=record,
        resource=Resource({str(k): _decode_value(v) for k, v in resource.items()}, _optional(data.get("rs"), str)),
        instrumentation_scope=scope,
    )
