"""``otel-revops executions``: recent executions, their heartbeat and counts, stale ones flagged."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from rich.console import Console
from rich.table import Table
from rich.text import Text

from otel_revops.cli.app import CliState, pass_state
from otel_revops.cli.durations import format_age, format_duration
from otel_revops.cli.errors import EXIT_OK
from otel_revops.cli.params import DURATION
from otel_revops.cli.query import execution_summaries_pipeline, history_executions_pipeline
from otel_revops.cli.render import format_time
from otel_revops.cli.tables import Column, fit_table

__all__ = [
    "FINISHED_STATUSES",
    "ExecutionRow",
    "execution_rows",
    "executions_command",
    "executions_table",
    "history_rows",
]

#: Statuses that mean the execution ended: a quiet heartbeat is then expected, not stale.
FINISHED_STATUSES = frozenset(
    {
        "aborted",
        "canceled",
        "cancelled",
        "complete",
        "completed",
        "done",
        "error",
        "errored",
        "failed",
        "failure",
        "finished",
        "succeeded",
        "success",
        "successful",
        "timed_out",
    }
)


@dataclass(frozen=True)
class ExecutionRow:
    """One line of the listing."""

    execution_id: str
    job_id: str | None
    status: str | None
    first_log: datetime | None
    last_heartbeat: datetime | None
    last_activity: datetime | None
    log_count: int | None
    error_count: int | None
    stale: bool

    def age(self, now: datetime) -> float | None:
        """Seconds since the last heartbeat (or the last record, without a heartbeat)."""
        return None if self.last_activity is None else (now - self.last_activity).total_seconds()

    def to_json(self, now: datetime) -> dict[str, Any]:
        """The row as a JSON object (times in ISO 8601)."""
        return {
            "executionId": self.execution_id,
            "jobId": self.job_id,
            "status": self.status,
            "firstLog": _iso(self.first_log),
            "lastHeartbeat": _iso(self.last_heartbeat),
            "ageSeconds": None if self.age(now) is None else round(self.age(now) or 0.0, 3),
            "logCount": self.log_count,
            "errorCount": self.error_count,
            "stale": self.stale,
        }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def _datetime(value: Any) -> datetime | None:
    return value if isinstance(value, datetime) else None


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _is_stale(activity: datetime | None, status: str | None, now: datetime, stale: timedelta) -> bool:
    if status is not None and status.strip().lower() in FINISHED_STATUSES:
        return False
    return activity is not None and now - activity > stale


def _first_entry(document: Mapping[str, Any]) -> Mapping[str, Any]:
    logs = document.get("logs")
    if isinstance(logs, list) and logs and isinstance(logs[0], Mapping):
        return logs[0]
    return {}


def execution_rows(
    documents: Iterable[Mapping[str, Any]],
    summaries: Mapping[str, Mapping[str, Any]],
    now: datetime,
    stale: timedelta,
) -> list[ExecutionRow]:
    """Rows from execution documents (``_id``, ``jobId``, ``status``, ``lastHeartbeat``, ``logCount``, the
    first embedded log) and history summaries keyed by execution id (``first``, ``last``, ``count``, ``errors``)."""
    rows = []
    for document in documents:
        execution_id = str(document.get("_id"))
        summary = summaries.get(execution_id, {})
        entry = _first_entry(document)
        metadata = entry.get("metadata") if isinstance(entry.get("metadata"), Mapping) else {}
        job_id = document.get("jobId") or (metadata or {}).get("jobId")
        status = document.get("status") if isinstance(document.get("status"), str) else None
        heartbeat = _datetime(document.get("lastHeartbeat"))
        activities = [t for t in (heartbeat, _datetime(summary.get("last"))) if t is not None]
        activity = max(activities) if activities else None
        rows.append(
            ExecutionRow(
                execution_id=execution_id,
                job_id=None if job_id is None else str(job_id),
                status=status,
                first_log=_datetime(summary.get("first")) or _datetime(entry.get("timestamp")),
                last_heartbeat=heartbeat,
                last_activity=activity,
                log_count=_int(document.get("logCount")) if "logCount" in document else _int(summary.get("count")),
                error_count=_int(summary.get("errors")) if summary else None,
                stale=_is_stale(activity, status, now, stale),
            )
        )
    return rows


def history_rows(groups: Iterable[Mapping[str, Any]], now: datetime, stale: timedelta) -> list[ExecutionRow]:
    """Rows from history groups alone (``history_executions_pipeline``), for databases without execution documents."""
    rows = []
    for group in groups:
        last = _datetime(group.get("last"))
        rows.append(
            ExecutionRow(
                execution_id=str(group.get("_id")),
                job_id=None if group.get("jobId") is None else str(group.get("jobId")),
                status=None,
                first_log=_datetime(group.get("first")),
                last_heartbeat=None,
                last_activity=last,
                log_count=_int(group.get("count")),
                error_count=_int(group.get("errors")),
                stale=_is_stale(last, None, now, stale),
            )
        )
    return rows


_COLUMNS = (
    Column("EXECUTION", whole=True),
    Column("JOB"),
    Column("STATUS"),
    Column("FIRST LOG", optional=2),
    Column("LAST HEARTBEAT", optional=1),
    Column("AGE", "right", whole=True),
    Column("LOGS", "right", whole=True),
    Column("ERRORS", "right", whole=True),
    Column("", whole=True),
)


def executions_table(console: Console, rows: Sequence[ExecutionRow], now: datetime) -> Table:
    """The listing as a table fitted to ``console``'s width."""
    cells = []
    for row in rows:
        age = row.age(now)
        errors = "—" if row.error_count is None else str(row.error_count)
        cells.append(
            (
                row.execution_id,
                row.job_id or "—",
                row.status or "—",
                format_time(row.first_log),
                format_time(row.last_heartbeat),
                "—" if age is None else format_age(age),
                "—" if row.log_count is None else str(row.log_count),
                Text(errors, style="red" if row.error_count else ""),
                Text("STALE", style="bold red") if row.stale else "",
            )
        )
    return fit_table(console, _COLUMNS, cells)


