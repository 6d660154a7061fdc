"""``otel-revops logs``: an execution's records from the history, as the console showed them."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

import click

from otel_revops._command import catch_interrupts, interrupted
from otel_revops.cli.app import CliState, pass_state
from otel_revops.cli.durations import format_age, format_duration
from otel_revops.cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from otel_revops.cli.executions import FINISHED_STATUSES
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
    """Writes rendered records to standard output in the console's format, until ``stop`` is set."""

    def __init__(self, as_json: bool, glyphs: Glyphs, palette: Palette, stop: threading.Event) -> None:
        self.as_json = as_json
        self.glyphs = glyphs
        self.palette = palette
        self.stop = stop
        self.count = 0

    def print_all(self, documents: Iterable[Mapping[str, Any]]) -> None:
        for document in documents:
            if self.stop.is_set():
                break
            sys.stdout.write(render_record(document, json=self.as_json, glyphs=self.glyphs, palette=self.palette))
            self.count += 1
        sys.stdout.flush()


@contextlib.contextmanager
def _interrupts_stop() -> Iterator[threading.Event]:
    """While following, Ctrl-C (SIGINT) sets the event this gives instead of raising wherever the main thread
    is — inside a MongoDB call too — so that following ends cleanly, with exit code 0, every time (the
    console script catches it from the process's start: :mod:`otel_revops._command`)."""
    if threading.current_thread() is not threading.main_thread():
        yield interrupted
        return
    previous = catch_interrupts()
    try:
        yield interrupted
    finally:
        signal.signal(signal.SIGINT, previous)


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


def _finished_status(store: Store, execution_id: str) -> str | None:
    """The execution document's status when it says the execution ended (``completed``, ``failed``, …)."""
    document = store.executions.find_one(execution_doc_filter(execution_id), {"status": 1})
    status = document.get("status") if document is not None else None
    return status if isinstance(status, str) and status.strip().lower() in FINISHED_STATUSES else None


def _wait_until_logged(
    store: Store, execution_id: str, stale: timedelta, interval: float, stop: threading.Event
) -> bool:
    """Wait, up to ``stale``, for an execution not logged yet; False when it did not appear (or Ctrl-C)."""
    deadline = time.monotonic() + stale.total_seconds()
    while not stop.is_set():
        if _exists(store, execution_id):
            return True
        if time.monotonic() >= deadline:
            return False
        stop.wait(min(interval, max(0.0, deadline - time.monotonic())))
    return False


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
    """Print new records until the execution finishes (its status says so) or its last activity is
    older than ``stale``, or Ctrl-C."""
    started = window.origin
    stop = printer.stop
    while not stop.is_set():
        status = _finished_status(store, execution_id)
        if status is not None:
            # Its last batches may still be on their way: one more poll, then stop, as for a finished pod.
            printer.print_all(window.take(store.history.find(_polled(query, window, since)).sort(_ORDER)))
            state.note(f"execution {execution_id} is {status}: stopped following")
            return EXIT_OK
        activity = last_activity(store, execution_id) or started
        age = _now() - activity
        if age > stale:
            state.note(
                f"execution {execution_id}: last heartbeat {format_age(age.total_seconds())} ago, "
                f"longer than --stale {format_duration(stale)}: stopped following"
            )
            return EXIT_OK
        if stop.wait(interval):
            break
        printer.print_all(window.take(store.history.find(_polled(query, window, since)).sort(_ORDER)))
    return EXIT_OK


def _polled(query: dict[str, Any], window: FollowWindow, since: datetime | None) -> dict[str, Any]:
    return {**query, "timestamp": {"$gte": window.start(since)}}


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
    with _interrupts_stop() if follow else contextlib.nullcontext(threading.Event()) as stop:
        store = state.store()
        started = _now()
        cutoff = started - since if since is not None else None
        query = history_filter(execution_id, level=level, grep=grep, since=cutoff)
        palette = ANSI if not as_json and use_colors(sys.stdout, state.color) else PLAIN
        printer = _Printer(as_json, choose_glyphs(sys.stdout), palette, stop)
        window = FollowWindow(origin=started)
        printer.print_all(window.take(_records(store, query, last)))
        if follow and last is not None and window.newest is not None:
            # What --last left out must not come back with the first poll.
            older = {**query, "timestamp": {"$gte": window.start(cutoff), "$lte": window.newest}}
            window.skip(store.history.find(older, {"_id": 1, "timestamp": 1}))
        if printer.count == 0 and not _exists(store, execution_id):
            if follow:
                state.note(
                    f"waiting for execution {execution_id} to be logged (up to --stale {format_duration(stale)})"
                )
            if not follow or not _wait_until_logged(store, execution_id, stale, interval, stop):
                if stop.is_set():
                    return EXIT_OK
                waited = f" (waited --stale {format_duration(stale)})" if follow else ""
                raise CliError(
                    f"no execution {execution_id!r} in {store.describe(store.history)} "
                    f"or {store.describe(store.executions)}{waited}",
                    EXIT_FAILURE,
                )
            printer.print_all(window.take(_records(store, query, last)))  # everything stored once it appeared
        elif printer.count == 0 and not follow:
            state.note(f"execution {execution_id}: no records match")
        if follow:
            return _follow(state, store, execution_id, query, cutoff, window, printer, stale, interval)
    return EXIT_OK
