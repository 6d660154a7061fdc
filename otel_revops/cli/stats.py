"""``otel-revops stats``: what the history holds over a period, by level, category, error and execution."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from typing import Any

import click
from rich.text import Text

from otel_revops.cli.app import CliState, pass_state
from otel_revops.cli.durations import format_duration, format_milliseconds
from otel_revops.cli.errors import EXIT_OK
from otel_revops.cli.params import DURATION
from otel_revops.cli.query import (
    busiest_executions_pipeline,
    category_counts_pipeline,
    error_messages_pipeline,
    level_counts_pipeline,
    stats_match,
    timed_durations_pipeline,
)
from otel_revops.cli.render import format_time
from otel_revops.cli.tables import Column, build_table, print_table

__all__ = ["LEVEL_ORDER", "duration_summary", "level_counts", "one_line", "stats_command"]

#: Levels in the order they are listed.
LEVEL_ORDER = ("debug", "info", "warning", "error", "critical")
_LEVEL_STYLES = {"debug": "cyan", "info": "green", "warning": "yellow", "error": "red", "critical": "bold red"}
_MESSAGE_WIDTH = 100


def level_counts(groups: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Counts per level, every standard level present (zero when absent), others after them."""
    counts = dict.fromkeys(LEVEL_ORDER, 0)
    for group in groups:
        name = str(group.get("_id") or "unknown").lower()
        counts[name] = counts.get(name, 0) + int(group.get("count") or 0)
    return counts


def duration_summary(durations: Sequence[float]) -> dict[str, float]:
    """``p50Ms``, ``p95Ms`` and ``maxMs`` of some durations in milliseconds (linear interpolation, inclusive)."""
    values = sorted(float(d) for d in durations)
    if len(values) == 1:
        return {"p50Ms": values[0], "p95Ms": values[0], "maxMs": values[0]}
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return {"p50Ms": cuts[49], "p95Ms": cuts[94], "maxMs": values[-1]}


def one_line(message: Any, width: int = _MESSAGE_WIDTH) -> str:
    """A message's first line, cut to ``width`` characters with an ellipsis."""
    text = "" if message is None else str(message)
    first = text.split("\n", 1)[0]
    if len(first) > width or first != text:
        return first[: width - 1].rstrip() + "…"
    return first


@click.command("stats")
@click.option("--job", "job_id", metavar="JOB_ID", help="Only this job's records.")
@click.option("--since", type=DURATION, default="24h", show_default=True, help="Only records from the last DURATION.")
@click.option(
    "--top", type=click.IntRange(min=1), metavar="N", default=10, show_default=True, help="Rows in each ranking."
)
@click.option("--json", "as_json", is_flag=True, help="One JSON document instead of tables.")
@pass_state
def stats_command(state: CliState, job_id: str | None, since: timedelta, top: int, as_json: bool) -> int:
    """Counts by level and category; top errors and executions; timed blocks and steps.

    Over the records of the last --since: counts by level and by category, the most frequent error
    messages, the busiest executions, and for each timed block and Inngest step its count, errors and
    p50, p95 and max duration.
    """
    store = state.store()
    now = datetime.now(timezone.utc)
    cutoff = now - since
    match = stats_match(job_id, cutoff)
    levels = level_counts(store.history.aggregate(level_counts_pipeline(match)))
    categories = list(store.history.aggregate(category_counts_pipeline(match, top)))
    errors = list(store.history.aggregate(error_messages_pipeline(match, top)))
    busiest = list(store.history.aggregate(busiest_executions_pipeline(match, top)))
    timings = [
        {
            "category": t["_id"].get("category"),
            "name": t["_id"].get("name"),
            "count": t["count"],
            "errors": t["errors"],
            **duration_summary(t["durations"]),
        }
        for t in store.history.aggregate(timed_durations_pipeline(match, top))
    ]
    total = sum(levels.values())
    if as_json:
        document = {
            "since": cutoff.isoformat().replace("+00:00", "Z"),
            "jobId": job_id,
            "total": total,
            "levels": levels,
            "categories": [
                {"category": c["_id"], "count": c["count"], "warnings": c["warnings"], "errors": c["errors"]}
                for c in categories
            ],
            "errors": [
                {
                    "message": e["_id"],
                    "count": e["count"],
                    "last": format_time(e.get("last")),
                    "executions": len(e.get("executions") or []),
                }
                for e in errors
            ],
            "executions": [
                {"executionId": b["_id"], "jobId": b.get("jobId"), "count": b["count"], "errors": b["errors"]}
                for b in busiest
            ],
            "timed": timings,
        }
        click.echo(json.dumps(document, ensure_ascii=False, default=str))
        return EXIT_OK
    scope = f" of job {job_id}" if job_id is not None else ""
    state.say(
        f"{total} records{scope} in {store.describe(store.history)} "
        f"in the last {format_duration(since)} (since {format_time(cutoff)})",
        style="bold",
    )
    if total == 0:
        return EXIT_OK
    count = Column("RECORDS", "right", whole=True)
    tables = [
        build_table(
            (Column("LEVEL", whole=True), count),
            [(Text(name, style=_LEVEL_STYLES.get(name, "")), str(n)) for name, n in levels.items()],
            title="By level",
        ),
        build_table(
            (Column("CATEGORY"), count, Column("WARNINGS", "right", whole=True), Column("ERRORS", "right", whole=True)),
            [(str(c["_id"] or "—"), str(c["count"]), str(c["warnings"]), str(c["errors"])) for c in categories],
            title="By category",
        ),
        build_table(
            (
                Column("COUNT", "right", whole=True),
                Column("EXECUTIONS", "right", whole=True),
                Column("LAST SEEN"),
                Column("MESSAGE"),
            ),
            [
                (str(e["count"]), str(len(e.get("executions") or [])), format_time(e.get("last")), one_line(e["_id"]))
                for e in errors
            ],
            title="Most frequent errors",
        )
        if errors
        else Text("No errors.", style="green"),
        build_table(
            (Column("EXECUTION", whole=True), Column("JOB"), count, Column("ERRORS", "right", whole=True)),
            [(str(b["_id"]), str(b.get("jobId") or "—"), str(b["count"]), str(b["errors"])) for b in busiest],
            title="Busiest executions",
        ),
    ]
    if timings:
        tables.append(
            build_table(
                (
                    Column("NAME"),
                    Column("CATEGORY"),
                    Column("COUNT", "right", whole=True),
                    Column("ERRORS", "right", whole=True),
                    *(Column(label, "right", whole=True) for label in ("P50", "P95", "MAX")),
                ),
                [
                    (
                        one_line(t["name"]),
                        str(t["category"] or "—"),
                        str(t["count"]),
                        str(t["errors"]),
                        *(format_milliseconds(t[key]) for key in ("p50Ms", "p95Ms", "maxMs")),
                    )
                    for t in timings
                ],
                title="Timed blocks and steps",
            )
        )
    for table in tables:
        state.out.print()
        print_table(state.out, table)
    return EXIT_OK
