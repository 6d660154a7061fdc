"""Every kind of bad input an application can log — cycles, odd keys, bytes, NaN, huge values, lone
surrogates, raising objects, odd execution ids, broken messages — reaches the console and MongoDB
made safe, each record exactly once, and no logging call raises."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId

from tests.faults.harness import (
    AppProcess,
    FigureRecorder,
    check_executions,
    close_quietly,
    connect,
    create_executions,
    spool_files,
    tally,
)
from tests.support.mongo_server import MongoServer
from tests.support.otlp_receiver import OTLPReceiver

VALID_EXECUTION = "65a4f3b2c1d2e3f4a5b6c7d9"
Document = dict[str, Any]


def _metadata(document: Document) -> Document:
    metadata: Document = document["metadata"]
    return metadata


# What a user finds stored for some of the kinds (by the kind's name in the application).
STORED_AS: dict[str, Callable[[Document], bool]] = {
    "cyclic dict": lambda d: _metadata(d)["value"] == {"name": "loop", "self": "<cycle>"},
    "non-string keys (tuple, int, None)": lambda d: _metadata(d)["value"]
    == {"(1, 2)": "tuple", "3": "int", "None": "none"},
    "bytes": lambda d: _metadata(d)["value"] == b"\xff\x00\xfe",
    "NaN": lambda d: _metadata(d)["value"] == "nan",
    "-inf": lambda d: _metadata(d)["value"] == "-inf",
    "huge string (2 MB)": lambda d: "truncated" in _metadata(d)["value"] and len(_metadata(d)["value"]) <= 65_536,
    "huge bytes (2 MB)": lambda d: b"truncated" in _metadata(d)["value"] and len(_metadata(d)["value"]) <= 65_536,
    "huge int (10**40)": lambda d: _metadata(d)["value"] == str(10**40),
    "lone surrogate in a value": lambda d: _metadata(d)["value"] == "before \ufffd after",
    "lone surrogate in a key": lambda d: _metadata(d).get("key\ufffd") == "v",
    "lone surrogate in the message": lambda d: d["message"] == "message with a lone \ufffd surrogate",
    "control characters and NUL": lambda d: _metadata(d)["value"] == "a\x00b\x1b[31mc\x07\r\n",
    "object whose __repr__/__str__ raise": lambda d: _metadata(d)["value"] == "<unrepresentable RaisingRepr>",
    "$-prefixed key": lambda d: _metadata(d).get("\uff04where") == "v",
    "dotted key": lambda d: _metadata(d)["a"]["b"]["c"] == "v",
    "NUL in a key": lambda d: _metadata(d).get("a\u2400b") == "v",
    "reserved property names (name, message, args)": lambda d: _metadata(d)["message"] == "not the message",
    "executionId not an ObjectId ('abc')": lambda d: d["executionId"] == "abc",
    "executionId an int (123)": lambda d: d["executionId"] == 123,
    "broken % format (%d with a str)": lambda d: "formatting failed" in d["message"],
    "message whose __str__ raises": lambda d: d["message"] == "<unrepresentable RaisingRepr>",
}


def console_probes(stderr: str, console: str) -> dict[int, int]:
    """How many console records carry each record's ``probe`` marker."""
    found: dict[int, int] = {}
    if console == "json":
        for line in stderr.splitlines():
            if line.startswith("{"):
                n = json.loads(line)["properties"]["n"]
                found[n] = found.get(n, 0) + 1
        return found
    for chunk in stderr.split('"probe": "probe-')[1:]:
        n = int(chunk.split("-end", 1)[0])
        found[n] = found.get(n, 0) + 1
    return found


