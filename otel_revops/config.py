"""Settings: constructor argument → ``OTEL_REVOPS_*`` / ``OTEL_*`` environment → default.

Every setting is resolved once, at configure time, and validated there: a bad value raises
:class:`ConfigurationError` naming the setting, its environment variable and the allowed values,
instead of failing later on a logging call.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any, Literal, TextIO, TypeVar

__all__ = ["ConfigurationError", "Settings", "check_database_name", "parse_bool", "parse_level", "parse_levels"]

ConsoleMode = Literal["pretty", "json", "none"]
ColorMode = Literal["auto", "always", "never"]
OtlpProtocol = Literal["grpc", "http/protobuf"]

_T = TypeVar("_T")

LEVEL_NAMES: dict[str, int] = {
    "trace": 5,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
    "critical": logging.CRITICAL,
}
_LEVEL_CHOICES = "debug, info, warning, error, critical (or a number)"


class ConfigurationError(ValueError):
    """A setting has a value that cannot be used; the message names the setting and what is allowed."""


def _describe(name: str, env: str | None) -> str:
    return f"{name} ({env})" if env else name


def parse_bool(value: str | bool, *, name: str = "value", env: str | None = None) -> bool:
    """Parse ``true/false/1/0/yes/no/on/off`` (any case) into a bool."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise ConfigurationError(f"{_describe(name, env)}={value!r} is not valid: expected true or false")


def parse_level(value: str | int, *, name: str = "log_level", env: str | None = None) -> int:
    """Turn a level name (``debug``, ``INFO``, ``warn`` …) or number into a stdlib level number."""
    if isinstance(value, bool):
        raise ConfigurationError(f"{_describe(name, env)}={value!r} is not valid: expected {_LEVEL_CHOICES}")
    if isinstance(value, int):
        if value < 0:
            raise ConfigurationError(f"{_describe(name, env)}={value!r} is not valid: expected {_LEVEL_CHOICES}")
        return value
    text = str(value).strip().lower()
    if text.isdigit():
        return int(text)
    if text in LEVEL_NAMES:
        return LEVEL_NAMES[text]
    raise ConfigurationError(f"{_describe(name, env)}={value!r} is not valid: expected {_LEVEL_CHOICES}")


def parse_levels(
    value: str | Mapping[str, str | int], *, name: str = "log_levels", env: str | None = None
) -> dict[str, int]:
    """Parse per-category levels: ``"inngest.sync=debug,pymongo=warning"`` or a mapping."""
    items: list[tuple[str, str | int]]
    if isinstance(value, Mapping):
        items = list(value.items())
    else:
        items = []
        for raw_part in str(value).split(","):
            part = raw_part.strip()
            if not part:
                continue
            category, sep, level = part.partition("=")
            if not sep or not category.strip():
                raise ConfigurationError(
                    f"{_describe(name, env)}={value!r} is not valid: expected comma-separated "
                    f"category=level pairs, e.g. 'inngest.sync=debug,pymongo=warning'"
                )
            items.append((category.strip(), level.strip()))
    return {category: parse_level(level, name=f"{name}[{category}]", env=env) for category, level in items}


def _choice(value: str, allowed: tuple[str, ...], *, name: str, env: str | None) -> str:
    text = str(value).strip().lower()
    if text not in allowed:
        choices = ", ".join(repr(a) for a in allowed)
        raise ConfigurationError(f"{_describe(name, env)}={value!r} is not valid: expected one of {choices}")
    return text


def _int(value: str | int, *, name: str, env: str | None, minimum: int, maximum: int) -> int:
    try:
        number = int(str(value).strip()) if not isinstance(value, int) else value
    except ValueError:
        number = minimum - 1
    if isinstance(value, bool) or not minimum <= number <= maximum:
        raise ConfigurationError(
            f"{_describe(name, env)}={value!r} is not valid: expected an integer from {minimum} to {maximum}"
        )
    return number


# MongoDB's rules for names (https://www.mongodb.com/docs/manual/reference/limits/#naming-restrictions).
_DATABASE_FORBIDDEN = frozenset('/\\. "$\x00')
_DATABASE_MAX_BYTES = 63
_NAMESPACE_MAX_BYTES = 255


