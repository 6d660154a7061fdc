"""How long the delivery layer waits before trying a destination again: the one backoff formula.

Exponential, with jitter over the upper half of each step, so that many processes retrying one
recovering server do not knock in step, and no wait is so short that it only adds load.
"""

from __future__ import annotations

import random
from collections.abc import Callable

__all__ = ["BACKOFF_CAP_SECONDS", "BACKOFF_START_SECONDS", "backoff_seconds"]

#: The first wait after a failure.
BACKOFF_START_SECONDS = 0.25
#: The longest wait between two attempts.
BACKOFF_CAP_SECONDS = 10.0


def backoff_seconds(failures: int, *, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait after ``failures`` failures in a row (1 or more): uniform in ``[s/2, s]`` where
    ``s = min(cap, start × 2^(failures-1))``."""
    step = min(BACKOFF_CAP_SECONDS, BACKOFF_START_SECONDS * (1 << min(max(failures, 1) - 1, 16)))
    return step / 2 + step / 2 * rng()