@pytest.mark.parametrize("console", ["pretty", "json"])
def test_bad_input_is_stored_once_and_safely(
    console: str, fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """Each of 40 kinds: one console record, one history document (made safe), no exception, no loss."""
    client = connect(fault_server.uri)
    db = client["faults"]
    try:
        spool = tmp_path / "spool"
        app = AppProcess(
            "bad_input.py",
            ["--uri", fault_server.uri, "--database", "faults", "--spool-dir", str(spool), "--console", console],
            stderr_path=tmp_path / "bad_input.stderr",
        )
        try:
            done = app.finish(120)
        finally:
            app.kill()
        kinds = done["kinds"]
        expected = [kind["n"] for kind in kinds if kind["stored"]]
        counted = tally(db, [range(n, n + 1) for n in expected])
        documents = {_metadata(d)["n"]: d for d in db.execution_logs.find({})}
        wrong = [name for name, check in STORED_AS.items() if not _stored_as(documents, kinds, name, check)]
        probes = console_probes(app.stderr(), console)
        delivery = done["stats"]["exporters"]["MongoLogRecordExporter"]
        exporter = delivery["destination"]
        valid = db.job_executions.find_one({"_id": _object_id(VALID_EXECUTION)})
        figures.record(
            f"bad-input-{len(kinds)}-kinds (console {console})",
            **counted.row(),
            rss_growth_mb=None,
            without_execution=len(kinds) - len(expected),
            raised=len(done["raised"]),
            refused_by_mongodb=delivery["refused"],
            rejected_by_execution_document=exporter["embedded_rejected"],
            console_records=sum(probes.values()),
        )
        assert len(kinds) >= 20
        assert done["raised"] == []
        assert done["flushed"], done["stats"]
        assert done["stats"]["handler_errors"] == 0
        assert done["stats"]["console_errors"] == 0
        assert done["stats"]["forwarder"]["failed"] == 0
        assert (counted.lost, counted.duplicated, counted.unexpected) == (0, 0, 0), [
            kinds[n]["kind"] for n in counted.missing
        ]
        assert wrong == []
        # Records with no execution are shown on the console but have no place in MongoDB.
        assert exporter["filtered"] == len(kinds) - len(expected)
        assert (delivery["refused"], exporter["embedded_rejected"]) == (0, 0)
        assert probes == {kind["n"]: 1 for kind in kinds}
        assert valid is not None
        assert valid["logCount"] == sum(1 for k in kinds if k["stored"] and k["execution_id"] == repr(VALID_EXECUTION))
        for odd in ("abc", 123):
            document = db.job_executions.find_one({"_id": odd})
            assert document is not None and document["logCount"] == 1, odd
        assert spool_files(spool) == []
    finally:
        close_quietly(client)


def _stored_as(
    documents: dict[int, Document], kinds: list[dict[str, Any]], name: str, check: Callable[[Document], bool]
) -> bool:
    (n,) = [kind["n"] for kind in kinds if kind["kind"] == name]
    document = documents.get(n)
    return document is not None and check(document)


def _object_id(text: str) -> ObjectId:
    return ObjectId(text)


def test_oversized_records_of_one_execution_do_not_cost_another_its_entry(
    fault_server: MongoServer, tmp_path: Path, figures: FigureRecorder
) -> None:
    """19 records of ~1 MB for one execution and 1 small record for another share a batch: the history holds
    all 20, and the other execution's document gets its entry even though the big ones cannot all fit."""
    client = connect(fault_server.uri)
    db = client["faults"]
    try:
        big, small = create_executions(db, 2)
        spool = tmp_path / "spool"
        app = AppProcess(
            "writer.py",
            ["--uri", fault_server.uri, "--database", "faults", "--spool-dir", str(spool),
             "--executions", ",".join([big] * 19 + [small]), "--count", "20", "--padding", "70000", "--wide", "16"],
            stderr_path=tmp_path / "writer.stderr",
        )
        try:
            done = app.finish(180)
        finally:
            app.kill()
        counted = tally(db, [range(20)])
        check = check_executions(db, [big, small])
        exporter = done["stats"]["exporters"]["MongoLogRecordExporter"]["destination"]
        figures.record(
            "oversized-records-20x1MB",
            **counted.row(),
            rss_growth_mb=None,
            rejected_by_execution_document=exporter["embedded_rejected"],
            log_counts=[check.log_counts.get(big), check.log_counts.get(small)],
        )
        assert done["flushed"], done["stats"]
        assert (counted.lost, counted.duplicated) == (0, 0)
        assert check.log_counts.get(small) == 1, app.stderr()[-2000:]
        # The big execution's document keeps what fits under 16 MB; the rest is counted, and in the history.
        assert check.log_counts.get(big, 0) + exporter["embedded_rejected"] == 19
    finally:
        close_quietly(client)


def _file_probes(path: Path) -> dict[int, int]:
    found: dict[int, int] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        for resource_logs in json.loads(line)["resourceLogs"]:
            for scope_logs in resource_logs["scopeLogs"]:
                for record in scope_logs["logRecords"]:
                    attributes = {kv["key"]: kv["value"] for kv in record.get("attributes", [])}
                    n = int(attributes["n"]["intValue"])
                    found[n] = found.get(n, 0) + 1
    return found


def test_bad_input_reaches_otlp_and_the_file_once(
    otlp_receiver: OTLPReceiver, tmp_path: Path, figures: FigureRecorder
) -> None:
    """Every kind is forwarded to a real OTLP receiver and written to the file sink, exactly once."""
    spool = tmp_path / "spool"
    path = tmp_path / "otel.jsonl"
    app = AppProcess(
        "bad_input.py",
        ["--otlp-endpoint", otlp_receiver.grpc_endpoint, "--file-path", str(path), "--spool-dir", str(spool),
         "--console", "json"],
        stderr_path=tmp_path / "bad_input.stderr",
    )
    try:
        done = app.finish(120)
    finally:
        app.kill()
    kinds = done["kinds"]
    received: dict[int, int] = {}
    for record in otlp_receiver.records():
        n = int(str(record.attributes["n"]))
        received[n] = received.get(n, 0) + 1
    written = _file_probes(path) if path.exists() else {}
    figures.record(
        f"bad-input-{len(kinds)}-kinds (OTLP)",
        sent=len(kinds),
        stored=len(received),
        duplicated=sum(c - 1 for c in received.values()),
        lost=len(kinds) - len(received),
        rss_growth_mb=None,
        file_written=len(written),
        otlp_held=done["stats"]["exporters"]["OTLPLogExporter"]["held"],
    )
    assert done["raised"] == []
    assert received == {kind["n"]: 1 for kind in kinds}
    assert written == {kind["n"]: 1 for kind in kinds}
    assert done["flushed"], done["stats"]
