"""The history collection's indexes: what they should be, what to change to get there (pure), and the change.

Shared by the MongoDB exporter (which creates them once) and ``otel-revops ensure-indexes`` / ``doctor``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from pymongo.collection import Collection

__all__ = ["IndexChange", "IndexSpec", "apply_index_changes", "history_indexes", "plan_index_changes"]

Action = Literal["present", "create", "set_ttl", "recreate"]
_VERBS = {
    "create": ("created", "would create"),
    "set_ttl": ("updated", "would update"),
    "recreate": ("recreated", "would recreate"),
}


@dataclass(frozen=True)
class IndexSpec:
    """One index: its key pattern and, for the TTL index, how long a record lives."""

    keys: tuple[tuple[str, int], ...]
    ttl_seconds: int | None = None

    @property
    def name(self) -> str:
        """MongoDB's default name for the key pattern, e.g. ``executionId_1_timestamp_1``."""
        return "_".join(f"{field}_{direction}" for field, direction in self.keys)

    def describe(self) -> str:
        """``{executionId: 1, timestamp: 1}``, with the TTL when there is one."""
        keys = ", ".join(f"{field}: {direction}" for field, direction in self.keys)
        ttl = f", expires after {_days(self.ttl_seconds)}" if self.ttl_seconds is not None else ""
        return f"{{{keys}}}{ttl}"


@dataclass(frozen=True)
class IndexChange:
    """What ``ensure-indexes`` does for one wanted index."""

    action: Action
    spec: IndexSpec
    existing_name: str | None = None
    existing_ttl: int | None = None

    def describe(self, dry_run: bool = False) -> str:
        """One line saying what was done (or, with ``dry_run``, what would be)."""
        if self.action == "present":
            return f"present: {self.existing_name} {self.spec.describe()}"
        done, planned = _VERBS[self.action]
        verb = planned if dry_run else done
        if self.action == "create":
            return f"{verb}: {self.spec.name} {self.spec.describe()}"
        return (
            f"{verb}: {self.existing_name} expiry {_ttl_text(self.existing_ttl)} → {_ttl_text(self.spec.ttl_seconds)}"
        )


def _days(seconds: int | None) -> str:
    if seconds is None:
        return "never"
    if seconds % 86_400 == 0:
        days = seconds // 86_400
        return f"{days} day" + ("" if days == 1 else "s")
    return f"{seconds} s"


def _ttl_text(seconds: int | None) -> str:
    return "none" if seconds is None else _days(seconds)


def history_indexes(retention_days: int) -> list[IndexSpec]:
    """The history's indexes: by execution then time (``logs``), by job then newest first (``stats --job``),
    and by time, which expires records after ``retention_days`` (0 keeps them: a plain index for ``prune``)."""
    ttl = retention_days * 86_400 if retention_days > 0 else None
    return [
        IndexSpec((("executionId", 1), ("timestamp", 1))),
        IndexSpec((("jobId", 1), ("timestamp", -1))),
        IndexSpec((("timestamp", 1),), ttl_seconds=ttl),
    ]


def _key_pattern(info: Mapping[str, Any]) -> tuple[tuple[str, int], ...] | None:
    try:
        return tuple((str(field), int(direction)) for field, direction in info.get("key", ()))
    except (TypeError, ValueError):  # text, hashed or 2d indexes have string directions
        return None


def _ttl(info: Mapping[str, Any]) -> int | None:
    value = info.get("expireAfterSeconds")
    return None if value is None else int(value)


def plan_index_changes(existing: Mapping[str, Mapping[str, Any]], wanted: Sequence[IndexSpec]) -> list[IndexChange]:
    """For each wanted index, given ``index_information()``: present, to create, to re-time (TTL changed)
    or to recreate (TTL added to or removed from an existing index)."""
    by_keys: dict[tuple[tuple[str, int], ...], tuple[str, int | None]] = {}
    for name, info in existing.items():
        pattern = _key_pattern(info)
        if pattern is not None:
            by_keys.setdefault(pattern, (name, _ttl(info)))
    changes = []
    for spec in wanted:
        found = by_keys.get(spec.keys)
        if found is None:
            changes.append(IndexChange("create", spec))
            continue
        name, ttl = found
        if ttl == spec.ttl_seconds:
            changes.append(IndexChange("present", spec, name, ttl))
        elif ttl is not None and spec.ttl_seconds is not None:
            changes.append(IndexChange("set_ttl", spec, name, ttl))
        else:
            changes.append(IndexChange("recreate", spec, name, ttl))
    return changes


def apply_index_changes(collection: Collection[dict[str, Any]], changes: Sequence[IndexChange]) -> None:
    """Create, re-time or recreate indexes as planned by :func:`plan_index_changes`."""
    for change in changes:
        spec = change.spec
        options: dict[str, Any] = {"name": spec.name}
        if spec.ttl_seconds is not None:
            options["expireAfterSeconds"] = spec.ttl_seconds
        if change.action == "create":
            collection.create_index(list(spec.keys), **options)
        elif change.action == "set_ttl":
            collection.database.command(
                "collMod", collection.name, index={"name": change.existing_name, "expireAfterSeconds": spec.ttl_seconds}
            )
        elif change.action == "recreate" and change.existing_name is not None:
            collection.drop_index(change.existing_name)
            collection.create_index(list(spec.keys), **options)
