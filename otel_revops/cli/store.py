"""The MongoDB side of the command: a client with short timeouts, the two collections, readable errors."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.database import Database
from pymongo.errors import ConnectionFailure, PyMongoError

from otel_revops.cli.errors import EXIT_FAILURE, EXIT_USAGE, CliError
from otel_revops.config import Settings
from otel_revops.redaction import mask_url_credentials

__all__ = [
    "DEFAULT_DATABASE",
    "Store",
    "database_name",
    "describe_mongo_error",
    "mongo_failure",
    "open_store",
    "redact_uri",
]

#: The database used when neither the setting nor the URI names one.
DEFAULT_DATABASE = "revops"
Document = dict[str, Any]

_TIMEOUTS = re.compile(r"\s*\(configured timeouts:[^)]*\)")


def redact_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***``, for messages."""
    return mask_url_credentials(uri)


def describe_mongo_error(error: PyMongoError) -> str:
    """The useful first part of a driver error, on one line (the topology dump is dropped)."""
    text = str(error).split(", Timeout:", 1)[0]
    text = _TIMEOUTS.sub("", text)
    return " ".join(text.split()) or type(error).__name__


def mongo_failure(error: PyMongoError, uri: str) -> CliError:
    """The :class:`CliError` (exit 1) for a driver error while talking to ``uri``."""
    reason = describe_mongo_error(error)
    if isinstance(error, ConnectionFailure):
        return CliError(
            f"cannot reach MongoDB at {redact_uri(uri)}: {reason} "
            "(is the server running and the URI right? 'otel-revops doctor' checks the setup)",
            EXIT_FAILURE,
        )
    return CliError(f"MongoDB error at {redact_uri(uri)}: {reason}", EXIT_FAILURE)


def database_name(settings: Settings, client: MongoClient[Document]) -> str:
    """The database the library writes to: the setting, else the URI's database, else ``revops``."""
    if settings.mongodb_database:
        return settings.mongodb_database
    return client.get_default_database(DEFAULT_DATABASE).name


@dataclass
class Store:
    """The open client and the two collections the library writes."""

    uri: str
    client: MongoClient[Document]
    database: Database[Document]
    executions: Collection[Document]
    history: Collection[Document]

    def describe(self, collection: Collection[Document]) -> str:
        """``database.collection``, as messages name it."""
        return f"{self.database.name}.{collection.name}"

    def close(self) -> None:
        """Close the client."""
        self.client.close()


def open_store(settings: Settings, timeout_ms: int = 5000) -> Store:
    """A :class:`Store` for the configured MongoDB; nothing is sent until the first command.

    Raises :class:`CliError` (exit 2) when no URI is configured or the URI cannot be parsed.
    """
    uri = settings.mongodb_uri
    if not uri:
        raise CliError(
            "no MongoDB URI: pass --uri or set OTEL_REVOPS_MONGODB_URI (or MONGODB_URI)",
            EXIT_USAGE,
        )
    try:
        client: MongoClient[Document] = MongoClient(
            uri,
            tz_aware=True,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            appname="otel-revops-cli",
        )
    except PyMongoError as error:
        raise CliError(
            f"MongoDB URI {redact_uri(uri)!r} is not valid: {describe_mongo_error(error)}", EXIT_USAGE
        ) from None
    except ValueError as error:
        raise CliError(f"MongoDB URI {redact_uri(uri)!r} is not valid: {error}", EXIT_USAGE) from None
    database = client[database_name(settings, client)]
    return Store(
        uri=uri,
        client=client,
        database=database,
        executions=database[settings.mongodb_executions_collection],
        history=database[settings.mongodb_logs_collection],
    )
