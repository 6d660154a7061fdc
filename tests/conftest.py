"""Shared test set-up: the servers' fixtures, and a clean logging state around every test."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

import otel_revops

pytest_plugins = ["tests.support.fixtures"]


@pytest.fixture(autouse=True)
def _private_spool(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test spools into its own directory, never the user's cache."""
    monkeypatch.setenv("OTEL_REVOPS_SPOOL_DIR", str(tmp_path_factory.mktemp("spool")))


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Shut down any pipeline a test configured and restore the root logger's handlers and level."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    try:
        yield
    finally:
        otel_revops.shutdown_logging(timeout_millis=5000)
        root.handlers[:] = handlers
        root.setLevel(level)
