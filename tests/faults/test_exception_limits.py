"""An exception with a 5 MB message: its type, message and stack trace are held to
``max_value_length`` in every exporter, so the batch fits the collector's request limit and the
records logged after it are delivered too."""

from __future__ import annotations

import json
from pathlib import Path

from tests.faults.harness import AppProcess, FigureRecorder, spool_records
from tests.support.otlp_receiver import OTLPReceiver

MESSAGE_BYTES = 5_000_000
AFTER = 60
MAX_VALUE_LENGTH = 65_536  # the default
COLLECTOR_LIMIT = 4 * 1024 * 1024


def _strings(value: object) -> list[str]:
    """Every string in a JSON value."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []


def test_huge_exception_is_cut_and_nothing_after_it_is_held_back(tmp_path: Path, figures: FigureRecorder) -> None:
    """log.exception with a 5 MB message + 60 records: 61 received by a 4 MiB-limited receiver, each value cut."""
    log_file = tmp_path / "app.jsonl"
    spool = tmp_path / "spool"
    with OTLPReceiver(max_request_bytes=COLLECTOR_LIMIT) as receiver:
        app = AppProcess(
            "huge_exception.py",
            [
                "--otlp-endpoint",
                receiver.grpc_endpoint,
                "--file-path",
                str(log_file),
                "--spool-dir",
                str(spool),
                "--message-bytes",
                str(MESSAGE_BYTES),
                "--after",
                str(AFTER),
            ],
            stderr_path=tmp_path / "huge.stderr",
        )
        try:
            done = app.finish(120)
        finally:
            app.kill()
        received = receiver.records()
    numbers = sorted(int(str(r.attributes["n"])) for r in received if "n" in r.attributes)
    (failure,) = [r for r in received if r.attributes.get("n") == 0]
    exception_values = {k: str(v) for k, v in failure.attributes.items() if k.startswith("exception.")}
    lines = log_file.read_text(encoding="utf-8").splitlines()
    written = [
        record
        for line in lines
        for resource in json.loads(line)["resourceLogs"]
        for scope in resource["scopeLogs"]
        for record in scope["logRecords"]
    ]
    figures.record(
        "exception-5mb-message",
        sent=AFTER + 1,
        stored=len(set(numbers)),
        duplicated=len(numbers) - len(set(numbers)),
        lost=AFTER + 1 - len(set(numbers)),
        rss_growth_mb=None,
        longest_exception_value=max(map(len, exception_values.values())),
        longest_file_value=max(_strings(written), key=len, default="").__len__(),
        longest_file_line=max(map(len, lines)),
        spooled=spool_records(spool),
    )
    assert done["flushed"], done["stats"]
    assert numbers == list(range(AFTER + 1))
    assert set(exception_values) >= {"exception.type", "exception.message", "exception.stacktrace"}
    assert exception_values["exception.message"].startswith("mmmm")
    assert all(len(value) <= MAX_VALUE_LENGTH for value in exception_values.values()), {
        k: len(v) for k, v in exception_values.items()
    }
    assert len(written) == AFTER + 1
    assert all(len(text) <= MAX_VALUE_LENGTH for text in _strings(written))
