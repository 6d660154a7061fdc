"""The rows and counts the executions and stats commands show, built from stored documents."""

from __future__ import annotations

import io
from datetime import datetime, timedelta, timezone
from typing import Any

from bson import ObjectId
from rich.console import Console

from otel_revops.cli.executions import execution_rows, executions_table, fold_summaries, history_rows, summarised
from otel_revops.cli.query import count_entries_before, execution_id_values
from otel_revops.cli.stats import level_counts, one_line

NOW = datetime(2026, 1, 15, 12, 0, 0, tzinfo=timezone.utc)
FIVE_MINUTES = timedelta(minutes=5)


def execution(heartbeat_age: timedelta | None, **fields: Any) -> dict[str, Any]:
    """An execution document whose last heartbeat was ``heartbeat_age`` ago."""
    document: dict[str, Any] = {"_id": ObjectId(), "jobId": "sync-hubspot", "logCount": 3, **fields}
    if heartbeat_age is not None:
        document["lastHeartbeat"] = NOW - heartbeat_age
    return document


class TestExecutionRows:
    def test_running_execution_with_an_old_heartbeat_is_stale(self) -> None:
        """No heartbeat for longer than --stale while running: flagged."""
        (row,) = execution_rows([execution(timedelta(minutes=6), status="running")], {}, NOW, FIVE_MINUTES)
        assert row.stale
        assert row.age(NOW) == 360

    def test_recent_heartbeat_is_not_stale(self) -> None:
        """A heartbeat within --stale: not flagged."""
        (row,) = execution_rows([execution(timedelta(minutes=4))], {}, NOW, FIVE_MINUTES)
        assert not row.stale

    def test_finished_execution_is_never_stale(self) -> None:
        """Completed or failed executions are expected to be quiet."""
        rows = execution_rows(
            [execution(timedelta(days=2), status=s) for s in ("completed", "Failed", "cancelled")],
            {},
            NOW,
            FIVE_MINUTES,
        )
        assert [row.stale for row in rows] == [False, False, False]

    def test_history_summary_fills_first_log_errors_and_a_later_activity(self) -> None:
        """First log and error count come from the history; a record newer than the heartbeat counts as activity."""
        document = execution(timedelta(minutes=10))
        summary = {"first": NOW - timedelta(hours=1), "last": NOW - timedelta(minutes=1), "count": 7, "errors": 2}
        (row,) = execution_rows([document], {str(document["_id"]): summary}, NOW, FIVE_MINUTES)
        assert (row.first_log, row.error_count, row.log_count) == (NOW - timedelta(hours=1), 2, 3)
        assert row.last_heartbeat == NOW - timedelta(minutes=10)
        assert not row.stale

    def test_job_comes_from_the_embedded_log_when_the_document_has_none(self) -> None:
        """Without a jobId field, the first embedded entry's metadata names the job."""
        document = {"_id": "nightly", "logs": [{"timestamp": NOW, "metadata": {"jobId": "sync-sf"}}]}
        (row,) = execution_rows([document], {}, NOW, FIVE_MINUTES)
        assert (row.execution_id, row.job_id, row.first_log, row.error_count) == ("nightly", "sync-sf", NOW, None)

    def test_json_form(self) -> None:
        """--json rows carry ISO times, the age in seconds and the flag."""
        document = execution(timedelta(minutes=6), status="running")
        (row,) = execution_rows([document], {}, NOW, FIVE_MINUTES)
        assert row.to_json(NOW) == {
            "executionId": str(document["_id"]),
            "jobId": "sync-hubspot",
            "status": "running",
            "firstLog": None,
            "lastHeartbeat": "2026-01-15T11:54:00Z",
            "ageSeconds": 360.0,
            "logCount": 3,
            "errorCount": None,
            "levelCounts": None,
            "stale": True,
        }

    def test_the_documents_own_summary_comes_first(self) -> None:
        """``levelCounts`` and ``firstLogAt`` on the document give the counts, the errors and the first log."""
        document = execution(
            timedelta(minutes=1), levelCounts={"info": 5, "warning": 1, "error": 2, "critical": 1}, firstLogAt=NOW
        )
        assert summarised(document) and not summarised(execution(None))
        history = {"first": NOW - timedelta(days=1), "errors": 99, "levelCounts": {"info": 1}}
        (row,) = execution_rows([document], {str(document["_id"]): history}, NOW, FIVE_MINUTES)
        assert (row.first_log, row.error_count, row.warning_count) == (NOW, 3, 1)
        assert row.to_json(NOW)["levelCounts"] == {"info": 5, "warning": 1, "error": 2, "critical": 1}

    def test_history_groups_per_level_fold_into_one_summary(self) -> None:
        """Groups per execution and level become one summary per execution (its text id), counts per level."""
        oid = ObjectId()
        groups = [
            {"_id": {"execution": str(oid), "level": "info"}, "first": NOW, "last": NOW, "count": 4, "errors": 0},
            {"_id": {"execution": str(oid), "level": "error"}, "first": NOW - timedelta(hours=1), "last": NOW,
             "count": 2, "errors": 2},
            {"_id": {"execution": "other", "level": "WARNING"}, "first": NOW, "last": NOW, "count": 1, "errors": 0},
        ]  # fmt: skip
        summaries = fold_summaries(groups)
        assert summaries[str(oid)] == {
            "first": NOW - timedelta(hours=1), "last": NOW, "count": 6, "errors": 2, "levelCounts": {"info": 4, "error": 2}
        }  # fmt: skip
        assert summaries["other"]["levelCounts"] == {"warning": 1}

    def test_history_only_rows(self) -> None:
        """Executions found only in the history take their age from their last record."""
        (row,) = history_rows(
            [{"_id": "e1", "jobId": "j", "first": NOW, "last": NOW - timedelta(hours=1), "count": 4, "errors": 1}],
            NOW,
            FIVE_MINUTES,
        )
        assert (row.last_heartbeat, row.log_count, row.error_count, row.stale) == (None, 4, 1, True)


