"""The library's own warnings: written straight to standard error, throttled, never through logging
(a warning about exporting must not become a record that is exported)."""

from __future__ import annotations

import sys
import threading
import time

__all__ = ["warn"]

_last: dict[str, float] = {}
# Re-entrant: a signal handler may interrupt a warning on its own thread and warn again.
_lock = threading.RLock()


def warn(key: str, message: str, every_seconds: float = 20.0) -> bool:
    """Write ``otel-revops: <message>`` to stderr unless the same ``key`` was written in the last ``every_seconds``."""
    now = time.monotonic()
    with _lock:
        last = _last.get(key)
        if last is not None and now - last < every_seconds:
            return False
        _last[key] = now
    stream = sys.__stderr__ or sys.stderr
    try:
        stream.write(f"otel-revops: {message}\n")
        stream.flush()
    except Exception:  # noqa: BLE001 - nowhere left to report to
        return False
    return True
