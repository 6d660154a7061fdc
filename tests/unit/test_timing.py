"""Timed blocks: one record per block with its duration and outcome, from a with-block, a decorator,
async code and a bound logger; failures re-raised unchanged."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

import otel_revops
from otel_revops.testing import capture_logs


def test_a_block_records_its_duration_outcome_and_context() -> None:
    with capture_logs() as captured:
        with otel_revops.execution_context(job_id="j-1", execution_id="x-1"):
            before = time.monotonic()
            with otel_revops.timed("Fetched contacts page", entity="contacts"):
                busy_until = time.monotonic() + 0.02  # the work being timed: 20 ms of it
                while time.monotonic() < busy_until:
                    pass
            elapsed = (time.monotonic() - before) * 1000
        (record,) = captured.records()
    assert (record["message"], record["level"], record["category"]) == ("Fetched contacts page", "info", "otel_revops.timed")
    properties = record["properties"]
    assert {k: properties[k] for k in ("jobId", "executionId", "entity", "outcome")} == {
        "jobId": "j-1", "executionId": "x-1", "entity": "contacts", "outcome": "ok"
    }  # fmt: skip
    assert isinstance(properties["durationMs"], float)
    assert 20 <= properties["durationMs"] <= elapsed


def test_a_failing_block_records_the_error_and_re_raises() -> None:
    error = KeyError("contactId")
    with capture_logs() as captured:
        with pytest.raises(KeyError) as raised, otel_revops.timed("Upserted contact"):
            raise error
        (record,) = captured.records()
    assert raised.value is error
    assert record["level"] == "warning"
    assert (record["properties"]["outcome"], record["properties"]["errorType"]) == ("error", "KeyError")


def test_decorated_sync_and_async_functions() -> None:
    @otel_revops.timed("sync step", step="a")
    def sync_step(value: int) -> int:
        return value + 1

    @otel_revops.timed("async step", log_start=True)
    async def async_step(value: int) -> int:
        await asyncio.sleep(0)
        return value * 2

    with capture_logs() as captured:
        assert sync_step(1) == 2
        assert asyncio.run(async_step(4)) == 8
        records = captured.records()
    assert [(r["message"], r["properties"]["outcome"]) for r in records] == [
        ("sync step", "ok"),
        ("async step", "started"),
        ("async step", "ok"),
    ]
    assert records[0]["properties"]["step"] == "a"


def test_a_bound_logger_times_with_its_category_bindings_and_levels() -> None:
    log = otel_revops.get_sync_logger("deals").bind(batch=3)
    with capture_logs(log_level="debug") as captured:
        with log.timed("Synced batch", level=logging.DEBUG, error_level=logging.ERROR, durationMs="not mine"):
            pass
        with pytest.raises(ValueError), log.timed("Synced batch"):
            raise ValueError("bad page")
        ok, failed = captured.records()
    assert (ok["category"], ok["level"], ok["properties"]["batch"], ok["properties"]["entity"]) == (
        "inngest.sync.deals", "debug", 3, "deals"
    )  # fmt: skip
    assert isinstance(ok["properties"]["durationMs"], float)
    assert (failed["level"], failed["properties"]["outcome"]) == ("warning", "error")


def test_one_object_times_concurrent_tasks_apart() -> None:
    shared = otel_revops.timed("shared")

    async def task(pause: float) -> None:
        async with shared:
            await asyncio.sleep(pause)

    async def both() -> None:
        await asyncio.gather(task(0.05), task(0))

    with capture_logs() as captured:
        asyncio.run(both())
        durations = sorted(r["properties"]["durationMs"] for r in captured.records())
    assert len(durations) == 2
    assert durations[0] < 50 <= durations[1]
