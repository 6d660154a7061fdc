"""Categories: what a record's logger is called, and the static part of it that names its OpenTelemetry scope.

A category is a dotted name (``inngest.sync.contacts``) or, as LogTape writes it, a sequence of
parts (``["inngest", "sync", "contacts"]``). Some categories carry per-execution parts
(``inngest.execution.<job>.<execution>``): the instrumentation scope of such a record is the
category's *static* part — the nearest logger registered with :mod:`logging` (the per-execution
loggers are not registered) — so that neither the SDK's logger cache nor a backend's scope list
grows with every execution. The full category stays on the record: the console and MongoDB show it,
and OTLP carries it as the ``otel_revops.category`` attribute whenever it differs from the scope.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from opentelemetry.sdk._logs import ReadableLogRecord

__all__ = ["CATEGORY_ATTR", "Category", "category_name", "record_category", "scope_name"]

#: The attribute holding a record's full category when its instrumentation scope is only the static part.
CATEGORY_ATTR = "otel_revops.category"

#: A category as a dotted string, or a sequence of its parts.
Category = str | Sequence[str]

# Scopes found by walking up from an unregistered logger's name (an execution's records repeat its
# name); cleared when full, so a service running millions of executions keeps a bounded map.
_WALKED: dict[str, str] = {}
_WALKED_LIMIT = 4096


def category_name(category: Category | None) -> str | None:
    """The dotted name of ``category``: a string as given, a sequence of parts joined with ``.``.

    Raises :class:`TypeError` for anything else, naming what was given.
    """
    if category is None or isinstance(category, str):
        return category
    if isinstance(category, Sequence) and all(isinstance(part, str) for part in category):
        return ".".join(category)
    raise TypeError(f"a category is a string or a sequence of strings, not {category!r}")


def scope_name(name: str) -> str:
    """The instrumentation scope of records from logger ``name``: the name itself when the logger is
    registered with :mod:`logging` (``logging.getLogger(name)`` was called), else its nearest registered
    ancestor, else its first part."""
    registered = logging.Logger.manager.loggerDict
    if isinstance(registered.get(name), logging.Logger):
        return name
    scope = _WALKED.get(name)
    if scope is not None:
        return scope
    scope = name
    while "." in scope:
        scope = scope.rpartition(".")[0]
        if isinstance(registered.get(scope), logging.Logger):
            break
    if len(_WALKED) >= _WALKED_LIMIT:
        _WALKED.clear()
    _WALKED[name] = scope
    return scope


def record_category(readable: ReadableLogRecord) -> str:
    """The full category of an OpenTelemetry record: its ``otel_revops.category`` attribute, else its scope's name."""
    attributes: Any = readable.log_record.attributes
    category = attributes.get(CATEGORY_ATTR) if attributes else None
    if type(category) is str:
        return category
    scope = readable.instrumentation_scope
    return scope.name if scope is not None and scope.name else ""
