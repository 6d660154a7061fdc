"""When to retry a MongoDB write, and how long to wait first.

:func:`is_transient` says whether an error may go away by itself (the server is unreachable, stepping
down, shutting down, or a write timed out); :func:`backoff_delay` is exponential backoff with full
jitter, so that many processes retrying against one recovering server do not retry in step.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

__all__ = ["TRANSIENT_CODES", "backoff_delay", "is_transient", "is_transient_code"]

#: Server error codes that mean "try again later": network and host errors, shutdown and step-down,
#: time limits, write conflicts (MongoDB's own retryable-write list plus time limits).
TRANSIENT_CODES: frozenset[int] = frozenset(
    {
        6,  # HostUnreachable
        7,  # HostNotFound
        50,  # MaxTimeMSExpired
        64,  # WriteConcernFailed
        89,  # NetworkTimeout
        91,  # ShutdownInProgress
        112,  # WriteConflict
        134,  # ReadConcernMajorityNotAvailableYet
        189,  # PrimarySteppedDown
        262,  # ExceededTimeLimit
        9001,  # SocketException
        10107,  # NotWritablePrimary
        11600,  # InterruptedAtShutdown
        11602,  # InterruptedDueToReplStateChange
        13435,  # NotPrimaryNoSecondaryOk
        13436,  # NotPrimaryOrSecondary
    }
)
_RETRYABLE_LABELS = ("RetryableWriteError", "TransientTransactionError")


def is_transient_code(code: object) -> bool:
    """Whether a server error code (as found in a bulk write's ``writeErrors``) is worth retrying."""
    return isinstance(code, int) and code in TRANSIENT_CODES


def is_transient(error: BaseException) -> bool:
    """Whether ``error`` may go away by itself: connection failures, server selection and network
    timeouts, not-primary and shutdown errors, retryable error labels, time limits."""
    if isinstance(error, ConnectionFailure):
        return True
    if not isinstance(error, PyMongoError):
        return False
    if any(error.has_error_label(label) for label in _RETRYABLE_LABELS):
        return True
    if error.timeout:
        return True
    return isinstance(error, OperationFailure) and is_transient_code(error.code)


def backoff_delay(
    attempt: int,
    *,
    base_seconds: float = 0.05,
    cap_seconds: float = 2.0,
    rng: Callable[[], float] = random.random,
) -> float:
    """Seconds to wait before retry number ``attempt`` (0 first): uniform in ``[0, min(cap, base × 2^attempt)]``."""
    ceiling = min(cap_seconds, base_seconds * (1 << min(attempt, 32)))
    return ceiling * rng()
