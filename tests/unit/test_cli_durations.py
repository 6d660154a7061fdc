"""Durations typed on the command line, and the ages the command prints."""

from __future__ import annotations

from datetime import timedelta

import pytest

from otel_revops.cli.durations import format_age, format_duration, parse_duration


class TestParseDuration:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("30s", timedelta(seconds=30)),
            ("5m", timedelta(minutes=5)),
            ("1h", timedelta(hours=1)),
            ("24h", timedelta(hours=24)),
            ("30d", timedelta(days=30)),
            ("2w", timedelta(weeks=2)),
            ("1h30m", timedelta(minutes=90)),
            ("1.5h", timedelta(minutes=90)),
            (" 10M ", timedelta(minutes=10)),
        ],
    )
    def test_accepts_number_and_unit(self, text: str, expected: timedelta) -> None:
        """Each documented form is the duration it says."""
        assert parse_duration(text) == expected

    @pytest.mark.parametrize("text", ["", "5", "5x", "m5", "-5m", "1h-", "five minutes", "0s", "0d0h"])
    def test_rejects_anything_else_with_one_line_saying_what_is_allowed(self, text: str) -> None:
        """A bad duration raises ValueError naming it and the accepted forms, on one line."""
        with pytest.raises(ValueError) as caught:
            parse_duration(text)
        message = str(caught.value)
        assert repr(text) in message
        assert "\n" not in message
        assert "30s" in message or "longer than zero" in message


class TestFormat:
    @pytest.mark.parametrize(
        ("seconds", "expected"),
        [
            (0, "0s"),
            (-3, "0s"),
            (59.9, "59s"),
            (61, "1m 1s"),
            (3600 * 2 + 60 * 5, "2h 5m"),
            (86400 * 3 + 3600, "3d 1h"),
        ],
    )
    def test_age_is_short_and_coarse(self, seconds: float, expected: str) -> None:
        """Ages read at a glance: at most two units, clock skew shown as 0s."""
        assert format_age(seconds) == expected

    @pytest.mark.parametrize("text", ["30s", "5m", "1h30m", "1d", "2w", "1w2d"])
    def test_duration_prints_as_typed(self, text: str) -> None:
        """A parsed duration prints back in the form it was typed."""
        assert format_duration(parse_duration(text)) == text
