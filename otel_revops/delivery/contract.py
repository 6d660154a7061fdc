"""The contract between the delivery layer and a destination: write one batch, say what happened.

The delivery layer (:class:`~otel_revops.delivery.ExportProcessor`) alone queues, batches, holds,
backs off, spools, replays and counts. A :class:`Destination` — MongoDB, OTLP, the file, your own —
only makes one attempt at writing a batch and answers with one of:

* :class:`Done` — written (``refused`` of its records were refused for good and are counted);
* :class:`Retry` — not written, or written in part: try again later, handing back ``progress``
  (an opaque value the destination gave, kept with the batch) so the next attempt resumes where
  this one stopped;
* :class:`Refused` — the batch as a whole can never be written, and nothing of it was applied that
  writing parts of it could repeat: the delivery layer writes it in halves, down to the single
  records it then counts as refused (poison records isolated).

An attempt carries the batch's identity (``writer`` and ``batch``), fixed when the batch was formed
and kept with it in the spool, so a destination can make a repeated write recognisable (the MongoDB
exporter's execution updates are conditional on it). A plain OpenTelemetry ``LogRecordExporter``
still works: :class:`ExporterDestination` reads SUCCESS as done, FAILURE as retry, and an exception
as refused.
"""

from __future__ import annotations

import abc
import collections
import hashlib
import itertools
import os
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from opentelemetry.sdk._logs import ReadableLogRecord
from opentelemetry.sdk._logs.export import LogRecordExporter, LogRecordExportResult

__all__ = [
    "Attempt",
    "Destination",
    "Done",
    "ExporterDestination",
    "Outcome",
    "Refused",
    "Retry",
    "as_destination",
    "write_until",
]


@dataclass(frozen=True, slots=True)
class Done:
    """The batch is written; ``refused`` of its records were refused for good (counted, not retried)."""

    refused: int = 0
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Retry:
    """Try the batch again later; ``progress`` is handed back to the next attempt."""

    reason: str = ""
    progress: object | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The batch can never be written as it is; its parts may be."""

    reason: str = ""


Outcome = Done | Retry | Refused


@dataclass(frozen=True, slots=True)
class Attempt:
    """One attempt at writing a batch.

    ``writer`` names the delivery layer that formed the batch (unique per process and destination)
    and ``batch`` the batch among that writer's (a number, with ``.0``/``.1`` appended for each
    halving); both stay the same on every attempt, in any process. ``progress`` is what the last
    attempt's :class:`Retry` handed back (None on the first). ``deadline`` (``time.monotonic()``) is
    when this attempt should have ended.
    """

    writer: str
    batch: str
    deadline: float
    progress: object | None = None

    def remaining(self) -> float:
        """Seconds left before :attr:`deadline` (never negative)."""
        return max(0.0, self.deadline - time.monotonic())


class Destination(abc.ABC):
    """Where a batch is written. Subclass it; the delivery layer calls it from one thread at a time."""

    #: The name under which :meth:`LoggingPipeline.stats` files this destination's counts.
    name: str
    #: Identifies the place written to (server and database, endpoint, path): batches spooled for one
    #: destination are replayed only into a destination with the same key.
    key: str

    @abc.abstractmethod
    def write(self, records: Sequence[ReadableLogRecord], attempt: Attempt) -> Outcome:
        """Make one attempt at writing ``records``; never raises for a failure it can describe."""

    def flush(self, timeout_millis: int) -> bool:
        """Make what was written durable (e.g. ``fsync``); True when done."""
        return True

    def close(self, timeout_millis: int) -> None:  # noqa: B027 - most destinations have nothing to release
        """Release connections and files within ``timeout_millis``; later writes answer :class:`Retry`."""

    def counts(self) -> Mapping[str, int]:
        """The destination's own counts (e.g. MongoDB's ``unmatched``), shown beside the delivery counts."""
        return {}


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


class ExporterDestination(Destination):
    """A plain ``LogRecordExporter`` as a destination: SUCCESS is :class:`Done`, FAILURE :class:`Retry`,
    an exception :class:`Refused` (so a record it cannot handle is isolated instead of blocking the rest).

    ``key`` defaults to the exporter's class: give one per place written to when two exporters of the
    same class write to different places, so their spooled batches stay apart.
    """

    def __init__(self, exporter: LogRecordExporter, *, name: str | None = None, key: str | None = None) -> None:
        self.exporter = exporter
        cls = type(exporter)
        self.name = name or cls.__name__
        self.key = key or f"{cls.__name__}-{_digest(f'{cls.__module__}.{cls.__qualname__}')}"

    def write(self, records: Sequence[ReadableLogRecord], attempt: Attempt) -> Outcome:
        """Export ``records`` through the wrapped exporter."""
        try:
            result = self.exporter.export(records)
        except Exception as error:  # noqa: BLE001 - an exporter's bug must not stop the delivery layer
            return Refused(f"{type(error).__name__}: {error}")
        if result is LogRecordExportResult.SUCCESS:
            return Done()
        return Retry("the exporter returned FAILURE")

    def flush(self, timeout_millis: int) -> bool:
        """The wrapped exporter's ``force_flush``."""
        try:
            return bool(self.exporter.force_flush(timeout_millis=timeout_millis))
        except Exception:  # noqa: BLE001
            return False

    def close(self, timeout_millis: int) -> None:
        """The wrapped exporter's ``shutdown``."""
        try:
            self.exporter.shutdown()  # type: ignore[no-untyped-call]
        except Exception:  # noqa: BLE001 - nothing useful to do about it at shutdown
            return


