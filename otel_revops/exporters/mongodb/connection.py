"""Where the MongoDB exporter writes, checked at configure time, and the client it writes with.

:func:`mongo_target` turns resolved settings into a :class:`MongoTarget` — URI (every option parsed
by pymongo, so a bad one is a :class:`~otel_revops.config.ConfigurationError` naming the setting),
database (the setting, else the URI's, else ``revops``) and collections — and
:class:`MongoConnection` owns the client: created on first use with short timeouts and
``appname="otel-revops"`` (options given in the URI win), never carried across a fork, closed within
a deadline, and kept from feeding pymongo's own log records back into the exporters.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import pymongo
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from otel_revops.config import ConfigurationError, Settings, check_database_name
from otel_revops.context import exporting
from otel_revops.exporters.mongodb.threads import OwnClientThreads, TopologyOpened
from otel_revops.redaction import mask_url_credentials

__all__ = ["DEFAULT_DATABASE", "MongoConnection", "MongoTarget", "mongo_target"]

DEFAULT_DATABASE = "revops"
_URI_SETTING = "mongodb_uri (OTEL_REVOPS_MONGODB_URI)"
_CLIENT_DEFAULTS = {
    "serverSelectionTimeoutMS": 2000,
    "connectTimeoutMS": 2000,
    "socketTimeoutMS": 10_000,
    "retryWrites": True,
    "appname": "otel-revops",
}

Document = dict[str, Any]


@dataclass(frozen=True)
class MongoTarget:
    """The server, database and collections written to, and how the execution documents are kept."""

    uri: str | None
    database: str
    executions_collection: str
    logs_collection: str
    embedded_limit: int
    retention_days: int
    upsert: bool
    max_value_bytes: int

    @property
    def key(self) -> str:
        """This destination's name for the spool: server (without credentials) and database."""
        where = mask_url_credentials(self.uri) if self.uri else "given-client"
        digest = hashlib.sha256(f"{where}|{self.database}".encode()).hexdigest()[:12]
        return f"mongodb-{self.database}-{digest}"

    def where(self) -> str:
        """The server and database, for warnings (any password masked)."""
        return f"{mask_url_credentials(self.uri or 'the given client')} database {self.database!r}"


def _uri_database(uri: str) -> str | None:
    rest = uri.split("://", 1)[-1].split("?", 1)[0]
    _, slash, path = rest.partition("/")
    name = unquote(path).strip() if slash else ""
    return name or None


def _uri_options(uri: str) -> set[str]:
    query = uri.split("?", 1)[1] if "?" in uri else ""
    return {part.split("=", 1)[0].strip().lower() for part in re.split("[&;]", query) if part}


def _check_uri(uri: str) -> None:
    if not uri.startswith(("mongodb://", "mongodb+srv://")):
        raise ConfigurationError(
            f"{_URI_SETTING}={mask_url_credentials(uri)!r} is not valid: "
            "expected a URI starting with mongodb:// or mongodb+srv://"
        )
    if uri.startswith("mongodb+srv://"):
        return  # parsing an SRV URI resolves DNS: the first connection reports it
    try:
        from pymongo.uri_parser import parse_uri

        parse_uri(uri)
    except (PyMongoError, ValueError, TypeError) as error:
        raise ConfigurationError(
            f"{_URI_SETTING}={mask_url_credentials(uri)!r} is not valid: {mask_url_credentials(str(error))}"
        ) from None


def mongo_target(settings: Settings, *, has_client: bool) -> MongoTarget:
    """The target the ``settings`` describe; raises :class:`ConfigurationError` for a missing or bad one."""
    uri = settings.mongodb_uri
    if uri is None and not has_client:
        raise ConfigurationError(
            "the MongoDB exporter needs a MongoDB URI: pass uri=... (or mongodb_uri=... to configure_logging), "
            "or set OTEL_REVOPS_MONGODB_URI (or MONGODB_URI)"
        )
    database = settings.mongodb_database
    if uri is not None:
        _check_uri(uri)
        if database is None and (from_uri := _uri_database(uri)) is not None:
            database = check_database_name(from_uri, name=f"the database of {_URI_SETTING}", env=None)
    return MongoTarget(
        uri=uri,
        database=database or DEFAULT_DATABASE,
        executions_collection=settings.mongodb_executions_collection,
        logs_collection=settings.mongodb_logs_collection,
        embedded_limit=settings.mongodb_embedded_limit,
        retention_days=settings.mongodb_retention_days,
        upsert=settings.mongodb_upsert,
        max_value_bytes=settings.mongodb_max_value_bytes,
    )


class MongoConnection:
    """The client of one :class:`MongoTarget`: ``client`` given (not closed here) or created on first use."""

    def __init__(
        self,
        target: MongoTarget,
        client: MongoClient[Document] | None = None,
        server_selection_timeout_millis: int | None = None,
    ) -> None:
        self.target = target
        given = _uri_options(target.uri) if target.uri else set()
        self._options: dict[str, Any] = {
            name: value for name, value in _CLIENT_DEFAULTS.items() if name.lower() not in given
        }
        if server_selection_timeout_millis is not None:
            self._options["serverSelectionTimeoutMS"] = server_selection_timeout_millis
        self._client = client
        self._owns_client = client is None
        self._own_threads = OwnClientThreads()
        self.closed = False

    def database(self) -> Database[Document]:
        """The target database, creating the client if needed; raises ``ConnectionError`` once closed."""
        if self.closed:
            raise ConnectionError("the MongoDB exporter is shut down")
        if self._client is None:
            assert self.target.uri is not None
            self._own_threads.install()
            listener = TopologyOpened(self._own_threads)
            self._client = MongoClient(self.target.uri, event_listeners=[listener], **self._options)
        return self._client[self.target.database]

    def after_fork(self) -> None:
        """In a forked child: a client must never cross a fork, so the next use creates a new one."""
        if self._owns_client:
            self._client = None

    def close(self, timeout_seconds: float) -> None:
        """Close a client created here within ``timeout_seconds``; later use raises. Idempotent."""
        self.closed = True
        client, self._client = self._client, None
        if self._owns_client and client is not None and timeout_seconds > 0:
            # Closing ends the server sessions: against a dead server that would wait a whole server selection.
            with contextlib.suppress(Exception), exporting(), pymongo.timeout(min(1.0, timeout_seconds)):
                client.close()
        self._own_threads.uninstall()
