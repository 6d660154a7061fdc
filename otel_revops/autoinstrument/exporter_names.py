"""What ``OTEL_LOGS_EXPORTER`` asks for, read without side effects.

The names are the ones ``opentelemetry-instrument`` knows (entry points of the group
``opentelemetry_logs_exporter``); a few of them map onto pieces of the library's own pipeline.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from otel_revops.config import ConfigurationError, OtlpProtocol

__all__ = [
    "LOGS_EXPORTER_ENV",
    "MONGODB",
    "REVOPS_CONSOLE",
    "LogsPlan",
    "default_logs_exporters",
    "plan_logs",
]

LOGS_EXPORTER_ENV = "OTEL_LOGS_EXPORTER"
#: The library's console, written synchronously by the bridge handler.
REVOPS_CONSOLE = "revops_console"
#: The MongoDB exporter.
MONGODB = "mongodb"
#: The SDK's own console exporter (OTel's JSON rendering).
SDK_CONSOLE = "console"
# ``otlp`` follows OTEL_EXPORTER_OTLP_(LOGS_)PROTOCOL; the other two name their protocol.
_OTLP: Mapping[str, OtlpProtocol | None] = {"otlp": None, "otlp_proto_grpc": "grpc", "otlp_proto_http": "http/protobuf"}
_MONGODB_URI_ENVS = ("OTEL_REVOPS_MONGODB_URI", "MONGODB_URI")
_OTLP_ENDPOINT_ENVS = ("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")


@dataclass(frozen=True)
class LogsPlan:
    """The logs pipeline named by ``OTEL_LOGS_EXPORTER``."""

    #: The library's synchronous console.
    console: bool = False
    #: The MongoDB exporter.
    mongodb: bool = False
    #: The stock OTLP exporter.
    otlp: bool = False
    #: The OTLP protocol a name fixed (``otlp_proto_grpc`` / ``otlp_proto_http``); None: as configured.
    otlp_protocol: OtlpProtocol | None = None
    #: The SDK's ``ConsoleLogRecordExporter``.
    sdk_console: bool = False
    #: Any other registered exporter, created from its entry point with no arguments.
    others: tuple[str, ...] = ()


def _is_set(env: Mapping[str, str], names: tuple[str, ...]) -> bool:
    return any(env.get(name, "").strip() for name in names)


def default_logs_exporters(env: Mapping[str, str]) -> str:
    """The exporters used when ``OTEL_LOGS_EXPORTER`` is not set: the console, MongoDB when a MongoDB
    URI is configured, OTLP when an OTLP endpoint is."""
    names = [REVOPS_CONSOLE]
    if _is_set(env, _MONGODB_URI_ENVS):
        names.append(MONGODB)
    if _is_set(env, _OTLP_ENDPOINT_ENVS):
        names.append("otlp")
    return ",".join(names)


def plan_logs(value: str, registered: Collection[str]) -> LogsPlan:
    """Read an ``OTEL_LOGS_EXPORTER`` value; ``registered`` are the names installed as entry points.

    ``none`` (alone) means no exporter and no console. An unknown name raises
    :class:`ConfigurationError` naming it and listing the known ones.
    """
    names = [part.strip() for part in value.split(",") if part.strip()]
    if [name.lower() for name in names] == ["none"]:
        return LogsPlan()
    known = set(registered) | {REVOPS_CONSOLE, MONGODB, SDK_CONSOLE, *_OTLP}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ConfigurationError(
            f"{LOGS_EXPORTER_ENV}={value!r} is not valid: unknown exporter {', '.join(map(repr, unknown))}; "
            f"expected comma-separated names from {', '.join(sorted(known))}"
        )
    otlp_names = [name for name in names if name in _OTLP]
    protocols = {_OTLP[name] for name in otlp_names} - {None}
    if len(protocols) > 1:
        raise ConfigurationError(
            f"{LOGS_EXPORTER_ENV}={value!r} is not valid: it names both OTLP protocols; use one of them, "
            f"or 'otlp' with OTEL_EXPORTER_OTLP_LOGS_PROTOCOL"
        )
    fixed = {REVOPS_CONSOLE, MONGODB, SDK_CONSOLE, *_OTLP}
    return LogsPlan(
        console=REVOPS_CONSOLE in names,
        mongodb=MONGODB in names,
        otlp=bool(otlp_names),
        otlp_protocol=protocols.pop() if protocols else None,
        sdk_console=SDK_CONSOLE in names,
        others=tuple(dict.fromkeys(name for name in names if name not in fixed)),
    )