def as_destination(exporter: LogRecordExporter | Destination) -> Destination:
    """``exporter`` itself when it is a :class:`Destination`, else wrapped in :class:`ExporterDestination`."""
    if isinstance(exporter, Destination):
        return exporter
    return ExporterDestination(exporter)


class _DirectWriter:
    """The name and batch numbers of :func:`write_until`'s writes in this process."""

    def __init__(self) -> None:
        self.name = secrets.token_hex(8)
        self.numbers = itertools.count(1)


_direct = _DirectWriter()


def _new_direct_writer() -> None:
    # A forked child must never write under its parent's name: its batches would be taken for the parent's.
    global _direct
    _direct = _DirectWriter()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_new_direct_writer)


def write_until(
    destination: Destination,
    records: Sequence[ReadableLogRecord],
    deadline: float,
    *,
    stop: threading.Event | None = None,
) -> int | None:
    """Write ``records`` to ``destination`` now, retrying with the delivery layer's backoff until
    ``deadline`` (``time.monotonic()``) or ``stop`` is set; once every record is done with, how many
    were refused for good, else None.

    For a destination used as a plain ``LogRecordExporter`` by a processor that does not retry (the
    SDK's own): nothing is held or spooled beyond the call.
    """
    from otel_revops.delivery._backoff import backoff_seconds

    work: collections.deque[tuple[Sequence[ReadableLogRecord], str, object | None]] = collections.deque(
        [(records, str(next(_direct.numbers)), None)]
    )
    writer = _direct.name
    failures = refused = 0
    waiter = stop or threading.Event()
    while work:
        part, batch, progress = work[0]
        now = time.monotonic()
        if now >= deadline:
            return None
        outcome = destination.write(part, Attempt(writer, batch, deadline, progress))
        if isinstance(outcome, Retry):
            failures += 1
            work[0] = (part, batch, outcome.progress)
            pause = backoff_seconds(failures)
            if time.monotonic() + pause >= deadline or waiter.wait(pause):
                return None
            continue
        work.popleft()
        if isinstance(outcome, Done):
            refused += outcome.refused
        elif len(part) > 1:
            middle = len(part) // 2
            work.extendleft([(part[middle:], f"{batch}.1", None), (part[:middle], f"{batch}.0", None)])
        else:
            refused += 1
    return refused
