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
from otel_revops.cli.tables import Column, fit_table, print_table

__all__ = [
    "FINISHED_STATUSES",
    "ExecutionRow",
    "execution_rows",
    "executions_command",
    "executions_table",
    "fold_summaries",
    "history_rows",
    "summarised",
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
    #: Records per level name (``{"info": n, "error": n, …}``), from the execution document or the history.
    level_counts: Mapping[str, int] | None = None

    @property
    def warning_count(self) -> int | None:
        """Records at warning, when the counts per level are known."""
        return None if self.level_counts is None else self.level_counts.get("warning", 0)

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
            "levelCounts": None if self.level_counts is None else dict(self.level_counts),
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


def _level_counts(value: Any) -> dict[str, int] | None:
    if not isinstance(value, Mapping):
        return None
    return {str(name): count for name, count in value.items() if _int(count) is not None}


def _error_count(level_counts: Mapping[str, int]) -> int:
    return sum(count for name, count in level_counts.items() if name.lower() in _ERROR_LEVELS)


# Level names at or above ERROR (the history counts errors by severity number; an execution document's
# levelCounts by level name).
_ERROR_LEVELS = frozenset({"error", "critical", "fatal"})


def fold_summaries(groups: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per execution id: ``first``, ``last``, ``count``, ``errors`` and ``levelCounts``, from the per execution
    and level groups of :func:`~otel_revops.cli.query.execution_summaries_pipeline`."""
    summaries: dict[str, dict[str, Any]] = {}
    for group in groups:
        found = group.get("_id")
        key: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        execution_id, level = str(key.get("execution")), str(key.get("level") or "unknown").lower()
        summary = summaries.setdefault(
            execution_id, {"first": None, "last": None, "count": 0, "errors": 0, "levelCounts": {}}
        )
        first, last = _datetime(group.get("first")), _datetime(group.get("last"))
        if first is not None and (summary["first"] is None or first < summary["first"]):
            summary["first"] = first
        if last is not None and (summary["last"] is None or last > summary["last"]):
            summary["last"] = last
        count = _int(group.get("count")) or 0
        summary["count"] += count
        summary["errors"] += _int(group.get("errors")) or 0
        summary["levelCounts"][level] = summary["levelCounts"].get(level, 0) + count
    return summaries


def summarised(document: Mapping[str, Any]) -> bool:
    """Whether an execution document carries its own summary (``levelCounts`` and ``firstLogAt``, kept by the
    exporter), so the history need not be read for it."""
    return isinstance(document.get("levelCounts"), Mapping) and _datetime(document.get("firstLogAt")) is not None


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
    """Rows from execution documents (``_id``, ``jobId``, ``status``, ``lastHeartbeat``, ``logCount``,
    ``levelCounts``, ``firstLogAt``, the first embedded log) and history summaries keyed by execution id
    (``first``, ``last``, ``count``, ``errors``, ``levelCounts``: :func:`fold_summaries`); the document's own
    summary comes first."""
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
        own_counts = _level_counts(document.get("levelCounts"))
        counts = own_counts if own_counts is not None else _level_counts(summary.get("levelCounts"))
        if own_counts is not None:
            errors: int | None = _error_count(own_counts)
        else:
            errors = _int(summary.get("errors")) if summary else None
        first_log = (
            _datetime(document.get("firstLogAt"))
            or _datetime(summary.get("first"))
            or _datetime(entry.get("timestamp"))
        )
        rows.append(
            ExecutionRow(
                execution_id=execution_id,
                job_id=None if job_id is None else str(job_id),
                status=status,
                first_log=first_log,
                last_heartbeat=heartbeat,
                last_activity=activity,
                log_count=_int(document.get("logCount")) if "logCount" in document else _int(summary.get("count")),
                error_count=errors,
                stale=_is_stale(activity, status, now, stale),
                level_counts=counts,
            )
        )
    return rows


def history_rows(
    groups: Iterable[Mapping[str, Any]],
    now: datetime,
    stale: timedelta,
    summaries: Mapping[str, Mapping[str, Any]] | None = None,
) -> list[ExecutionRow]:
    """Rows from history groups alone (``history_executions_pipeline``), for databases without execution
    documents; the counts per level from ``summaries`` (:func:`fold_summaries`) when given."""
    rows = []
    for group in groups:
        last = _datetime(group.get("last"))
        summary = (summaries or {}).get(str(group.get("_id")), {})
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
                level_counts=_level_counts(summary.get("levelCounts")),
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
    Column("WARNINGS", "right", whole=True, optional=3),
    Column("ERRORS", "right", whole=True),
    Column("", whole=True),
)


def executions_table(console: Console, rows: Sequence[ExecutionRow], now: datetime) -> Table:
    """The listing as a table fitted to ``console``'s width."""
    cells = []
    for row in rows:
        age = row.age(now)
        errors = "—" if row.error_count is None else str(row.error_count)
        warnings = "—" if row.warning_count is None else str(row.warning_count)
        cells.append(
            (
                row.execution_id,
                row.job_id or "—",
                row.status or "—",
                format_time(row.first_log),
                format_time(row.last_heartbeat),
                "—" if age is None else format_age(age),
                "—" if row.log_count is None else str(row.log_count),
                Text(warnings, style="yellow" if row.warning_count else ""),
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

    Shows each execution's job, status, first log, last heartbeat and its age, and its record counts (all,
    warnings, errors; --json gives every level's).
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
        # Executions the exporter summarised on their own document need no history read.
        ids = [document["_id"] for document in documents if not summarised(document)]
        summaries = fold_summaries(store.history.aggregate(execution_summaries_pipeline(ids))) if ids else {}
        rows = execution_rows(documents, summaries, now, stale)
    else:
        groups = list(store.history.aggregate(history_executions_pipeline(job_id, limit)))
        ids = [group["_id"] for group in groups]
        summaries = fold_summaries(store.history.aggregate(execution_summaries_pipeline(ids))) if ids else {}
        rows = history_rows(groups, now, stale, summaries)
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
    print_table(state.out, executions_table(state.out, rows, now))
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
