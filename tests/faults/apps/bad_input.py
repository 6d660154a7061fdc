"""An application that logs every kind of bad input the fault-injection suite knows, one record each.

Configures otel-revops with MongoDB (upserting execution documents) and/or OTLP and/or the file
sink, the spool, and the console (``--console pretty`` or ``json``) on stderr. Each record carries ``n`` (its index), ``kind`` and a
``probe`` marker to find its console output. A logging call that raises is caught and reported —
the promise is that none does. Prints one JSON ``done`` line on stdout: every kind with its ``n`` and
execution id, the kinds that raised, and the pipeline's counts.
"""

from __future__ import annotations

import argparse
import decimal
import json
import logging
import math
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import otel_revops
from otel_revops import BoundLogger

VALID_EXECUTION = "65a4f3b2c1d2e3f4a5b6c7d9"
JOB_ID = "bad-input-job"
HUGE = 2_000_000


class RaisingRepr:
    """An object whose ``__repr__`` and ``__str__`` both raise."""

    def __repr__(self) -> str:
        raise RuntimeError("repr exploded")

    def __str__(self) -> str:
        raise RuntimeError("str exploded")


class RaisingItems(dict[str, Any]):
    """A dict whose ``items()`` raises."""

    def items(self) -> Any:
        raise RuntimeError("items exploded")


class UnprintableError(Exception):
    """An exception whose message cannot be rendered."""

    def __str__(self) -> str:
        raise RuntimeError("exception str exploded")


def cyclic_dict() -> dict[str, Any]:
    """A dict that contains itself."""
    value: dict[str, Any] = {"name": "loop"}
    value["self"] = value
    return value


def cyclic_list() -> list[Any]:
    """A list that contains itself."""
    value: list[Any] = [1]
    value.append(value)
    return value


def deep(levels: int) -> dict[str, Any]:
    """``levels`` nested dicts."""
    value: dict[str, Any] = {"leaf": True}
    for level in range(levels):
        value = {f"l{level}": value}
    return value


@dataclass(frozen=True)
class Kind:
    """One kind of bad input: how it is logged, and the execution id it is logged under."""

    name: str
    log: Callable[[BoundLogger, dict[str, Any]], None]
    execution_id: Any = VALID_EXECUTION


def _value(value: Any) -> Callable[[BoundLogger, dict[str, Any]], None]:
    return lambda log, marks: log.info("bad value", value=value, **marks)


def _keyed(key: str) -> Callable[[BoundLogger, dict[str, Any]], None]:
    properties: dict[str, Any] = {key: "v"}
    return lambda log, marks: log.info("bad key", **properties, **marks)


def _stdlib(message: Any, *args: Any) -> Callable[[BoundLogger, dict[str, Any]], None]:
    return lambda log, marks: log.logger.info(message, *args, extra=marks)


def _unprintable_exception(log: BoundLogger, marks: dict[str, Any]) -> None:
    try:
        raise UnprintableError()
    except UnprintableError:
        log.exception("failed with an unprintable exception", **marks)


def _reserved_names(log: BoundLogger, marks: dict[str, Any]) -> None:
    log.info("reserved names", name="not the logger", message="not the message", args="x", **marks)


