"""What ensure-indexes plans for the history, given the indexes that exist."""

from __future__ import annotations

from typing import Any

from otel_revops.exporters.mongodb.indexes import history_indexes, plan_index_changes

DAY = 86_400


def info(*keys: tuple[str, int], ttl: int | None = None) -> dict[str, Any]:
    """One entry of ``index_information()``."""
    entry: dict[str, Any] = {"v": 2, "key": list(keys)}
    if ttl is not None:
        entry["expireAfterSeconds"] = ttl
    return entry


ALL_30_DAYS = {
    "_id_": info(("_id", 1)),
    "executionId_1_timestamp_1": info(("executionId", 1), ("timestamp", 1)),
    "jobId_1_timestamp_-1": info(("jobId", 1), ("timestamp", -1)),
    "timestamp_1": info(("timestamp", 1), ttl=30 * DAY),
}


def lines(existing: dict[str, Any], retention_days: int, dry_run: bool = False) -> list[str]:
    """The lines ensure-indexes prints."""
    return [c.describe(dry_run) for c in plan_index_changes(existing, history_indexes(retention_days))]


class TestPlan:
    def test_empty_collection_gets_three_indexes(self) -> None:
        """Nothing there: the query indexes and the TTL index are created."""
        assert lines({}, 30) == [
            "created: executionId_1_timestamp_1 {executionId: 1, timestamp: 1}",
            "created: jobId_1_timestamp_-1 {jobId: 1, timestamp: -1}",
            "created: timestamp_1 {timestamp: 1}, expires after 30 days",
        ]

    def test_everything_in_place_is_reported_present(self) -> None:
        """Indexes matching the settings are left alone."""
        assert all(line.startswith("present: ") for line in lines(ALL_30_DAYS, 30))

    def test_a_changed_retention_updates_the_ttl(self) -> None:
        """Retention 7 days against a 30-day TTL index: its expiry is updated in place."""
        assert lines(ALL_30_DAYS, 7)[2] == "updated: timestamp_1 expiry 30 days → 7 days"

    def test_keeping_forever_turns_the_ttl_index_into_a_plain_one(self) -> None:
        """Retention 0 removes the expiry, which MongoDB only allows by recreating the index."""
        assert lines(ALL_30_DAYS, 0, dry_run=True)[2] == "would recreate: timestamp_1 expiry 30 days → none"

    def test_indexes_are_matched_by_keys_not_names(self) -> None:
        """An index created under another name with the same keys counts as present."""
        existing = dict(ALL_30_DAYS)
        existing["by_execution"] = existing.pop("executionId_1_timestamp_1")
        assert lines(existing, 30)[0] == "present: by_execution {executionId: 1, timestamp: 1}"

    def test_a_text_index_does_not_confuse_the_plan(self) -> None:
        """Indexes with non-numeric directions (text, hashed) are ignored."""
        existing = {**ALL_30_DAYS, "message_text": {"key": [("message", "text")]}}
        assert all(line.startswith("present: ") for line in lines(existing, 30))