def check_database_name(value: str, *, name: str, env: str | None) -> str:
    """``value`` if MongoDB accepts it as a database name, else :class:`ConfigurationError` naming the setting."""
    bad = sorted({char for char in value if char in _DATABASE_FORBIDDEN})
    if not value or bad or len(value.encode("utf-8", "surrogatepass")) > _DATABASE_MAX_BYTES:
        raise ConfigurationError(
            f"{_describe(name, env)}={value!r} is not valid: a MongoDB database name is 1 to "
            f'{_DATABASE_MAX_BYTES} bytes without any of / \\ . space " $ or NUL'
        )
    return value


def _check_collection_name(value: str, *, name: str, env: str | None) -> str:
    if (
        not value
        or "$" in value
        or "\x00" in value
        or value.startswith(("system.", "."))
        or value.endswith(".")
        or ".." in value
        or len(value.encode("utf-8", "surrogatepass")) > _NAMESPACE_MAX_BYTES - _DATABASE_MAX_BYTES - 1
    ):
        raise ConfigurationError(
            f"{_describe(name, env)}={value!r} is not valid: a MongoDB collection name is not empty, has no $ "
            "or NUL, does not start with 'system.', and neither starts nor ends with a dot"
        )
    return value


def _check_service_name(value: str, *, name: str, env: str | None) -> str:
    # The service name is one directory of the spool: it must not name a path.
    if value in (".", "..") or any(char in value for char in "/\\\x00"):
        raise ConfigurationError(
            f"{_describe(name, env)}={value!r} is not valid: a service name cannot contain / \\ or NUL, nor be . or .."
        )
    return value


@dataclass(frozen=True)
class _Spec:
    """How one setting resolves: its environment variables in order, its default and its parser."""

    envs: tuple[str, ...]
    default: Any
    parse: Callable[[Any, str, str | None], Any] | None = None


def _spec(*envs: str, default: Any = None, parse: Callable[[Any, str, str | None], Any] | None = None) -> Any:
    return field(default=default, metadata={"spec": _Spec(envs, default, parse)})


def _p_choice(*allowed: str) -> Callable[[Any, str, str | None], Any]:
    return lambda value, name, env: _choice(value, allowed, name=name, env=env)


def _p_int(minimum: int, maximum: int) -> Callable[[Any, str, str | None], Any]:
    return lambda value, name, env: _int(value, name=name, env=env, minimum=minimum, maximum=maximum)


def _p_bool(value: Any, name: str, env: str | None) -> bool:
    return parse_bool(value, name=name, env=env)


def _p_level(value: Any, name: str, env: str | None) -> int:
    return parse_level(value, name=name, env=env)


def _p_levels(value: Any, name: str, env: str | None) -> dict[str, int]:
    return parse_levels(value, name=name, env=env)


def _p_str(value: Any, name: str, env: str | None) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _p_stream(value: Any, name: str, env: str | None) -> TextIO | None:
    if value is None:
        return None
    if not callable(getattr(value, "write", None)):
        raise ConfigurationError(f"{name}={value!r} is not valid: expected a text stream with a write() method")
    return value  # type: ignore[no-any-return]


def _p_list(value: Any, name: str, env: str | None) -> tuple[str, ...]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import json

            try:
                items = json.loads(text)
            except ValueError as exc:
                raise ConfigurationError(f"{_describe(name, env)}={value!r} is not a valid JSON list: {exc}") from None
        else:
            items = text.split(",")
    else:
        items = list(value)
    result = tuple(str(item).strip() for item in items if str(item).strip())
    for item in result:
        try:
            re.compile(item)
        except re.error as exc:
            raise ConfigurationError(
                f"{_describe(name, env)} has an invalid regular expression {item!r}: {exc}"
            ) from None
    return result


def _p_database(value: Any, name: str, env: str | None) -> str | None:
    text = _p_str(value, name, env)
    return None if text is None else check_database_name(text, name=name, env=env)


def _p_collection(value: Any, name: str, env: str | None) -> str | None:
    text = _p_str(value, name, env)
    return None if text is None else _check_collection_name(text, name=name, env=env)


def _p_service(value: Any, name: str, env: str | None) -> str | None:
    text = _p_str(value, name, env)
    return None if text is None else _check_service_name(text, name=name, env=env)


# Bounds of the integer settings (generous, but within what threads, timers and servers accept).
_HOUR_MS = 3_600_000
_DAY_MS = 24 * _HOUR_MS
_PIB = 2**50


