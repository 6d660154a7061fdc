"""The library's destinations built from resolved settings: one place for :func:`configure_logging`
and for the zero-code configurator."""

from __future__ import annotations

from otel_revops.config import OtlpProtocol, Settings
from otel_revops.delivery import Destination

__all__ = ["destinations_from_settings", "file_destination", "mongodb_destination", "otlp_destination"]


def mongodb_destination(settings: Settings) -> Destination:
    """The MongoDB exporter for ``settings`` (``mongodb_uri`` must be set)."""
    from otel_revops.exporters.mongodb import MongoLogRecordExporter

    return MongoLogRecordExporter.from_settings(settings)


def file_destination(settings: Settings) -> Destination:
    """The OTLP/JSON file exporter for ``settings`` (``file_path`` must be set)."""
    from otel_revops.exporters.file import FileLogRecordExporter

    return FileLogRecordExporter(settings.file_path, settings.file_max_bytes, settings.file_backup_count)


def otlp_destination(settings: Settings, protocol: OtlpProtocol | None = None) -> Destination:
    """The OTLP exporter for ``settings``, over ``protocol`` (default: the ``otlp_protocol`` setting)."""
    from otel_revops.exporters.otlp import create_otlp_exporter

    return create_otlp_exporter(
        settings.otlp_endpoint, protocol or settings.otlp_protocol, settings.otlp_max_request_bytes
    )


def destinations_from_settings(settings: Settings) -> list[Destination]:
    """Every destination the settings turn on: MongoDB (a URI), the file (a path), OTLP (an endpoint)."""
    destinations: list[Destination] = []
    if settings.mongodb_uri:
        destinations.append(mongodb_destination(settings))
    if settings.file_path:
        destinations.append(file_destination(settings))
    if settings.otlp_endpoint:
        destinations.append(otlp_destination(settings))
    return destinations
