"""A logging call never raises into the application, whatever it is given."""

from __future__ import annotations

import io
import logging
import math
from typing import Any

import pytest
from opentelemetry.sdk._logs.export import InMemoryLogRecordExporter

import otel_revops


class RaisingRepr:
    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def __str__(self) -> str:
        raise RuntimeError("str exploded")


class RaisingMapping(dict[str, Any]):
    def items(self) -> Any:
        raise RuntimeError("items exploded")


def _cyclic() -> dict[str, Any]:
    d: dict[str, Any] = {"name": "loop"}
    d["self"] = d
    return d


def _cyclic_list() -> list[Any]:
    lst: list[Any] = [1]
    lst.append(lst)
    return lst


BAD_VALUES: dict[str, Any] = {
    "raising_repr": RaisingRepr(),
    "cyclic_dict": _cyclic(),
    "cyclic_list": _cyclic_list(),
    "bytes": b"\xff\x00\xfe",
    "nan": math.nan,
    "inf": -math.inf,
    "huge_string": "x" * 2_000_000,
    "huge_int": 10**40,
    "lone_surrogate": "\ud800",
    "control_chars": "a\x00b\x1bc",
    "non_string_keys": {(1, 2): "tuple key", None: "none key", 3: "int"},
    "set": {1, 2},
    "object": object(),
    "raising_mapping": RaisingMapping(a=1),
    "deep": {"a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {"i": {"j": {"k": {"l": {"m": {"n": {"o": {"p": {"q": {"r": 1}}}}}}}}}}}}}}}}}},
}


@pytest.mark.parametrize("console", ["pretty", "json"])
@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_property_values(console: str, name: str) -> None:
    """Each bad value is shown safely on the console and exported; nothing raises."""
    stream = io.StringIO()
    exporter = InMemoryLogRecordExporter()
    pipeline = otel_revops.configure_logging(console=console, console_stream=stream, exporters=[exporter])
    value = BAD_VALUES[name]
    logging.getLogger("c").info("with %s", name, extra={"value": value})
    otel_revops.get_logger("c").info("kw", value=value)
    assert pipeline.force_flush(10_000)
    assert stream.getvalue().count("\n") >= 2
    assert len(exporter.get_finished_logs()) == 2
    assert pipeline.stats()["handler_errors"] == 0
    assert pipeline.stats()["forwarder"]["failed"] == 0


def test_unrepresentable_value_is_shown_by_type() -> None:
    """An object whose __repr__ and __str__ raise appears as a placeholder naming its type."""
    stream = io.StringIO()
    otel_revops.configure_logging(console_stream=stream, console_colors="never")
    logging.getLogger("c").info("m", extra={"v": RaisingRepr()})
    assert '"v": "<unrepresentable RaisingRepr>"' in stream.getvalue()


def test_cycle_is_marked() -> None:
    """A cyclic structure is cut where it loops."""
    stream = io.StringIO()
    otel_revops.configure_logging(console_stream=stream, console_colors="never")
    logging.getLogger("c").info("m", extra={"v": _cyclic()})
    assert '"self": "<cycle>"' in stream.getvalue()


@pytest.mark.parametrize(
    ("msg", "args"),
    [("%d items", ("not a number",)), ("%s %s", ("only one",)), (RaisingRepr(), ()), ("ok %s", (RaisingRepr(),))],
)
def test_bad_messages(msg: Any, args: tuple[Any, ...]) -> None:
    """Broken format strings and unprintable messages still produce a line."""
    stream = io.StringIO()
    exporter = InMemoryLogRecordExporter()
    pipeline = otel_revops.configure_logging(console_stream=stream, exporters=[exporter])
    # pytest's own capture handler re-raises formatting errors: only ours is under test here.
    logging.getLogger().handlers[:] = [pipeline.handler]
    logging.getLogger("c").error(msg, *args)
    assert pipeline.force_flush(10_000)
    assert "ERROR   c: " in stream.getvalue()
    assert len(exporter.get_finished_logs()) == 1


def test_closed_console_stream_is_counted_not_raised() -> None:
    """Writing to a closed stream is counted in stats, not raised."""
    stream = io.StringIO()
    pipeline = otel_revops.configure_logging(console_stream=stream)
    stream.close()
    logging.getLogger("c").info("m")
    assert pipeline.stats()["console_errors"] == 1
