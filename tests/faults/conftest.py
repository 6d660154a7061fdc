"""The figures every fault-injection case reports: one row per case, printed as a table at the end of
the run and kept in ``build/fault-figures.jsonl`` (the latest row of each case)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.faults.harness import Db, FigureRecorder, close_quietly, connect
from tests.support.mongo_server import MongoServer

FIGURES_FILE = Path("build") / "fault-figures.jsonl"
_ROWS = pytest.StashKey[list[dict[str, Any]]]()
_COLUMNS = (
    ("case", "case"),
    ("sent", "sent"),
    ("stored", "stored"),
    ("duplicated", "duplicated"),
    ("lost", "lost"),
    ("rss_growth_mb", "peak RSS growth MB"),
    ("seconds", "seconds"),
)


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> FigureRecorder:
    """Records the case's figures (sent, stored, duplicated, lost, peak RSS growth, seconds)."""
    rows = request.config.stash.setdefault(_ROWS, [])
    return FigureRecorder(rows, request.node.nodeid)


@pytest.fixture
def fault_server() -> Iterator[MongoServer]:
    """A MongoDB daemon for this case alone (it may be killed and restarted), killed afterwards:
    dropping a database of a million records would take longer than the case itself."""
    server = MongoServer().start()
    try:
        yield server
    finally:
        server.kill()
        server.stop()


@pytest.fixture
def faults_db(fault_server: MongoServer) -> Iterator[Db]:
    """The ``faults`` database on this case's own server."""
    client = connect(fault_server.uri)
    try:
        yield client["faults"]
    finally:
        close_quietly(client)


@pytest.fixture
def fault_replica_set() -> Iterator[MongoServer]:
    """A one-node replica set (sessions, retryable writes) for this case alone, killed afterwards."""
    server = MongoServer(replica_set=True).start()
    try:
        yield server
    finally:
        server.kill()
        server.stop()


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _table(rows: list[dict[str, Any]]) -> list[str]:
    cells = [[title for _, title in _COLUMNS]] + [[_cell(row.get(key)) for key, _ in _COLUMNS] for row in rows]
    widths = [max(len(line[i]) for line in cells) for i in range(len(_COLUMNS))]
    lines = [" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)) for line in cells]
    lines.insert(1, "-+-".join("-" * width for width in widths))
    return lines


def _merge_into_file(path: Path, rows: list[dict[str, Any]]) -> None:
    """Write ``rows`` to the JSON-lines file, replacing earlier rows of the same cases."""
    kept: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except ValueError:
                continue
            kept[str(row.get("case"))] = row
    for row in rows:
        kept[str(row["case"])] = row
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row, default=str) + "\n" for row in kept.values()), encoding="utf-8")


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    """Print the figures of the cases that ran and keep them in ``build/fault-figures.jsonl``."""
    rows = config.stash.get(_ROWS, [])
    if not rows:
        return
    terminalreporter.section("fault-injection figures")
    for line in _table(rows):
        terminalreporter.write_line(line)
    for row in rows:
        notes = {
            k: v
            for k, v in row.items()
            if k not in {key for key, _ in _COLUMNS} and k not in ("test", "recorded_at")
        }
        if notes:
            terminalreporter.write_line(f"{row['case']}: {json.dumps(notes, default=str)}")
    path = config.rootpath / FIGURES_FILE
    _merge_into_file(path, rows)
    terminalreporter.write_line(f"figures written to {path}")
