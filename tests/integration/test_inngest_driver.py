"""The shipped test helpers: ``drive_function`` speaks the executor's protocol to the SDK's real handler
(retries, failures, parallel steps, sleeps, waits, streamed responses), and ``capture_logs`` hands
users the exported records as plain dicts — also as a pytest fixture."""

from __future__ import annotations

import asyncio
import collections
import logging
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import fastapi
import inngest
import inngest.fast_api
import pytest

import otel_revops
from otel_revops.integrations.inngest import ExecutionContextMiddleware, InngestLogger
from otel_revops.testing import (
    ExecutorError,
    InMemoryLogExporter,
    capture_logs,
    drive_function,
    drive_function_async,
    serve_functions,
)

EVENT = "test/driver.requested"
REPO = Path(__file__).resolve().parents[2]

log = logging.getLogger("app.driver")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_*, MongoDB or INNGEST_* variable of the surrounding shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "INNGEST_")) or name == "MONGODB_URI":
            monkeypatch.delenv(name)


def new_client() -> inngest.Inngest:
    """A dev-mode client with the integration's logger and middleware."""
    return inngest.Inngest(
        app_id="driver-app", is_production=False, logger=InngestLogger(), middleware=[ExecutionContextMiddleware]
    )


class TestDriving:
    def test_run_id_is_a_ulid_and_the_event_reaches_the_function(self) -> None:
        """The driver sends a 26-character ULID run id and the event's name and data."""
        client = new_client()

        @client.create_function(fn_id="echo", trigger=inngest.TriggerEvent(event=EVENT))
        def echo(ctx: inngest.ContextSync) -> dict[str, Any]:
            return {"run": ctx.run_id, "name": ctx.event.name, "data": dict(ctx.event.data)}

        result = drive_function(client, echo, {"name": EVENT, "data": {"jobId": "j-1"}})

        assert result.status == "completed"
        assert re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{26}", result.run_id)
        assert result.output == {"run": result.run_id, "name": EVENT, "data": {"jobId": "j-1"}}

    def test_function_failing_on_every_attempt_ends_failed_after_its_retries(self) -> None:
        """A function that raises is retried ``retries`` times, then the run is failed with its error."""
        client = new_client()

        @client.create_function(fn_id="broken", trigger=inngest.TriggerEvent(event=EVENT), retries=2)
        def broken(ctx: inngest.ContextSync) -> None:
            raise RuntimeError(f"broken on attempt {ctx.attempt}")

        result = drive_function(client, broken, {"name": EVENT})

        assert result.status == "failed"
        assert [(r.status, r.attempt) for r in result.requests] == [(500, 0), (500, 1), (500, 2)]
        assert result.error["message"] == "broken on attempt 2"

    def test_step_failing_on_every_attempt_fails_the_step_then_the_run(self) -> None:
        """A step that always raises is retried, reported StepFailed on its last attempt, and the run fails."""
        client = new_client()

        @client.create_function(fn_id="bad-step", trigger=inngest.TriggerEvent(event=EVENT), retries=1)
        def bad_step(ctx: inngest.ContextSync) -> None:
            ctx.step.run("explode", lambda: 1 / 0)

        result = drive_function(client, bad_step, {"name": EVENT})

        assert result.status == "failed"
        assert [r.ops for r in result.requests] == [("StepError",), ("StepFailed",), ()]
        assert result.error["name"] == "ZeroDivisionError"

    @pytest.mark.parametrize("framework", ["flask", "fastapi"])
    def test_parallel_steps_are_planned_then_targeted_and_log_once(self, framework: str) -> None:
        """Parallel steps come back planned; each is run by a request targeting it, which replays the code
        before it silently: every message once, and one step record per step."""
        client = new_client()

        @client.create_function(fn_id="fan-out", trigger=inngest.TriggerEvent(event=EVENT))
        def fan_out(ctx: inngest.ContextSync) -> list[str]:
            log.info("before the group")

            def sync(entity: str) -> str:
                log.info(f"syncing {entity}")
                return entity

            done = ctx.group.parallel(
                (lambda: ctx.step.run("contacts", sync, "contacts"), lambda: ctx.step.run("deals", sync, "deals"))
            )
            log.info("after the group")
            return list(done)

        with capture_logs() as captured:
            result = drive_function(client, fan_out, {"name": EVENT}, framework=framework)  # type: ignore[arg-type]
            counts = collections.Counter(captured.messages())

        assert result.output == ["contacts", "deals"]
        assert result.requests[0].ops == ("StepPlanned", "StepPlanned")
        assert [r.step_id != "step" for r in result.requests[1:3]] == [True, True]
        assert counts == collections.Counter(
            ["before the group", "syncing contacts", "Step contacts", "syncing deals", "Step deals", "after the group"]
        )

    def test_sleep_and_wait_for_event_are_memoized_without_waiting(self) -> None:
        """``step.sleep`` resumes at once; ``step.wait_for_event`` gets its stub, or times out (None)."""
        client = new_client()

        @client.create_function(fn_id="waits", trigger=inngest.TriggerEvent(event=EVENT))
        def waits(ctx: inngest.ContextSync) -> list[Any]:
            ctx.step.sleep("cool-down", 3_600_000)
            approved = ctx.step.wait_for_event("approval", event="test/approved", timeout=60_000)
            ignored = ctx.step.wait_for_event("veto", event="test/veto", timeout=60_000)
            return [approved.data["by"] if approved else None, ignored]

        approval = {"name": "test/approved", "data": {"by": "ops"}, "id": "e1", "ts": 1}
        result = drive_function(client, waits, {"name": EVENT}, step_stubs={"approval": approval})

        assert result.status == "completed"
        assert result.output == ["ops", None]
        assert [r.ops for r in result.requests[:3]] == [("Sleep",), ("WaitForEvent",), ("WaitForEvent",)]

    def test_streamed_responses_are_unwrapped(self) -> None:
        """With ``Streaming.FORCE`` the handler answers 201 with keepalives; the driver reads the real response."""
        client = new_client()

        @client.create_function(fn_id="streamed", trigger=inngest.TriggerEvent(event=EVENT))
        async def streamed(ctx: inngest.Context) -> int:
            return await ctx.step.run("one", lambda: 41) + 1

        app = fastapi.FastAPI()
        inngest.fast_api.serve(app, client, [streamed], streaming=inngest.Streaming.FORCE)

        result = drive_function(app, streamed, {"name": EVENT})

        assert (result.status, result.output) == ("completed", 42)
        assert [r.status for r in result.requests] == [206, 200]

    def test_invoke_without_a_stub_is_a_clear_error(self) -> None:
        """A step invoking another function needs its result in ``step_stubs``."""
        client = new_client()

        @client.create_function(fn_id="callee", trigger=inngest.TriggerEvent(event="test/callee"))
        def callee(ctx: inngest.ContextSync) -> int:
            return 1

        @client.create_function(fn_id="caller", trigger=inngest.TriggerEvent(event=EVENT))
        def caller(ctx: inngest.ContextSync) -> Any:
            return ctx.step.invoke("call", function=callee)

        app = serve_functions(client, [caller, callee])
        with pytest.raises(ExecutorError, match="'call' invokes another function"):
            drive_function(app, caller, {"name": EVENT})
        assert drive_function(app, caller, {"name": EVENT}, step_stubs={"call": 7}).output == 7

    def test_drive_function_inside_a_running_loop_points_to_the_async_variant(self) -> None:
        """Inside an event loop, an ASGI app must be driven with ``drive_function_async``."""
        client = new_client()

        @client.create_function(fn_id="noop", trigger=inngest.TriggerEvent(event=EVENT))
        async def noop(ctx: inngest.Context) -> str:
            return "ok"

        app = serve_functions(client, [noop], framework="fastapi")

        async def inside_loop() -> str:
            with pytest.raises(ExecutorError, match="drive_function_async"):
                drive_function(app, noop, {"name": EVENT})
            return str((await drive_function_async(app, noop, {"name": EVENT})).output)

        assert asyncio.run(inside_loop()) == "ok"

    def test_signed_requests_reach_a_production_client(self) -> None:
        """With ``signing_key`` the driver signs each request the way Inngest Cloud does."""
        key = "signkey-test-" + "ab" * 32
        client = inngest.Inngest(app_id="driver-app", is_production=True, signing_key=key, logger=InngestLogger())

        @client.create_function(fn_id="secure", trigger=inngest.TriggerEvent(event=EVENT))
        def secure(ctx: inngest.ContextSync) -> str:
            return ctx.step.run("one", lambda: "signed")

        app = serve_functions(client, [secure])
        assert drive_function(app, secure, {"name": EVENT}, signing_key=key).output == "signed"
        with pytest.raises(ExecutorError, match="401"):
            drive_function(app, secure, {"name": EVENT})


