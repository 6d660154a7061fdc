"""--follow bookkeeping: each record printed once, late records within the window still printed."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from otel_revops.cli.follow import FollowWindow

T0 = datetime(2026, 1, 15, 10, 0, 0, tzinfo=timezone.utc)


def doc(key: str, seconds: float) -> dict[str, Any]:
    """A history document stub with an id and a timestamp ``seconds`` after T0."""
    return {"_id": key, "timestamp": T0 + timedelta(seconds=seconds)}


class TestFollowWindow:
    def test_a_record_seen_again_is_not_printed_again(self) -> None:
        """Overlapping polls return the same records; only the new ones come out."""
        window = FollowWindow(origin=T0)
        assert [d["_id"] for d in window.take([doc("a", 1), doc("b", 2)])] == ["a", "b"]
        assert [d["_id"] for d in window.take([doc("a", 1), doc("b", 2), doc("c", 3)])] == ["c"]

    def test_a_late_record_older_than_the_newest_is_printed(self) -> None:
        """A record stored late, with a timestamp before one already printed, is still new."""
        window = FollowWindow(origin=T0, lookback=timedelta(seconds=60))
        window.take([doc("a", 10)])
        assert [d["_id"] for d in window.take([doc("late", 5), doc("a", 10)])] == ["late"]

    def test_the_next_poll_reaches_lookback_behind_the_newest_record(self) -> None:
        """The poll window starts lookback before the newest record printed (or the start, before any)."""
        window = FollowWindow(origin=T0, lookback=timedelta(seconds=60))
        assert window.start() == T0 - timedelta(seconds=60)
        window.take([doc("a", 100)])
        assert window.start() == T0 + timedelta(seconds=40)

    def test_since_is_a_floor_for_the_window(self) -> None:
        """With --since, the window never reaches before its cut-off."""
        window = FollowWindow(origin=T0, lookback=timedelta(seconds=60))
        floor = T0 - timedelta(seconds=10)
        assert window.start(floor) == floor

    def test_memory_is_bounded_by_the_window(self) -> None:
        """Ids older than the window are forgotten, so following a long execution does not grow without end."""
        window = FollowWindow(origin=T0, lookback=timedelta(seconds=10))
        for second in range(1000):
            window.take([doc(f"r{second}", second)])
        assert window.remembered() <= 11
