"""Which MongoDB errors may go away by themselves: the writer answers those with a retry.

:func:`is_transient` covers an unreachable server, a step-down or shutdown, a timed-out or interrupted
operation and the driver's retryable error labels; anything else is the data's fault, not the server's.
"""

from __future__ import annotations

from pymongo.errors import ConnectionFailure, OperationFailure, PyMongoError

from otel_revops.redaction import mask_url_credentials

__all__ = ["DUPLICATE_KEY", "TRANSIENT_CODES", "describe", "is_transient", "is_transient_code"]

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
#: The server's duplicate-key error code.
DUPLICATE_KEY = 11000


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


def describe(error: BaseException | object) -> str:
    """A short description of ``error`` (or a server's error message) for a warning, any URI password masked."""
    if isinstance(error, BaseException):
        text = mask_url_credentials(str(error)).split(", Topology Description:", 1)[0]
        return f"{type(error).__name__}: {text[:300]}"
    return mask_url_credentials(str(error))[:300]