class TestCounts:
    def test_levels_listed_in_order_with_zeros(self) -> None:
        """Every standard level appears, in severity order; unknown names follow."""
        counts = level_counts([{"_id": "error", "count": 2}, {"_id": "info", "count": 5}, {"_id": "trace", "count": 1}])
        assert list(counts.items()) == [
            ("debug", 0),
            ("info", 5),
            ("warning", 0),
            ("error", 2),
            ("critical", 0),
            ("trace", 1),
        ]

    def test_messages_are_cut_to_one_line(self) -> None:
        """Multi-line or long messages show their first line with an ellipsis."""
        assert one_line("short") == "short"
        assert one_line("first\nsecond") == "first…"
        assert one_line("x" * 200, width=10) == "x" * 9 + "…"

    def test_embedded_entries_before_the_cutoff_are_counted(self) -> None:
        """Only entries with a timestamp before the cut-off count; odd entries are ignored."""
        entries = [{"timestamp": NOW - timedelta(days=d)} for d in range(5)] + [{"message": "no time"}, "junk"]
        assert count_entries_before(entries, NOW - timedelta(days=2, hours=1)) == 2

    def test_execution_ids_match_every_stored_form(self) -> None:
        """A 24-hex id matches its text, lower-case text and ObjectId; other ids only themselves."""
        hex_id = "65A4F3B2C1D2E3F4A5B6C7D9"
        assert execution_id_values(hex_id) == [hex_id, hex_id.lower(), ObjectId(hex_id)]
        assert execution_id_values("nightly-2026-01-15") == ["nightly-2026-01-15"]


class TestNarrowTerminal:
    def test_optional_columns_go_first_and_ids_stay_whole(self) -> None:
        """On an 80-column terminal the executions table drops its time columns, never cuts an id or a count."""
        rows = execution_rows(
            [execution(timedelta(minutes=6), status="running", logCount=123456)], {}, NOW, FIVE_MINUTES
        )
        wide, narrow = (Console(file=io.StringIO(), width=w, color_system=None) for w in (200, 80))
        for console in (wide, narrow):
            console.print(executions_table(console, rows, NOW))
        wide_text = wide.file.getvalue()  # type: ignore[attr-defined]
        narrow_text = narrow.file.getvalue()  # type: ignore[attr-defined]
        assert "FIRST LOG" in wide_text and "LAST HEARTBEAT" in wide_text
        assert "FIRST LOG" not in narrow_text and "LAST HEARTBEAT" not in narrow_text
        assert all(len(line) <= 80 for line in narrow_text.splitlines())
        assert rows[0].execution_id in narrow_text
        assert "123456" in narrow_text and "STALE" in narrow_text
