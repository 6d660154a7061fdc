"""Durations on the command line (``30s``, ``5m``, ``1h``, ``24h``, ``30d``, ``2w``, ``1h30m``) and ages for display."""

from __future__ import annotations

import re
from datetime import timedelta

__all__ = ["DURATION_HELP", "Duration", "format_age", "format_duration", "format_milliseconds", "parse_duration"]

#: What a duration looks like, for help texts and error messages.
DURATION_HELP = "a number and a unit (s, m, h, d, w), e.g. 30s, 5m, 1h, 24h, 30d, 2w"

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhdw])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhdw])+")


class Duration(timedelta):
    """A duration given on the command line, which remembers how it was typed (``30d`` stays ``30d``)."""

    typed: str

    def __new__(cls, seconds: float, typed: str) -> Duration:
        """The duration of ``seconds``, typed as ``typed``."""
        duration = super().__new__(cls, seconds=seconds)
        duration.typed = typed
        return duration


def parse_duration(text: str) -> Duration:
    """The duration ``text`` names: one or more number+unit parts (``90s``, ``1h30m``), positive.

    Raises :class:`ValueError` with a one-line message for anything else.
    """
    cleaned = text.strip().lower().replace(" ", "")
    if not _WHOLE.fullmatch(cleaned):
        raise ValueError(f"{text!r} is not a duration: use {DURATION_HELP}")
    seconds = sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _PART.findall(cleaned))
    if seconds <= 0:
        raise ValueError(f"{text!r} is not a duration: it must be longer than zero (use {DURATION_HELP})")
    if seconds > timedelta.max.total_seconds() / 2:
        raise ValueError(f"{text!r} is too long a duration")
    return Duration(seconds, cleaned)


def format_duration(value: timedelta) -> str:
    """A duration the way it is typed: ``30d``, ``2w``, ``5m``, ``1h30m``, ``90s`` (whole seconds); weeks
    only for a whole number of them (``30d``, never ``4w2d``). A :class:`Duration` prints as it was typed."""
    if isinstance(value, Duration):
        return value.typed
    remaining = int(value.total_seconds())
    if remaining <= 0:
        return "0s"
    parts = []
    units = ("w", "d", "h", "m", "s") if remaining % _UNIT_SECONDS["w"] == 0 else ("d", "h", "m", "s")
    for unit in units:
        size = _UNIT_SECONDS[unit]
        if remaining >= size:
            count, remaining = divmod(remaining, size)
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_age(seconds: float) -> str:
    """A short age: ``4s``, ``12m 5s``, ``3h 20m``, ``2d 4h``; negative ages (clock skew) show as ``0s``."""
    whole = max(0, int(seconds))
    if whole < 60:
        return f"{whole}s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes}m {secs}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def format_milliseconds(value: float) -> str:
    """A measured duration: ``0.42ms``, ``12.3ms``, ``850ms``, ``1.52s``, ``3m 5s`` beyond a minute."""
    if value < 10:
        return f"{value:.2f}ms"
    if value < 100:
        return f"{value:.1f}ms"
    if value < 1000:
        return f"{value:.0f}ms"
    if value < 60_000:
        return f"{value / 1000:.2f}s"
    return format_age(value / 1000)
