"""Pytest fixtures for the real servers: load with ``pytest_plugins = ["tests.support.fixtures"]``."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from pymongo.database import Database
from pymongo.errors import PyMongoError

from tests.support.mongo_server import MongoServer
from tests.support.otlp_receiver import OTLPReceiver

__all__ = [
    "MONGODB_URI_ENV",
    "mongo_client",
    "mongo_db",
    "mongo_db_name",
    "mongo_uri",
    "otlp_receiver",
    "private_mongo_server",
]

MONGODB_URI_ENV = "OTEL_REVOPS_TEST_MONGODB_URI"
_SERVER_SELECTION_TIMEOUT_MS = 5000


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    """URI of the session's MongoDB: ``$OTEL_REVOPS_TEST_MONGODB_URI``, else a daemon started for the session."""
    external = os.environ.get(MONGODB_URI_ENV, "").strip()
    if external:
        yield external
        return
    with MongoServer() as server:
        yield server.uri


@pytest.fixture(scope="session")
def mongo_client(mongo_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    """A client on the session's MongoDB that gives up on an unreachable server after 5 s."""
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, serverSelectionTimeoutMS=_SERVER_SELECTION_TIMEOUT_MS)
    try:
        # Checked once here: pytest re-raises a failed session fixture for every test without waiting again.
        try:
            client.admin.command("ping")
        except PyMongoError as error:
            pytest.fail(f"no MongoDB answering at {mongo_uri} (set by {MONGODB_URI_ENV}?): {error}", pytrace=False)
        yield client
    finally:
        client.close()


@pytest.fixture
def mongo_db_name(mongo_client: MongoClient[dict[str, Any]]) -> Iterator[str]:
    """A database name no other test uses (``t_<8 hex>``); the database is dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:8]}"
    yield name
    mongo_client.drop_database(name)


@pytest.fixture
def mongo_db(mongo_client: MongoClient[dict[str, Any]], mongo_db_name: str) -> Database[dict[str, Any]]:
    """The test's own database on the session's MongoDB (see ``mongo_db_name``)."""
    return mongo_client[mongo_db_name]


@pytest.fixture
def private_mongo_server() -> Iterator[MongoServer]:
    """A MongoDB daemon for this test alone, which it may ``kill()`` and ``restart()``."""
    server = MongoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def otlp_receiver() -> Iterator[OTLPReceiver]:
    """A running OTLP logs receiver (gRPC and HTTP), stopped after the test."""
    with OTLPReceiver() as receiver:
        yield receiver
