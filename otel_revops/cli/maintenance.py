"""``otel-revops prune`` and ``otel-revops ensure-indexes``: keeping the history's size and indexes right."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from pymongo import ReturnDocument
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from otel_revops.cli.app import CliState, pass_state
from otel_revops.cli.durations import format_duration
from otel_revops.cli.errors import EXIT_OK
from otel_revops.cli.params import DURATION
from otel_revops.cli.query import (
    count_entries_before,
    prune_embedded_filter,
    prune_embedded_update,
    prune_history_filter,
)
from otel_revops.cli.render import format_time
from otel_revops.cli.store import Store
from otel_revops.exporters.mongodb.indexes import apply_index_changes, history_indexes, plan_index_changes

__all__ = ["ensure_indexes_command", "prune_command"]

Document = dict[str, Any]


def _progress(state: CliState) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=state.err,
        transient=True,
        disable=not state.err.is_terminal,
    )


def _counting(state: CliState, message: str) -> contextlib.AbstractContextManager[object]:
    """A spinner on a terminal's standard error while the first count runs (it can take a while)."""
    if not state.err.is_terminal:
        return contextlib.nullcontext()
    return state.err.status(message, spinner="dots")


def _delete_history(store: Store, cutoff: datetime, batch_size: int, progress: Progress, total: int) -> int:
    """Delete history records older than ``cutoff`` in batches; returns how many the server deleted."""
    query = prune_history_filter(cutoff)
    task = progress.add_task(f"{store.describe(store.history)}", total=total)
    deleted = 0
    while True:
        ids = [document["_id"] for document in store.history.find(query, {"_id": 1}).limit(batch_size)]
        if not ids:
            return deleted
        result = store.history.delete_many({"_id": {"$in": ids}, **query})
        deleted += result.deleted_count
        progress.update(task, completed=deleted, total=max(total, deleted))
        if result.deleted_count == 0:  # deleted meanwhile by someone else (the TTL monitor): nothing left to do
            return deleted


def _trim_embedded(store: Store, cutoff: datetime, ids: Sequence[Any], progress: Progress) -> tuple[int, int]:
    """Pull embedded entries older than ``cutoff``; returns (entries removed, documents changed).

    Each document's entries are counted in the same atomic update that removes them.
    """
    query = prune_embedded_filter(cutoff)
    update = prune_embedded_update(cutoff)
    task = progress.add_task(f"{store.describe(store.executions)}", total=len(ids))
    removed = changed = 0
    for execution_id in ids:
        before = store.executions.find_one_and_update(
            {"_id": execution_id, **query},
            update,
            projection={"logs.timestamp": 1},
            return_document=ReturnDocument.BEFORE,
        )
        if before is not None:
            count = count_entries_before(before.get("logs") or [], cutoff)
            removed += count
            changed += 1 if count else 0
        progress.advance(task)
    return removed, changed


@click.command("prune")
@click.option(
    "--older-than", "older_than", type=DURATION, required=True, help="Delete records older than this, e.g. 30d."
)
@click.option("--dry-run", is_flag=True, help="Count what would be deleted; delete nothing.")
@click.option("--batch-size", type=click.IntRange(min=1), default=5000, hidden=True, help="Records per delete.")
@pass_state
def prune_command(state: CliState, older_than: timedelta, dry_run: bool, batch_size: int) -> int:
    """Delete old history records and trim embedded logs.

    Deletes history records older than --older-than and removes older entries from the executions'
    embedded logs, with a summary of what was removed. Execution documents themselves are kept, and
    so is their logCount (the total ever logged).
    """
    store = state.store()
    cutoff = datetime.now(timezone.utc) - older_than
    scope = f"older than {format_duration(older_than)} (before {format_time(cutoff)}) in {store.database.name}"
    with _counting(state, f"Counting records {scope}"):
        old_records = store.history.count_documents(prune_history_filter(cutoff))
        holders = list(store.executions.find(prune_embedded_filter(cutoff), {"logs.timestamp": 1}))
        old_entries = sum(count_entries_before(document.get("logs") or [], cutoff) for document in holders)
    if dry_run:
        state.say(f"Dry run, nothing deleted: records {scope}", style="bold")
        state.say(f"  {store.describe(store.history)}: {old_records} history records would be deleted")
        state.say(
            f"  {store.describe(store.executions)}: {old_entries} embedded log entries would be removed "
            f"from {len(holders)} executions"
        )
        return EXIT_OK
    with _progress(state) as progress:
        deleted = _delete_history(store, cutoff, batch_size, progress, old_records)
        removed, changed = _trim_embedded(store, cutoff, [document["_id"] for document in holders], progress)
    state.say(f"Pruned records {scope}", style="bold")
    state.say(f"  {store.describe(store.history)}: {deleted} history records deleted")
    state.say(f"  {store.describe(store.executions)}: {removed} embedded log entries removed from {changed} executions")
    return EXIT_OK


@click.command("ensure-indexes")
@click.option("--dry-run", is_flag=True, help="Say what would change; change nothing.")
@pass_state
def ensure_indexes_command(state: CliState, dry_run: bool) -> int:
    """Create or update the history's indexes and TTL.

    The TTL index expires records after OTEL_REVOPS_MONGODB_RETENTION_DAYS (0: never).
    """
    store = state.store()
    retention = state.settings().mongodb_retention_days
    changes = plan_index_changes(store.history.index_information(), history_indexes(retention))
    if not dry_run:
        apply_index_changes(store.history, changes)
    kept = "kept forever" if retention == 0 else f"kept {retention} days"
    state.say(f"Indexes of {store.describe(store.history)} (records {kept})", style="bold")
    for change in changes:
        state.say(f"  {change.describe(dry_run)}")
    return EXIT_OK
