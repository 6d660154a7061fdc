"""Pure builders of the MongoDB filters, updates and aggregation pipelines the commands run.

Nothing here talks to a server: each function returns plain documents, so the queries can be read
and tested on their own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from bson import ObjectId

from otel_revops.attributes import level_severity_number
from otel_revops.config import parse_level

__all__ = [
    "ERROR_SEVERITY",
    "busiest_executions_pipeline",
    "category_counts_pipeline",
    "count_entries_before",
    "error_messages_pipeline",
    "execution_doc_filter",
    "execution_id_values",
    "execution_keys",
    "execution_summaries_pipeline",
    "history_executions_pipeline",
    "history_filter",
    "level_counts_pipeline",
    "min_severity",
    "prune_embedded_filter",
    "prune_embedded_update",
    "prune_history_filter",
    "stats_match",
    "timed_durations_pipeline",
]

#: OTel severity number of ERROR: records at or above it count as errors.
ERROR_SEVERITY = 17

_HEX_ID = re.compile(r"[0-9a-fA-F]{24}")

Document = dict[str, Any]

# History records carry an execution's ObjectId or its text; grouping by the text counts each execution once.
_EXECUTION_TEXT = {"$toString": "$executionId"}


def execution_id_values(execution_id: str) -> list[Any]:
    """Every stored form an execution id may take: the text itself and, for 24 hex digits, its
    lower-case text and its ObjectId."""
    values: list[Any] = [execution_id]
    if _HEX_ID.fullmatch(execution_id):
        if execution_id.lower() != execution_id:
            values.append(execution_id.lower())
        values.append(ObjectId(execution_id))
    return values


def execution_doc_filter(execution_id: str) -> Document:
    """Filter for the execution document, whose ``_id`` is the ObjectId or the plain string."""
    return {"_id": {"$in": execution_id_values(execution_id)}}


def min_severity(level: str) -> int:
    """The OTel severity number at and above which records are shown for ``--level``."""
    return level_severity_number(parse_level(level, name="--level")).value


def history_filter(
    execution_id: str,
    *,
    level: str | None = None,
    grep: str | None = None,
    since: datetime | None = None,
) -> Document:
    """Filter for an execution's history records: at least ``level``, message containing ``grep``
    (case-insensitive, taken literally), at or after ``since``."""
    query: Document = {"executionId": {"$in": execution_id_values(execution_id)}}
    if level is not None:
        query["severityNumber"] = {"$gte": min_severity(level)}
    if grep:
        query["message"] = {"$regex": re.escape(grep), "$options": "i"}
    if since is not None:
        query["timestamp"] = {"$gte": since}
    return query


def execution_keys(execution_ids: Iterable[Any]) -> list[Any]:
    """The ``executionId`` values history records of these execution document ``_id``s may carry: the
    ``_id`` itself and, for an ObjectId, its hex string too."""
    keys: list[Any] = []
    for key in execution_ids:
        keys.append(key)
        if isinstance(key, ObjectId):
            keys.append(str(key))
    return keys


def execution_summaries_pipeline(execution_ids: Iterable[Any]) -> list[Document]:
    """Per execution among ``execution_ids`` (ObjectIds or strings) and level: first and last record time,
    record and error counts, grouped under ``{"execution": <the id's text>, "level": <level>}`` (an execution
    stored under its ObjectId and its hex string is one)."""
    return [
        {"$match": {"executionId": {"$in": execution_keys(execution_ids)}}},
        {
            "$group": {
                "_id": {"execution": _EXECUTION_TEXT, "level": "$level"},
                "first": {"$min": "$timestamp"},
                "last": {"$max": "$timestamp"},
                "count": {"$sum": 1},
                "errors": {"$sum": {"$cond": [{"$gte": ["$severityNumber", ERROR_SEVERITY]}, 1, 0]}},
            }
        },
    ]


def history_executions_pipeline(job_id: str | None, limit: int) -> list[Document]:
    """The most recently active executions found in the history alone (when no execution documents exist)."""
    stages: list[Document] = []
    if job_id is not None:
        stages.append({"$match": {"jobId": job_id}})
    stages += [
        {
            "$group": {
                "_id": _EXECUTION_TEXT,
                "jobId": {"$first": "$jobId"},
                "first": {"$min": "$timestamp"},
                "last": {"$max": "$timestamp"},
                "count": {"$sum": 1},
                "errors": {"$sum": {"$cond": [{"$gte": ["$severityNumber", ERROR_SEVERITY]}, 1, 0]}},
            }
        },
        {"$sort": {"last": -1, "_id": 1}},
        {"$limit": limit},
    ]
    return stages


def stats_match(job_id: str | None, since: datetime | None) -> Document:
    """The history records ``stats`` counts: one job's (or all) since a time (or ever)."""
    match: Document = {}
    if job_id is not None:
        match["jobId"] = job_id
    if since is not None:
        match["timestamp"] = {"$gte": since}
    return match


