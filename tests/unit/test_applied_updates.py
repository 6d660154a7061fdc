"""How the MongoDB exporter tells, from an execution document's ``logs``, whether an update whose answer was
lost had been applied: entries compared as stored, the update's entries found in order, a sliced front."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import bson
from bson.codec_options import DEFAULT_CODEC_OPTIONS, CodecOptions

from otel_revops.exporters.applied import entries_hold, normalised_entry

OPTIONS: CodecOptions[Any] = DEFAULT_CODEC_OPTIONS


def entry(n: int, **metadata: Any) -> dict[str, Any]:
    """An embedded entry as the exporter sends it."""
    return {
        "timestamp": datetime(2026, 11, 26, 12, 0, 0, n * 1000, tzinfo=timezone.utc),
        "level": "info",
        "message": f"record {n}",
        "metadata": {"executionId": "e1", "n": n, **metadata},
    }


def stored(entries: list[dict[str, Any]]) -> list[bytes | None]:
    """``entries`` as read back from the server (the BSON round trip), normalised."""
    logs = bson.decode(bson.encode({"logs": entries}), OPTIONS)["logs"]
    return [normalised_entry(e, OPTIONS) for e in logs]


def sent(entries: list[dict[str, Any]]) -> list[bytes | None]:
    """``entries`` as the exporter sent them, normalised."""
    return [normalised_entry(e, OPTIONS) for e in entries]


def test_an_entry_compares_equal_after_the_bson_round_trip() -> None:
    """Microseconds are stored as milliseconds, a timezone-aware datetime reads back naive, NaN stays NaN."""
    original = entry(1, at=datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=timezone.utc), ratio=float("nan"))
    assert stored([original]) == sent([original])
    assert stored([entry(1)]) != sent([entry(2)])
    assert normalised_entry("not a document", OPTIONS) is None


def test_the_update_is_found_with_later_pushes_after_it() -> None:
    """The update's entries, in order, anywhere in the array."""
    logs = stored([entry(n) for n in range(10)])
    assert entries_hold(logs, sent([entry(3), entry(4), entry(5)]), sliced=False)
    assert entries_hold(logs, sent([entry(9)]), sliced=False)
    assert not entries_hold(logs, sent([entry(3), entry(5)]), sliced=False)
    assert not entries_hold(logs, sent([entry(10)]), sliced=False)
    assert not entries_hold(logs, sent([entry(4), entry(3)]), sliced=False)


def test_a_front_sliced_off_counts_only_when_the_array_is_full() -> None:
    """The update's first entries may be gone from a full array ($slice); a short array keeps them all."""
    logs = stored([entry(n) for n in range(3, 8)])
    update = sent([entry(n) for n in range(6)])
    assert entries_hold(logs, update, sliced=True)
    assert not entries_hold(logs, update, sliced=False)
    assert not entries_hold(logs, sent([entry(1), entry(4)]), sliced=True)
