"""Dotted property keys as nested fields, and back (pure).

A property logged as ``inngest.run_id`` is stored as ``metadata: {inngest: {run_id: …}}``, the way
Datadog and Elastic unflatten dotted attributes, so ``find({"metadata.inngest.run_id": …})`` finds it.
The rule, decided on the record's keys alone:

* a dotted key nests when every part is non-empty and no shorter prefix of it is itself a key of the
  record. When one is (``a`` and ``a.b``, or ``a.b`` and ``a.b.c``), the longer key is stored flat,
  each ``.`` as ``．`` (U+FF0E), and nothing is lost;
* keys MongoDB treats specially are made safe part by part (a leading ``$`` → ``＄``, NUL → ``␀``).

When any stored key differs from the logged one, the history document keeps the logged keys in order
(``metadataKeys``), from which :func:`logged_properties` gives back exactly what was logged — the CLI
prints the same text as the console did.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

__all__ = ["logged_properties", "nested_path", "place"]

_MISSING: Any = object()


def nested_path(key: str, keys: Collection[str]) -> list[str] | None:
    """The parts dotted ``key`` is nested under, or None when it is stored flat (see the module's rule)."""
    if "." not in key:
        return None
    parts = key.split(".")
    if "" in parts:
        return None
    prefix = parts[0]
    for part in parts[1:]:
        if prefix in keys:
            return None
        prefix = f"{prefix}.{part}"
    return parts


def place(document: dict[str, Any], path: Sequence[str], value: Any, created: set[int]) -> bool:
    """Set ``value`` at ``path`` in ``document``, making the parents it needs (their ids go in ``created``);
    False, changing nothing, when a parent is already there and was not made here."""
    target = document
    for part in path[:-1]:
        child = target.get(part)
        if child is None:
            child = target[part] = {}
            created.add(id(child))
        elif id(child) not in created:
            return False
        target = child
    if path[-1] in target:
        return False
    target[path[-1]] = value
    return True


def logged_properties(
    metadata: Mapping[str, Any], keys: Sequence[Any], safe_key: Callable[[str], str]
) -> dict[str, Any]:
    """The properties as logged, in their order, from a stored ``metadata`` and its ``metadataKeys``
    (``safe_key`` is how each key or part was made safe); stored fields not named there follow."""
    logged: dict[str, Any] = {}
    used: set[str] = set()
    names = [key for key in keys if isinstance(key, str)]
    for key in names:
        path = nested_path(key, names)
        if path is None:
            stored = safe_key(key)
            if stored in metadata:
                logged[key] = metadata[stored]
                used.add(stored)
            continue
        value: Any = metadata
        for part in path:
            value = value.get(safe_key(part), _MISSING) if isinstance(value, Mapping) else _MISSING
        if value is not _MISSING:
            logged[key] = value
            used.add(safe_key(path[0]))
    for key, value in metadata.items():
        if key not in used and key not in logged:
            logged[key] = value
    return logged
