"""The delivery layer: the only place records are queued, batched, held, retried, spooled and replayed.

:class:`ExportProcessor` does all of it for one destination. A destination implements the
:class:`Destination` contract — one attempt at writing a batch, answered with :class:`Done`,
:class:`Retry` or :class:`Refused` — or is any OpenTelemetry ``LogRecordExporter``
(:class:`ExporterDestination`).
"""

from __future__ import annotations

from otel_revops.delivery._processor import ExportProcessor
from otel_revops.delivery.contract import (
    Attempt,
    Destination,
    Done,
    ExporterDestination,
    Outcome,
    Refused,
    Retry,
    as_destination,
    write_until,
)

__all__ = [
    "Attempt",
    "Destination",
    "Done",
    "ExportProcessor",
    "ExporterDestination",
    "Outcome",
    "Refused",
    "Retry",
    "as_destination",
    "write_until",
]
