"""The pipeline's own health as OpenTelemetry metrics, on the meter ``otel_revops``.

- ``otel_revops.records`` (counter, ``{record}``): records by ``destination`` and ``outcome`` —
  ``exported`` (delivered, replays included), ``held`` (waited in memory or the spool), ``replayed``
  (held, then delivered), ``refused`` (refused for good by the destination) and ``dropped`` (lost and
  counted: a full queue, the shutdown deadline, the spool's size bound). Records lost before any
  destination (the forwarder's queue) are counted with ``destination="forwarder"``.
- ``otel_revops.queue.size`` (gauge, ``{record}``): records waiting in memory per destination.
- ``otel_revops.spool.bytes`` (gauge, ``By``): bytes the destination's disk spool holds.
- ``otel_revops.export.duration`` (histogram, ``ms``): each attempt at writing a batch, by
  ``destination`` and ``outcome`` (``ok``, ``retry``, ``refused``).

The counters and gauges are observed from the counts the delivery layer keeps anyway, on the metric
reader's thread: a logging call pays nothing for them. The histogram is recorded once per attempt on
the destination's worker.

Where they go: the application's own ``MeterProvider`` when one is set (globally, before or after
``configure_logging``); else, when the pipeline has an OTLP endpoint, a provider of the pipeline's own
that sends them to the same collector every ``OTEL_METRIC_EXPORT_INTERVAL`` ms (60 s by default);
else the API's proxy meter, which does nothing until a provider is set.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from opentelemetry import metrics
from opentelemetry.metrics import CallbackOptions, Meter, Observation

if TYPE_CHECKING:
    from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
    from opentelemetry.sdk.resources import Resource

    from otel_revops.config import Settings
    from otel_revops.delivery import ExportProcessor
    from otel_revops.forwarder import RecordForwarder

__all__ = ["METER_NAME", "PipelineMetrics"]

#: The meter the library's instruments are created on.
METER_NAME = "otel_revops"
_OUTCOMES = ("exported", "held", "replayed", "refused", "dropped")
_DURATION_BUCKETS = (1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0, 30000.0)


class _Source:
    """What one pipeline reports: its forwarder and its delivery processors."""

    def __init__(self, forwarder: RecordForwarder, processors: Callable[[], Sequence[ExportProcessor]]) -> None:
        self.forwarder = forwarder
        self.processors = processors

    def record_counts(self) -> Counter[tuple[str, str]]:
        counts: Counter[tuple[str, str]] = Counter()
        forwarder = self.forwarder.stats()
        counts["forwarder", "dropped"] = forwarder["dropped"] + forwarder["failed"]
        for processor in self.processors():
            stats = processor.stats()
            for outcome in ("exported", "held", "replayed", "refused"):
                counts[processor.name, outcome] += stats[outcome]
            dropped = stats["dropped_queue_full"] + stats["dropped_shutdown"] + stats.get("spool_dropped", 0)
            counts[processor.name, "dropped"] += dropped
        return counts


class _Reported:
    """The sources reported on one meter provider, with the totals of sources already closed (the
    counters never go back when a pipeline is replaced)."""

    def __init__(self, meter: Meter) -> None:
        self._lock = threading.Lock()
        self._sources: list[_Source] = []
        self._retired: Counter[tuple[str, str]] = Counter()
        attributes = {"unit": "{record}"}
        meter.create_observable_counter(
            "otel_revops.records",
            callbacks=[self._observe_records],
            description="Records by destination and outcome: exported, held, replayed, refused, dropped.",
            **attributes,
        )
        meter.create_observable_gauge(
            "otel_revops.queue.size",
            callbacks=[self._observe_queues],
            description="Records waiting in memory for each destination.",
            **attributes,
        )
        meter.create_observable_gauge(
            "otel_revops.spool.bytes",
            callbacks=[self._observe_spools],
            unit="By",
            description="Bytes held in each destination's disk spool.",
        )
        self.export_duration = meter.create_histogram(
            "otel_revops.export.duration",
            unit="ms",
            description="Attempts at writing a batch, by destination and outcome: ok, retry, refused.",
            explicit_bucket_boundaries_advisory=_DURATION_BUCKETS,
        )

    def add(self, source: _Source) -> None:
        with self._lock:
            self._sources.append(source)

    def retire(self, source: _Source) -> None:
        with self._lock:
            if source in self._sources:
                self._sources.remove(source)
                self._retired.update(source.record_counts())

    def _live(self) -> list[_Source]:
        with self._lock:
            return list(self._sources)

    def _observe_records(self, options: CallbackOptions) -> Iterator[Observation]:
        with self._lock:
            totals = Counter(self._retired)
        for source in self._live():
            totals.update(source.record_counts())
        destinations = sorted({destination for destination, _ in totals})
        for destination in destinations:
            for outcome in _OUTCOMES:
                if destination != "forwarder" or outcome == "dropped":
                    yield Observation(totals[destination, outcome], {"destination": destination, "outcome": outcome})

    def _observe_queues(self, options: CallbackOptions) -> Iterator[Observation]:
        for source in self._live():
            yield Observation(source.forwarder.stats()["queued"], {"destination": "forwarder"})
            for processor in source.processors():
                stats = processor.stats()
                yield Observation(stats["queued"] + stats["held_in_memory"], {"destination": processor.name})

    def _observe_spools(self, options: CallbackOptions) -> Iterator[Observation]:
        for source in self._live():
            for processor in source.processors():
                if processor.spool is not None:
                    yield Observation(processor.spool.held_bytes, {"destination": processor.name})


_lock = threading.Lock()
# The instruments created on the application's provider (once: a meter keeps the first of a name).
_global: _Reported | None = None


def _global_reported() -> _Reported:
    global _global
    with _lock:
        if _global is None:
            _global = _Reported(metrics.get_meter(METER_NAME))
        return _global


class PipelineMetrics:
    """One pipeline's metrics: registered on the chosen provider until :meth:`close`."""

    def __init__(
        self,
        settings: Settings,
        resource: Resource,
        forwarder: RecordForwarder,
        processors: Callable[[], Sequence[ExportProcessor]],
    ) -> None:
        #: The provider of the pipeline's own (OTLP), or None when the application's or the proxy is used.
        self.own_provider: SdkMeterProvider | None = None
        if settings.metrics and settings.otlp_endpoint and not _application_provider_set():
            from otel_revops._metrics_otlp import otlp_meter_provider

            self.own_provider = otlp_meter_provider(settings, resource)
            self._reported = _Reported(self.own_provider.get_meter(METER_NAME))
        else:
            self._reported = _global_reported()
        self._source = _Source(forwarder, processors)
        self.enabled = settings.metrics
        if self.enabled:
            self._reported.add(self._source)

    def observe(self, processor: ExportProcessor) -> None:
        """Record ``processor``'s attempts in ``otel_revops.export.duration``."""
        if self.enabled:
            processor.attempt_observer = self._record_attempt

    def _record_attempt(self, destination: str, outcome: str, milliseconds: float) -> None:
        self._reported.export_duration.record(milliseconds, {"destination": destination, "outcome": outcome})

    def close(self, timeout_millis: int) -> None:
        """Stop reporting (the counters keep this pipeline's totals); the pipeline's own provider exports
        a last time and shuts down within ``timeout_millis``."""
        self._reported.retire(self._source)
        if self.own_provider is not None:
            self.own_provider.shutdown(timeout_millis=max(timeout_millis, 1))


def _application_provider_set() -> bool:
    return not isinstance(metrics.get_meter_provider(), metrics._internal._ProxyMeterProvider)