def level_counts_pipeline(match: Mapping[str, Any]) -> list[Document]:
    """Record counts per level name."""
    return [{"$match": dict(match)}, {"$group": {"_id": "$level", "count": {"$sum": 1}}}]


def category_counts_pipeline(match: Mapping[str, Any], limit: int) -> list[Document]:
    """The ``limit`` categories with the most records: total, warnings and errors (error and above).

    Categories are grouped by their static part (``scope``, stored when it differs from the category),
    so that the executions of ``inngest.execution.<job>.<execution>`` make one row."""
    return [
        {"$match": dict(match)},
        {
            "$group": {
                "_id": {"$ifNull": ["$scope", "$category"]},
                "count": {"$sum": 1},
                "warnings": {
                    "$sum": {
                        "$cond": [
                            {"$and": [{"$gte": ["$severityNumber", 13]}, {"$lt": ["$severityNumber", ERROR_SEVERITY]}]},
                            1,
                            0,
                        ]
                    }
                },
                "errors": {"$sum": {"$cond": [{"$gte": ["$severityNumber", ERROR_SEVERITY]}, 1, 0]}},
            }
        },
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": limit},
    ]


def error_messages_pipeline(match: Mapping[str, Any], limit: int) -> list[Document]:
    """The ``limit`` most frequent messages among error and critical records, with when each was last seen."""
    return [
        {"$match": {**match, "severityNumber": {"$gte": ERROR_SEVERITY}}},
        {
            "$group": {
                "_id": "$message",
                "count": {"$sum": 1},
                "last": {"$max": "$timestamp"},
                "executions": {"$addToSet": _EXECUTION_TEXT},
            }
        },
        {"$sort": {"count": -1, "last": -1}},
        {"$limit": limit},
    ]


def busiest_executions_pipeline(match: Mapping[str, Any], limit: int) -> list[Document]:
    """The ``limit`` executions with the most records, with their job and error count."""
    return [
        {"$match": dict(match)},
        {
            "$group": {
                "_id": _EXECUTION_TEXT,
                "jobId": {"$first": "$jobId"},
                "count": {"$sum": 1},
                "errors": {"$sum": {"$cond": [{"$gte": ["$severityNumber", ERROR_SEVERITY]}, 1, 0]}},
            }
        },
        {"$sort": {"count": -1, "_id": 1}},
        {"$limit": limit},
    ]


def timed_durations_pipeline(match: Mapping[str, Any], limit: int) -> list[Document]:
    """The ``limit`` most frequent timed blocks and Inngest steps, each with its count, errors and durations.

    A timed record is one whose ``metadata.outcome`` is ``ok`` or ``error`` and whose
    ``metadata.durationMs`` is a number (``timed`` blocks and the Inngest middleware's step records).
    Records are grouped by category (its static part) and message; ``durations`` lists every
    duration in milliseconds, for the caller to take percentiles of."""
    return [
        {
            "$match": {
                **match,
                "metadata.outcome": {"$in": ["ok", "error"]},
                "metadata.durationMs": {"$type": "number"},
            }
        },
        {
            "$group": {
                "_id": {"category": {"$ifNull": ["$scope", "$category"]}, "name": "$message"},
                "count": {"$sum": 1},
                "errors": {"$sum": {"$cond": [{"$eq": ["$metadata.outcome", "error"]}, 1, 0]}},
                "durations": {"$push": "$metadata.durationMs"},
            }
        },
        {"$sort": {"count": -1, "_id.category": 1, "_id.name": 1}},
        {"$limit": limit},
    ]


def prune_history_filter(cutoff: datetime) -> Document:
    """History records older than ``cutoff``."""
    return {"timestamp": {"$lt": cutoff}}


def prune_embedded_filter(cutoff: datetime) -> Document:
    """Execution documents holding at least one embedded log entry older than ``cutoff``."""
    return {"logs.timestamp": {"$lt": cutoff}}


def prune_embedded_update(cutoff: datetime) -> Document:
    """Removes the embedded log entries older than ``cutoff`` (``logCount``, the total ever logged, is kept)."""
    return {"$pull": {"logs": {"timestamp": {"$lt": cutoff}}}}


def count_entries_before(entries: Iterable[Any], cutoff: datetime) -> int:
    """How many embedded entries (``{"timestamp": datetime, ...}``) are older than ``cutoff``."""
    count = 0
    for entry in entries:
        timestamp = entry.get("timestamp") if isinstance(entry, Mapping) else None
        if isinstance(timestamp, datetime) and timestamp < cutoff:
            count += 1
    return count