class TestCaptureLogs:
    def test_records_are_plain_dicts_with_properties_and_exception(self) -> None:
        """``capture_logs()``: message, level, category, properties (context + extra) and exception."""
        with capture_logs() as captured:
            with otel_revops.execution_context(job_id="j-1", execution_id="x-1"):
                log.warning("Missed scheduled run", extra={"missedRunTime": "2024-01-15T10:25:00Z"})
                try:
                    raise KeyError("contactId")
                except KeyError:
                    log.exception("Chunk failed")
            records = captured.records()
            only_job = captured.messages(jobId="j-1")

        missed, failed = records
        assert (missed["level"], missed["category"], missed["message"]) == (
            "warning",
            "app.driver",
            "Missed scheduled run",
        )
        assert missed["properties"] == {"jobId": "j-1", "executionId": "x-1", "missedRunTime": "2024-01-15T10:25:00Z"}
        assert missed["exception"] is None
        assert failed["exception"]["type"] == "KeyError"
        assert "Traceback" in failed["exception"]["stacktrace"]
        assert only_job == ["Missed scheduled run", "Chunk failed"]
        assert otel_revops.current_pipeline() is None

    def test_the_pipeline_running_before_is_back_afterwards(self) -> None:
        """A capture inside a configured application takes the records of its block only; afterwards the
        application's own pipeline is current again and receives what is logged."""
        own = InMemoryLogExporter()
        pipeline = otel_revops.configure_logging(exporters=[own], console="none", log_level="info")
        log.info("before the capture")
        with capture_logs(log_level="debug") as captured:
            log.debug("inside the capture")
            inside = captured.messages()
        log.debug("after, below the application's level")
        log.info("after the capture")
        assert otel_revops.current_pipeline() is pipeline
        pipeline.force_flush()
        assert inside == ["inside the capture"]
        assert [r["message"] for r in own.records()] == ["before the capture", "after the capture"]

    def test_configuring_inside_a_capture_keeps_the_newest_pipeline(self) -> None:
        """A block that configures logging itself: that pipeline stays current, the one before is shut down."""
        first = otel_revops.configure_logging(console="none")
        with capture_logs():
            newest = otel_revops.configure_logging(console="none")
        assert otel_revops.current_pipeline() is newest
        assert first._closed

    def test_pytest_fixture_for_users(self, tmp_path: Path) -> None:
        """A user's suite gets the ``capture_logs`` fixture with no configuration (the package's pytest
        plugin), and the pipeline its conftest configured is back after each test."""
        (tmp_path / "conftest.py").write_text(
            textwrap.dedent(
                """
                import otel_revops
                from otel_revops.testing import InMemoryLogExporter

                SUITE = InMemoryLogExporter()
                otel_revops.configure_logging(exporters=[SUITE], console="none")
                """
            )
        )
        (tmp_path / "test_user.py").write_text(
            textwrap.dedent(
                """
                import logging

                import otel_revops
                from conftest import SUITE

                def test_job_logs(capture_logs):
                    logging.getLogger("user.job").info("Job execution started", extra={"syncMode": "full"})
                    (record,) = capture_logs.records()
                    assert record["message"] == "Job execution started"
                    assert record["properties"] == {"syncMode": "full"}

                def test_suite_pipeline_is_back():
                    logging.getLogger("user.job").info("outside any capture")
                    otel_revops.force_flush()
                    assert [r["message"] for r in SUITE.records()] == ["outside any capture"]
                """
            )
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_") and k != "MONGODB_URI"}
        env["PYTHONPATH"] = str(REPO)
        completed = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert "2 passed" in completed.stdout