@click.command("executions")
@click.option("--job", "job_id", metavar="JOB_ID", help="Only this job's executions.")
@click.option(
    "--stale",
    type=DURATION,
    default="5m",
    show_default=True,
    help="Flag running executions whose heartbeat is older than this.",
)
@click.option(
    "--limit", type=click.IntRange(min=1), metavar="N", default=20, show_default=True, help="How many executions."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
@pass_state
def executions_command(state: CliState, job_id: str | None, stale: timedelta, limit: int, as_json: bool) -> int:
    """List recent executions and flag stale ones.

    Shows each execution's job, status, first log, last heartbeat and its age, log and error counts.
    An execution is stale when its last heartbeat is older than --stale and its status (if the
    application stores one) is not a finished one such as completed or failed.
    """
    store = state.store()
    query: dict[str, Any] = {}
    if job_id is not None:
        query = {"$or": [{"jobId": job_id}, {"logs.metadata.jobId": job_id}]}
    documents = list(
        store.executions.find(query, {"logs": {"$slice": 1}}).sort([("lastHeartbeat", -1), ("_id", -1)]).limit(limit)
    )
    now = datetime.now(timezone.utc)
    if documents:
        ids = [document["_id"] for document in documents]
        summaries = {str(s["_id"]): s for s in store.history.aggregate(execution_summaries_pipeline(ids))}
        rows = execution_rows(documents, summaries, now, stale)
    else:
        rows = history_rows(store.history.aggregate(history_executions_pipeline(job_id, limit)), now, stale)
        if rows:
            state.note(
                f"no execution documents in {store.describe(store.executions)}: "
                f"listing executions found in {store.describe(store.history)}"
            )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row.to_json(now), ensure_ascii=False))
        return EXIT_OK
    if not rows:
        scope = f" of job {job_id!r}" if job_id is not None else ""
        state.note(f"no executions{scope} in {store.describe(store.executions)} or {store.describe(store.history)}")
        return EXIT_OK
    state.out.print(executions_table(state.out, rows, now))
    stale_count = sum(row.stale for row in rows)
    if stale_count:
        state.out.print(
            Text(
                f"{stale_count} of {len(rows)} executions stale: no heartbeat for more than {format_duration(stale)}",
                style="bold red",
            ),
            soft_wrap=True,
        )
    return EXIT_OK
