"""Records emitted through the OpenTelemetry logs API, sent on to the library's current pipeline.

Under ``opentelemetry-instrument`` the global ``LoggerProvider`` is the SDK's, holding only
:class:`CurrentPipelineProcessor`: whatever an instrumentation or the application emits through
``opentelemetry._logs`` reaches the exporters of the pipeline that is current at that moment, even
after ``configure_logging()`` replaced the one set up at start.
"""

from __future__ import annotations

from opentelemetry.sdk._logs import LogRecordProcessor, ReadWriteLogRecord

from otel_revops.attributes import RECORD_UID, new_record_uid, to_any_value
from otel_revops.context import EXECUTION, EXPORTING, SUPPRESSED
from otel_revops.pipeline import current_pipeline

__all__ = ["CurrentPipelineProcessor"]


class CurrentPipelineProcessor(LogRecordProcessor):
    """Re-emits each record on the current pipeline's provider, stamped with the execution context.

    ``on_emit`` runs on the thread that emitted, the only place the execution context can be read.
    """

    def on_emit(self, log_record: ReadWriteLogRecord) -> None:
        """Stamp the record and hand it to the current pipeline (dropped when there is none)."""
        if EXPORTING.get() or SUPPRESSED.get():
            return
        pipeline = current_pipeline()
        if pipeline is None:
            return
        record = log_record.log_record
        # Held to the pipeline's limits like the records it translates itself.
        limit = pipeline.settings.max_value_length or None
        attributes = {key: to_any_value(value, limit) for key, value in EXECUTION.get().items()}
        attributes.update((key, to_any_value(value, limit)) for key, value in (record.attributes or {}).items())
        record.body = to_any_value(record.body, limit)
        if RECORD_UID not in attributes:
            attributes[RECORD_UID] = new_record_uid((record.timestamp or record.observed_timestamp or 0) / 1e9)
        record.attributes = attributes
        scope = log_record.instrumentation_scope
        provider = pipeline.logger_provider
        if scope is None:
            logger = provider.get_logger("")
        else:
            logger = provider.get_logger(scope.name, scope.version, scope.schema_url, scope.attributes)
        logger.emit(record)

    def shutdown(self) -> None:
        """Nothing to release: the pipeline has its own lifecycle."""

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the current pipeline."""
        pipeline = current_pipeline()
        return pipeline.force_flush(timeout_millis) if pipeline is not None else True
