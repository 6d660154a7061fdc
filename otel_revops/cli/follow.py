"""Which records a ``--follow`` poll has not printed yet (pure bookkeeping, no I/O).

Records reach the history in batches and from several processes, so a new record can carry a
timestamp a little older than one already printed. Each poll therefore asks again for a window
reaching ``lookback`` behind the newest record printed, and remembers the ids it printed in that window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

__all__ = ["DEFAULT_LOOKBACK", "FollowWindow"]

#: How late (by its own timestamp) a record may reach the history and still be printed by ``--follow``.
DEFAULT_LOOKBACK = timedelta(seconds=60)


@dataclass
class FollowWindow:
    """The newest record printed and the ids printed within ``lookback`` of it."""

    origin: datetime
    lookback: timedelta = DEFAULT_LOOKBACK
    newest: datetime | None = None
    _seen: dict[Any, datetime] = field(default_factory=dict)

    def start(self, floor: datetime | None = None) -> datetime:
        """The earliest timestamp the next poll asks for (never before ``floor``, the ``--since`` cut-off)."""
        start = (self.newest or self.origin) - self.lookback
        return max(start, floor) if floor is not None else start

    def take(self, documents: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
        """The documents not printed before, in the order given; they are remembered as printed."""
        fresh = []
        for document in documents:
            key = document.get("_id")
            if key in self._seen:
                continue
            timestamp = document.get("timestamp")
            if not isinstance(timestamp, datetime):
                timestamp = self.newest or self.origin
            self._seen[key] = timestamp
            if self.newest is None or timestamp > self.newest:
                self.newest = timestamp
            fresh.append(document)
        self._forget_old()
        return fresh

    def skip(self, documents: Iterable[Mapping[str, Any]]) -> None:
        """Remember ``documents`` as printed without printing them (the older ones ``--last`` left out)."""
        for document in documents:
            timestamp = document.get("timestamp")
            self._seen[document.get("_id")] = timestamp if isinstance(timestamp, datetime) else self.origin

    def remembered(self) -> int:
        """How many printed ids are kept (bounded by the window)."""
        return len(self._seen)

    def _forget_old(self) -> None:
        limit = self.start()
        stale = [key for key, timestamp in self._seen.items() if timestamp < limit]
        for key in stale:
            del self._seen[key]
