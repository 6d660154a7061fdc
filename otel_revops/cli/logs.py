"""``otel-revops logs``: an execution's records from the history, as the console showed them."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from otel_revops.cli.app import CliState, pass_state
from otel_revops.cli.durations import format_age, format_duration
from otel_revops.cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from otel_revops.cli.follow import FollowWindow
from otel_revops.cli.params import DURATION, LEVEL
from otel_revops.cli.query import execution_doc_filter, execution_id_values, history_filter
from otel_revops.cli.render import render_record
from otel_revops.cli.store import Store
from otel_revops.exporters.console import choose_glyphs, use_colors
from otel_revops.rendering import ANSI, PLAIN, Glyphs, Palette

__all__ = ["last_activity", "logs_command"]

_ORDER = [("timestamp", 1), ("_id", 1)]
_REVERSE = [("timestamp", -1), ("_id", -1)]


class _Printer:
    """Writes rendered records to standard output in the console's format."""

    def __init__(self, as_json: bool, glyphs: Glyphs, palette: Palette) -> None:
        self.as_json = as_json
        self.glyphs = glyphs
        self.palette = palette
        self.count = 0

    def print_all(self, documents: Iterable[Mapping[str, Any]]) -> None:
        for document in documents:
            sys.stdout.write(render_record(document, json=self.as_json, glyphs=self.glyphs, palette=self.palette))
            self.count += 1
        sys.stdout.flush()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _records(store: Store, query: dict[str, Any], last: int | None) -> Iterable[Mapping[str, Any]]:
    if last is None:
        cursor = store.history.find(query)
        cursor.sort(_ORDER)  # sorts in place
        return cursor
    newest: list[Mapping[str, Any]] = list(store.history.find(query).sort(_REVERSE).limit(last))
    return newest[::-1]


def _exists(store: Store, execution_id: str) -> bool:
    in_history = store.history.find_one({"executionId": {"$in": execution_id_values(execution_id)}}, {"_id": 1})
    return (
        in_history is not None or store.executions.find_one(execution_doc_filter(execution_id), {"_id": 1}) is not None
    )


def last_activity(store: Store, execution_id: str) -> datetime | None:
    """The execution's last sign of life: the later of its heartbeat and its newest history record."""
    candidates = []
    document = store.executions.find_one(execution_doc_filter(execution_id), {"lastHeartbeat": 1})
    if document is not None and isinstance(document.get("lastHeartbeat"), datetime):
        candidates.append(document["lastHeartbeat"])
    newest = store.history.find_one(
        {"executionId": {"$in": execution_id_values(execution_id)}}, {"timestamp": 1}, sort=[("timestamp", -1)]
    )
    if newest is not None and isinstance(newest.get("timestamp"), datetime):
        candidates.append(newest["timestamp"])
    return max(candidates) if candidates else None


def _follow(
    state: CliState,
    store: Store,
    execution_id: str,
    query: dict[str, Any],
    since: datetime | None,
    window: FollowWindow,
    printer: _Printer,
    stale: timedelta,
    interval: float,
) -> int:
    """Print new records until the execution's last activity is older than ``stale``."""
    started = window.origin
    pause = threading.Event()
    while True:
        activity = last_activity(store, execution_id) or started
        age = _now() - activity
        if age > stale:
            state.note(
                f"execution {execution_id}: last heartbeat {format_age(age.total_seconds())} ago, "
                f"longer than --stale {format_duration(stale)}: stopped following"
            )
            return EXIT_OK
        pause.wait(interval)
        polled = {**query, "timestamp": {"$gte": window.start(since)}}
        printer.print_all(window.take(store.history.find(polled).sort(_ORDER)))


@click.command("logs")
@click.argument("execution_id")
@click.option("--level", type=LEVEL, help="Only records at this level and above.")
@click.option("--grep", metavar="TEXT", help="Only records whose message contains TEXT (any case).")
@click.option("--since", type=DURATION, help="Only records from the last DURATION, e.g. 1h.")
@click.option("--last", type=click.IntRange(min=1), metavar="N", help="Only the last N records.")
@click.option("--json", "as_json", is_flag=True, help="JSON lines, as the console's json mode writes them.")
@click.option(
    "-f", "--follow", is_flag=True, help="Keep printing new records until the execution goes quiet, or Ctrl-C."
)
@click.option(
    "--stale",
    type=DURATION,
    default="5m",
    show_default=True,
    help="With --follow: stop once the execution's heartbeat is older than this.",
)
@click.option("--interval", type=click.FloatRange(min=0.05), default=0.5, hidden=True, help="Seconds between polls.")
@pass_state
def logs_command(
    state: CliState,
    execution_id: str,
    level: str | None,
    grep: str | None,
    since: timedelta | None,
    last: int | None,
    as_json: bool,
    follow: bool,
    stale: timedelta,
    interval: float,
) -> int:
    """Show an execution's logs, as the console printed them.

    EXECUTION_ID is the id the job ran under: 24 hex digits (an ObjectId) or any string.
    """
    store = state.store()
    started = _now()
    cutoff = started - since if since is not None else None
    query = history_filter(execution_id, level=level, grep=grep, since=cutoff)
    palette = ANSI if not as_json and use_colors(sys.stdout, state.color) else PLAIN
    printer = _Printer(as_json, choose_glyphs(sys.stdout), palette)
    window = FollowWindow(origin=started)
    try:
        printer.print_all(window.take(_records(store, query, last)))
        if printer.count == 0:
            if not _exists(store, execution_id):
                raise CliError(
                    f"no execution {execution_id!r} in {store.describe(store.history)} "
                    f"or {store.describe(store.executions)}",
                    EXIT_FAILURE,
                )
            if not follow:
                state.note(f"execution {execution_id}: no records match")
        if follow:
            return _follow(state, store, execution_id, query, cutoff, window, printer, stale, interval)
    except KeyboardInterrupt:
        if follow:
            return EXIT_OK
        raise
    return EXIT_OK