KINDS: list[Kind] = [
    Kind("cyclic dict", _value(cyclic_dict())),
    Kind("cyclic list", _value(cyclic_list())),
    Kind("non-string keys (tuple, int, None)", _value({(1, 2): "tuple", 3: "int", None: "none"})),
    Kind("bytes", _value(b"\xff\x00\xfe")),
    Kind("bytearray", _value(bytearray(b"\x00\x01\x02"))),
    Kind("huge bytes (2 MB)", _value(b"\x01" * HUGE)),
    Kind("NaN", _value(math.nan)),
    Kind("+inf", _value(math.inf)),
    Kind("-inf", _value(-math.inf)),
    Kind("huge string (2 MB)", _value("x" * HUGE)),
    Kind("huge int (10**40)", _value(10**40)),
    Kind("lone surrogate in a value", _value("before \ud800 after")),
    Kind("lone surrogate in a key", _keyed("key\udc80")),
    Kind("lone surrogate in the message", _stdlib("message with a lone \udfff surrogate")),
    Kind("control characters and NUL", _value("a\x00b\x1b[31mc\x07\r\n")),
    Kind("control characters in the message", _stdlib("line\x00one\x1b[2J\rtwo")),
    Kind("object whose __repr__/__str__ raise", _value(RaisingRepr())),
    Kind("dict subclass whose items() raises", _value(RaisingItems(a=1))),
    Kind("deeply nested (100 levels)", _value(deep(100))),
    Kind("set", _value({1, 2, 3})),
    Kind("unusual types (Decimal, UUID, datetime, Path)", _value(
        [decimal.Decimal("1.10"), uuid.UUID(int=7), datetime(2026, 1, 2, tzinfo=timezone.utc), Path("/tmp/x")]
    )),
    Kind("many properties (2,000 keys)", _value({f"k{i}": i for i in range(2000)})),
    Kind("$-prefixed key", _keyed("$where")),
    Kind("dotted key", _keyed("a.b.c")),
    Kind("NUL in a key", _keyed("a\x00b")),
    Kind("reserved property names (name, message, args)", _reserved_names),
    Kind("executionId not an ObjectId ('abc')", _stdlib("odd execution id"), "abc"),
    Kind("executionId 24 characters, not hex", _stdlib("odd execution id"), "zzzzzzzzzzzzzzzzzzzzzzzz"),
    Kind("executionId very long (5,000 characters)", _stdlib("odd execution id"), "e" * 5000),
    Kind("executionId an int (123)", _stdlib("odd execution id"), 123),
    Kind("executionId a float (1.5)", _stdlib("odd execution id"), 1.5),
    Kind("executionId empty (no execution)", _stdlib("no execution"), ""),
    Kind("executionId None (no execution)", _stdlib("no execution"), None),
    Kind("message not a string (dict)", _stdlib({"not": "a string"})),
    Kind("message whose __str__ raises", _stdlib(RaisingRepr())),
    Kind("message is bytes", _stdlib(b"\xffbytes message")),
    Kind("broken % format (%d with a str)", _stdlib("%d items", "not a number")),
    Kind("too few % arguments", _stdlib("%s and %s", "only one")),
    Kind("% argument whose __str__ raises", _stdlib("value %s", RaisingRepr())),
    Kind("exception whose __str__ raises", _unprintable_exception),
]


def stored_in_mongodb(execution_id: Any) -> bool:
    """Whether a record of this execution id belongs to an execution (only those are written to MongoDB)."""
    return execution_id is not None and execution_id != ""


def main() -> int:
    """Configure, log each kind once inside its execution, flush, report."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--uri")
    parser.add_argument("--database")
    parser.add_argument("--otlp-endpoint")
    parser.add_argument("--file-path")
    parser.add_argument("--spool-dir", required=True)
    parser.add_argument("--console", choices=("pretty", "json"), default="pretty")
    args = parser.parse_args()
    pipeline = otel_revops.configure_logging(
        mongodb_uri=args.uri,
        mongodb_database=args.database,
        mongodb_upsert=True,
        otlp_endpoint=args.otlp_endpoint,
        file_path=args.file_path,
        console=args.console,
        console_colors="never",
        spool_dir=args.spool_dir,
    )
    log = otel_revops.get_logger("faults.bad_input")
    raised = []
    for n, kind in enumerate(KINDS):
        marks = {"n": n, "kind": kind.name, "probe": f"probe-{n}-end"}
        try:
            with otel_revops.execution_context(job_id=JOB_ID, execution_id=kind.execution_id):
                kind.log(log, marks)
        except Exception as error:  # the report says which kind raised, and what
            raised.append(f"{kind.name}: {type(error).__name__}: {error}")
    flushed = pipeline.force_flush(20_000)
    stats = pipeline.stats()
    otel_revops.shutdown_logging()
    kinds = [
        {"n": n, "kind": k.name, "execution_id": repr(k.execution_id)[:40], "stored": stored_in_mongodb(k.execution_id)}
        for n, k in enumerate(KINDS)
    ]
    sys.stdout.write(json.dumps({"event": "done", "kinds": kinds, "raised": raised, "flushed": flushed,
                                 "stats": stats}, default=str) + "\n")
    sys.stdout.flush()
    logging.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