def _resource_service_name(resource_attributes: str) -> str | None:
    """``service.name`` from an ``OTEL_RESOURCE_ATTRIBUTES`` value, if it sets one."""
    from urllib.parse import unquote

    for part in resource_attributes.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "service.name" and value.strip():
            return unquote(value.strip())
    return None


# Variables of earlier releases, and what took their place: one queue size and one retry deadline
# serve every destination now.
_REPLACED = {
    "OTEL_REVOPS_EXPORT_QUEUE_SIZE": "OTEL_REVOPS_MAX_QUEUE_SIZE bounds every queue",
    "OTEL_REVOPS_MONGODB_MAX_PENDING": "OTEL_REVOPS_MAX_QUEUE_SIZE bounds every queue",
    "OTEL_REVOPS_MONGODB_RETRY_DEADLINE_MS": "OTEL_REVOPS_RETRY_DEADLINE_MS serves every destination",
}


@dataclass(frozen=True)
class Settings:
    """Every setting of the library, resolved and validated.

    Use :meth:`Settings.resolve`; each field documents its environment variable and default.
    """

    #: ``service.name`` of the resource. ``OTEL_SERVICE_NAME``, then ``service.name`` in
    #: ``OTEL_RESOURCE_ATTRIBUTES``; default ``revops-sync``.
    service_name: str = _spec("OTEL_SERVICE_NAME", default="revops-sync", parse=_p_service)
    #: Console output: ``pretty`` (the original format), ``json`` (one object a line) or ``none``.
    console: ConsoleMode = _spec("OTEL_REVOPS_CONSOLE", default="pretty", parse=_p_choice("pretty", "json", "none"))
    #: Where the console writes; default ``sys.stderr`` at configure time.
    console_stream: TextIO | None = _spec(default=None, parse=_p_stream)
    #: Colour on the console: ``auto`` (terminals only, honouring ``NO_COLOR``/``FORCE_COLOR``), ``always``, ``never``.
    console_colors: ColorMode = _spec(
        "OTEL_REVOPS_CONSOLE_COLORS", default="auto", parse=_p_choice("auto", "always", "never")
    )
    #: Level of the root logger. ``OTEL_REVOPS_LOG_LEVEL``; default ``info``.
    log_level: int = _spec("OTEL_REVOPS_LOG_LEVEL", default=logging.INFO, parse=_p_level)
    #: Per-category levels. ``OTEL_REVOPS_LOG_LEVELS``, e.g. ``inngest.sync=debug,pymongo=warning``.
    log_levels: dict[str, int] = _spec("OTEL_REVOPS_LOG_LEVELS", default=None, parse=_p_levels)
    #: Records held in memory at each stage: the calling threads' queue (a full one makes a logging call
    #: wait, then drop and count) and, per destination, the records queued or held for it (beyond it
    #: the oldest go to the spool).
    max_queue_size: int = _spec("OTEL_REVOPS_MAX_QUEUE_SIZE", default=20_000, parse=_p_int(1, 10_000_000))
    #: How long a logging call may wait for room in a full queue, in milliseconds, before dropping.
    enqueue_timeout_ms: int = _spec("OTEL_REVOPS_ENQUEUE_TIMEOUT_MS", default=1000, parse=_p_int(0, _HOUR_MS))
    #: Largest batch handed to an exporter.
    export_batch_size: int = _spec("OTEL_REVOPS_EXPORT_BATCH_SIZE", default=512, parse=_p_int(1, 100_000))
    #: Longest a record waits before its batch is exported, in milliseconds.
    export_delay_ms: int = _spec("OTEL_REVOPS_EXPORT_DELAY_MS", default=500, parse=_p_int(1, _HOUR_MS))
    #: Longest message or string value handed to exporters, in characters (0: no limit); longer ones
    #: are cut with a marker, so one huge value cannot make a batch too large for its destination.
    max_value_length: int = _spec("OTEL_REVOPS_MAX_VALUE_LENGTH", default=65_536, parse=_p_int(0, 100_000_000))
    #: Deadline for flushing everything at shutdown / exit, in milliseconds.
    shutdown_timeout_ms: int = _spec("OTEL_REVOPS_SHUTDOWN_TIMEOUT_MS", default=10_000, parse=_p_int(0, _DAY_MS))
    #: How long held batches stay in memory, retried with backoff, while a destination keeps failing,
    #: before they go to the spool (without a spool they stay in memory), in milliseconds.
    retry_deadline_ms: int = _spec("OTEL_REVOPS_RETRY_DEADLINE_MS", default=10_000, parse=_p_int(0, _DAY_MS))
    #: MongoDB URI; enables the MongoDB exporter. ``OTEL_REVOPS_MONGODB_URI``, then ``MONGODB_URI``.
    mongodb_uri: str | None = _spec("OTEL_REVOPS_MONGODB_URI", "MONGODB_URI", default=None, parse=_p_str)
    #: Database; default the URI's database, else ``revops``.
    mongodb_database: str | None = _spec("OTEL_REVOPS_MONGODB_DATABASE", default=None, parse=_p_database)
    #: Collection holding the execution documents (``logs`` array, ``lastHeartbeat``).
    mongodb_executions_collection: str = _spec(
        "OTEL_REVOPS_MONGODB_EXECUTIONS_COLLECTION", default="job_executions", parse=_p_collection
    )
    #: Collection holding one document per record (the complete history).
    mongodb_logs_collection: str = _spec(
        "OTEL_REVOPS_MONGODB_LOGS_COLLECTION", default="execution_logs", parse=_p_collection
    )
    #: How many entries the execution document's ``logs`` array keeps (the newest).
    mongodb_embedded_limit: int = _spec("OTEL_REVOPS_MONGODB_EMBEDDED_LIMIT", default=1000, parse=_p_int(1, 100_000))
    #: Days the history keeps a record (TTL index); 0 keeps forever.
    mongodb_retention_days: int = _spec("OTEL_REVOPS_MONGODB_RETENTION_DAYS", default=30, parse=_p_int(0, 24_000))
    #: Create the execution document when it does not exist.
    mongodb_upsert: bool = _spec("OTEL_REVOPS_MONGODB_UPSERT", default=False, parse=_p_bool)
    #: Largest message or value stored, in bytes; longer ones are truncated with a marker.
    mongodb_max_value_bytes: int = _spec("OTEL_REVOPS_MONGODB_MAX_VALUE_BYTES", default=65_536, parse=_p_int(64, 2**30))
    #: Keep batches an exporter cannot deliver in a disk spool and replay them later. ``OTEL_REVOPS_SPOOL``.
    spool: bool = _spec("OTEL_REVOPS_SPOOL", default=True, parse=_p_bool)
    #: Spool directory; default ``$XDG_CACHE_HOME/otel-revops/spool`` (else ``~/.cache/otel-revops/spool``).
    spool_dir: str | None = _spec("OTEL_REVOPS_SPOOL_DIR", default=None, parse=_p_str)
    #: Bytes of gzip-compressed batches the spool may hold per destination; beyond it the oldest are dropped.
    spool_max_bytes: int = _spec("OTEL_REVOPS_SPOOL_MAX_BYTES", default=256 * 1024 * 1024, parse=_p_int(1024, _PIB))
    #: Drop records logged while Inngest replays code before memoized steps. ``OTEL_REVOPS_INNGEST_REPLAY_SAFE``.
    inngest_replay_safe: bool = _spec("OTEL_REVOPS_INNGEST_REPLAY_SAFE", default=True, parse=_p_bool)
    #: Redact secrets (secret-looking keys, credentials and tokens inside text) before any output.
    #: ``OTEL_REVOPS_REDACT``.
    redact: bool = _spec("OTEL_REVOPS_REDACT", default=True, parse=_p_bool)
    #: Key patterns whose values become ``[REDACTED]`` (comma-separated or a JSON list; case-insensitive
    #: regular expressions matched anywhere in the key). Replaces the default list.
    redact_keys: tuple[str, ...] = _spec("OTEL_REVOPS_REDACT_KEYS", default=None, parse=_p_list)
    #: Extra regular expressions masked in messages and string values (comma-separated or a JSON list).
    redact_patterns: tuple[str, ...] = _spec("OTEL_REVOPS_REDACT_PATTERNS", default=(), parse=_p_list)
    #: Keys never redacted although a key pattern matches them (comma-separated or a JSON list; compared
    #: without case, ``-``, ``_``, ``.`` and spaces).
    redact_allow_keys: tuple[str, ...] = _spec("OTEL_REVOPS_REDACT_ALLOW_KEYS", default=(), parse=_p_list)
    #: File sink path (OTLP/JSON lines, rotated by size); enables the file exporter.
    file_path: str | None = _spec("OTEL_REVOPS_FILE_PATH", default=None, parse=_p_str)
    #: Size at which the file is rotated; 0 never rotates.
    file_max_bytes: int = _spec("OTEL_REVOPS_FILE_MAX_BYTES", default=10 * 1024 * 1024, parse=_p_int(0, _PIB))
    #: Rotated files kept beside the current one; 0 never rotates.
    file_backup_count: int = _spec("OTEL_REVOPS_FILE_BACKUP_COUNT", default=5, parse=_p_int(0, 10_000))
    #: OTLP endpoint; enables OTLP forwarding.
    #: ``OTEL_EXPORTER_OTLP_LOGS_ENDPOINT``, then ``OTEL_EXPORTER_OTLP_ENDPOINT``.
    otlp_endpoint: str | None = _spec(
        "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT", default=None, parse=_p_str
    )
    #: OTLP protocol: ``grpc`` or ``http/protobuf``.
    otlp_protocol: OtlpProtocol = _spec(
        "OTEL_EXPORTER_OTLP_LOGS_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        default="grpc",
        parse=_p_choice("grpc", "http/protobuf"),
    )
    #: The receiver's request size limit: a batch it refuses whose request is larger is sent in parts.
    #: ``OTEL_REVOPS_OTLP_MAX_REQUEST_BYTES``; the collector's gRPC limit (4 MiB) by default.
    otlp_max_request_bytes: int = _spec(
        "OTEL_REVOPS_OTLP_MAX_REQUEST_BYTES", default=4 * 1024 * 1024, parse=_p_int(1024, 2**31 - 1)
    )

    #: Report the pipeline's health as OpenTelemetry metrics (records by outcome, queue, spool, export
    #: durations): to the application's ``MeterProvider``, else to the OTLP endpoint. ``OTEL_REVOPS_METRICS``.
    metrics: bool = _spec("OTEL_REVOPS_METRICS", default=True, parse=_p_bool)

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """The keyword names :meth:`resolve` accepts."""
        return tuple(f.name for f in fields(cls))

    @classmethod
    def default(cls, name: str) -> Any:
        """The default of setting ``name``."""
        for f in fields(cls):
            if f.name == name:
                return f.metadata["spec"].default
        raise KeyError(name)

    @staticmethod
    def replaced(env: Mapping[str, str] | None = None) -> list[str]:
        """Why each variable of an earlier release set in ``env`` (default: the process environment) is
        no longer read, naming the setting that took its place."""
        environ = os.environ if env is None else env
        return [
            f"{name} is no longer read: {instead}"
            for name, instead in _REPLACED.items()
            if environ.get(name, "").strip()
        ]

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        """Resolve every setting: keyword argument (not ``None``) → environment → default.

        Raises :class:`ConfigurationError` for an unknown keyword or a bad value.
        """
        environ = os.environ if env is None else env
        known = cls.names()
        unknown = sorted(set(overrides) - set(known))
        if unknown:
            raise ConfigurationError(f"unknown setting(s) {', '.join(unknown)}: expected some of {', '.join(known)}")
        values: dict[str, Any] = {}
        for f in fields(cls):
            spec = f.metadata["spec"]
            raw: Any = overrides.get(f.name)
            source_env: str | None = None
            if raw is None:
                for env_name in spec.envs:
                    if environ.get(env_name, "").strip():
                        raw, source_env = environ[env_name], env_name
                        break
            if raw is None:
                values[f.name] = spec.default
                continue
            values[f.name] = spec.parse(raw, f.name, source_env) if spec.parse else raw
        if overrides.get("service_name") is None and not environ.get("OTEL_SERVICE_NAME", "").strip():
            named = _resource_service_name(environ.get("OTEL_RESOURCE_ATTRIBUTES", ""))
            if named:
                values["service_name"] = _check_service_name(
                    named, name="service_name", env="OTEL_RESOURCE_ATTRIBUTES service.name"
                )
        if values["log_levels"] is None:
            values["log_levels"] = {}
        if values["redact_keys"] is None:
            from otel_revops.redaction import DEFAULT_REDACT_KEYS

            values["redact_keys"] = DEFAULT_REDACT_KEYS
        if values["console_stream"] is None:
            values["console_stream"] = sys.stderr
        return cls(**values)
