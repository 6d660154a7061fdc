"""Inngest: driven through the SDK's real HTTP handler as the executor drives it, every record of a run
carries the run's attributes and reaches the console and MongoDB exactly once — served by Flask, by
FastAPI with an async function and by FastAPI with a sync function."""

from __future__ import annotations

import asyncio
import collections
import io
import json
import logging
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import fastapi
import inngest
import inngest.fast_api
import pytest
from bson import ObjectId
from inngest.experimental import mocked
from pymongo.database import Database

import otel_revops
from otel_revops.config import ConfigurationError
from otel_revops.integrations.inngest import (
    REPLAY_SAFE_ENV,
    STEP_CATEGORY,
    STEP_ID_KEY,
    ExecutionContextMiddleware,
    InngestLogger,
    replay_safe_from_env,
)
from otel_revops.testing import InMemoryLogExporter, RunResult, drive_function, drive_function_async, serve_functions

MODES = ["flask", "fastapi-async", "fastapi-sync"]
EVENT = "test/three-steps.requested"
EXPECTED = [
    "before steps",
    "plain before steps",
    "inside step one",
    "between one and two",
    "inside step two",
    "between two and three",
    "inside step three",
    "after steps",
]
RUN_KEYS = ("inngest.run_id", "inngest.function_id", "inngest.attempt", "inngest.event")

plain = logging.getLogger("app.plain")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTEL_*, MongoDB or INNGEST_* variable of the surrounding shell leaks into a test; FastAPI runs
    sync functions on a single pool thread, so every request lands where the previous one left its
    context variables (which is how state leaks between requests there)."""
    for name in list(os.environ):
        if name.startswith(("OTEL_", "INNGEST_")) or name == "MONGODB_URI":
            monkeypatch.delenv(name)
    monkeypatch.setenv("INNGEST_THREAD_POOL_MAX_WORKERS", "1")


@dataclass
class Output:
    """Where a configured pipeline's records end up: the console text, an in-memory exporter, MongoDB."""

    pipeline: otel_revops.LoggingPipeline
    console: io.StringIO
    exported: InMemoryLogExporter
    db: Database[dict[str, Any]]

    def flush(self) -> None:
        """Deliver everything logged so far."""
        assert self.pipeline.force_flush(10_000)

    def console_records(self) -> list[dict[str, Any]]:
        """The JSON console lines, parsed."""
        return [json.loads(line) for line in self.console.getvalue().splitlines() if line.strip()]

    def history(self, execution_id: ObjectId) -> list[dict[str, Any]]:
        """The execution's documents in the history collection, oldest first."""
        return list(self.db["execution_logs"].find({"executionId": execution_id}).sort("timestamp", 1))


@pytest.fixture
def replay_safety_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """OTEL_REVOPS_INNGEST_REPLAY_SAFE=false in the environment (before the pipeline is configured)."""
    monkeypatch.setenv(REPLAY_SAFE_ENV, "false")


@pytest.fixture
def output(mongo_uri: str, mongo_db: Database[dict[str, Any]]) -> Output:
    """Logging configured with the JSON console on a StringIO, an in-memory exporter and MongoDB."""
    console = io.StringIO()
    exported = InMemoryLogExporter()
    pipeline = otel_revops.configure_logging(
        console="json",
        console_stream=console,
        mongodb_uri=mongo_uri,
        mongodb_database=mongo_db.name,
        exporters=[exported],
        export_delay_ms=50,
    )
    return Output(pipeline, console, exported, mongo_db)


def new_client(middleware: list[Any] | None = None) -> inngest.Inngest:
    """A dev-mode client logging through the pipeline, with the execution middleware unless told otherwise."""
    return inngest.Inngest(
        app_id="test-app",
        is_production=False,
        logger=InngestLogger(),
        middleware=[ExecutionContextMiddleware] if middleware is None else middleware,
    )


def new_execution(db: Database[dict[str, Any]]) -> tuple[str, ObjectId]:
    """A job id and the ObjectId of a new execution document (the application creates it)."""
    execution_id = ObjectId()
    db["job_executions"].insert_one({"_id": execution_id, "status": "running", "logs": []})
    return f"job-{execution_id}", execution_id


def event_for(job_id: str, execution_id: ObjectId) -> dict[str, Any]:
    """The triggering event, carrying the job and execution ids."""
    return {"name": EVENT, "data": {"jobId": job_id, "executionId": str(execution_id)}}


# The three-step function, once sync and once async, logging before, inside and between the steps
# through ctx.logger, a plain stdlib logger, the sync logger and the execution logger.


def between_one_and_two(ctx: inngest.Context | inngest.ContextSync) -> None:
    """Log through the execution logger of the event's job and execution."""
    data = ctx.event.data
    otel_revops.get_execution_logger(data["jobId"], data["executionId"]).info("between one and two")


def step_two_body(ctx: inngest.Context | inngest.ContextSync, fail_once: bool) -> int:
    """Step two: on its first attempt, fails (logging the error) when ``fail_once``."""
    if fail_once and ctx.attempt == 0:
        try:
            raise ConnectionError("CRM API timed out")
        except ConnectionError:
            otel_revops.get_sync_logger("contacts").error("step two failed", exc_info=True)
            raise
    ctx.logger.warning("inside step two")
    return 2


def three_step_function(
    client: inngest.Inngest, mode: str, *, fail_step_two_once: bool = False
) -> inngest.Function[Any]:
    """The test function for ``mode``: async for ``fastapi-async``, sync otherwise."""
    trigger = inngest.TriggerEvent(event=EVENT)
    if mode == "fastapi-async":

        @client.create_function(fn_id="three-steps", trigger=trigger, retries=2)
        async def three_steps_async(ctx: inngest.Context) -> int:
            ctx.logger.info("before steps")
            plain.info("plain before steps")

            async def one() -> int:
                await asyncio.sleep(0)
                otel_revops.get_sync_logger("contacts").info("inside step one")
                return 1

            async def two() -> int:
                await asyncio.sleep(0)
                return step_two_body(ctx, fail_step_two_once)

            async def three() -> int:
                await asyncio.sleep(0)
                ctx.logger.info("inside step three")
                return 3

            a = await ctx.step.run("one", one)
            between_one_and_two(ctx)
            b = await ctx.step.run("two", two)
            plain.info("between two and three")
            c = await ctx.step.run("three", three)
            ctx.logger.info("after steps")
            return a + b + c

        return three_steps_async

    @client.create_function(fn_id="three-steps", trigger=trigger, retries=2)
    def three_steps(ctx: inngest.ContextSync) -> int:
        ctx.logger.info("before steps")
        plain.info("plain before steps")

        def one() -> int:
            otel_revops.get_sync_logger("contacts").info("inside step one")
            return 1

        def three() -> int:
            ctx.logger.info("inside step three")
            return 3

        a = ctx.step.run("one", one)
        between_one_and_two(ctx)
        b = ctx.step.run("two", step_two_body, ctx, fail_step_two_once)
        plain.info("between two and three")
        c = ctx.step.run("three", three)
        ctx.logger.info("after steps")
        return a + b + c

    return three_steps


def serve(client: inngest.Inngest, fn: inngest.Function[Any], mode: str) -> Any:
    """The app serving ``fn`` for ``mode``."""
    return serve_functions(client, [fn], framework="flask" if mode == "flask" else "fastapi")


def messages(records: list[dict[str, Any]]) -> collections.Counter[str]:
    """How many times each message the function logged appears (the middleware's step records left out)."""
    return collections.Counter(record["message"] for record in records if category(record) != STEP_CATEGORY)


def category(record: dict[str, Any]) -> str:
    """A record's category: at the top of a history document or a console line, in an embedded entry's metadata."""
    return str(record["category"] if "category" in record else record["metadata"]["category"])


def step_records(records: list[dict[str, Any]]) -> list[tuple[str, str, Any]]:
    """The middleware's step records as ``(step id, outcome, attempt)``, in the order logged."""
    return [
        (stored(r, STEP_ID_KEY), stored(r, "outcome"), stored(r, "inngest.attempt"))
        for r in records
        if category(r) == STEP_CATEGORY
    ]


def exactly_once(names: list[str]) -> collections.Counter[str]:
    """The counter a run logging each of ``names`` once has."""
    return collections.Counter(names)


def stored(doc: dict[str, Any], key: str) -> Any:
    """A metadata value of a stored record: a dotted key is stored nested (``inngest.run_id`` under ``inngest``);
    a console record's properties hold it as logged."""
    if "properties" in doc:
        return doc["properties"][key]
    value = doc["metadata"]
    for part in key.split("."):
        value = value[part]
    return value


class TestExactlyOnce:
    @pytest.mark.parametrize("mode", MODES)
    def test_each_message_once_on_console_and_in_mongodb_with_run_attributes(self, mode: str, output: Output) -> None:
        """Three steps, four requests: every message once on the console, in the history and in the
        execution document, each with the run's id, function id and attempt."""
        client = new_client()
        fn = three_step_function(client, mode)
        job_id, execution_id = new_execution(output.db)

        result = drive_function(serve(client, fn, mode), fn, event_for(job_id, execution_id))

        assert result.status == "completed"
        assert result.output == 6
        # The function was entered four times; the code before each memoized step ran again each time.
        assert [(r.status, r.memoized) for r in result.requests] == [(206, 0), (206, 1), (206, 2), (200, 3)]
        output.flush()

        console = [r for r in output.console_records() if r["properties"].get("executionId") == str(execution_id)]
        assert messages(console) == exactly_once(EXPECTED)
        for record in console:
            props = record["properties"]
            assert props["inngest.run_id"] == result.run_id
            assert props["inngest.function_id"] == fn.id == "test-app-three-steps"
            assert props["inngest.attempt"] == 0
            assert props["inngest.event"] == EVENT
            assert props["jobId"] == job_id

        history = output.history(execution_id)
        assert messages(history) == exactly_once(EXPECTED)
        for doc in history:
            assert stored(doc, "inngest.run_id") == result.run_id
            assert stored(doc, "inngest.function_id") == fn.id
            assert stored(doc, "inngest.attempt") == 0
            assert doc["jobId"] == job_id

        execution = output.db["job_executions"].find_one({"_id": execution_id})
        assert execution is not None
        assert messages(execution["logs"]) == exactly_once(EXPECTED)
        assert execution["logCount"] == len(EXPECTED) + 3  # and one record per step

    @pytest.mark.parametrize("mode", MODES)
    def test_records_keep_their_loggers_category(self, mode: str, output: Output) -> None:
        """ctx.logger writes under ``inngest``; the other loggers keep their own categories."""
        client = new_client()
        fn = three_step_function(client, mode)
        job_id, execution_id = new_execution(output.db)

        drive_function(serve(client, fn, mode), fn, event_for(job_id, execution_id))
        output.flush()

        categories = {doc["message"]: doc["category"] for doc in output.history(execution_id)}
        assert categories["before steps"] == "inngest"
        assert categories["inside step two"] == "inngest"
        assert categories["plain before steps"] == "app.plain"
        assert categories["inside step one"] == "inngest.sync.contacts"
        assert categories["between one and two"] == f"inngest.execution.{job_id}.{execution_id}"


class TestRetries:
    @pytest.mark.parametrize("mode", MODES)
    def test_retried_step_logs_with_attempt_one_and_replays_stay_silent(self, mode: str, output: Output) -> None:
        """Step two fails once: its error is logged at attempt 0 with the exception, its retry logs at
        attempt 1, the next step at attempt 0 again. The retry request replays the code before step
        one silently; the code between step one and step two runs again as part of attempt 1."""
        client = new_client()
        fn = three_step_function(client, mode, fail_step_two_once=True)
        job_id, execution_id = new_execution(output.db)

        result = drive_function(serve(client, fn, mode), fn, event_for(job_id, execution_id))

        assert result.status == "completed"
        assert [r.ops for r in result.requests] == [("StepRun",), ("StepError",), ("StepRun",), ("StepRun",), ()]
        assert [r.attempt for r in result.requests] == [0, 0, 1, 0, 0]
        output.flush()
        history = output.history(execution_id)
        assert messages(history) == exactly_once([*EXPECTED, "step two failed", "between one and two"])
        attempts = collections.defaultdict(list)
        for doc in history:
            attempts[doc["message"]].append(stored(doc, "inngest.attempt"))
        assert attempts["step two failed"] == [0]
        assert attempts["inside step two"] == [1]
        assert attempts["between one and two"] == [0, 1]
        assert attempts["inside step three"] == [0]
        assert attempts["before steps"] == [0]
        failed = next(doc for doc in history if doc["message"] == "step two failed")
        assert failed["level"] == "error"
        assert failed["exception"]["type"] == "ConnectionError"
        assert failed["exception"]["message"] == "CRM API timed out"

        console = [r for r in output.console_records() if r["properties"].get("executionId") == str(execution_id)]
        assert messages(console) == messages(history)


class TestStepRecords:
    @pytest.mark.parametrize("mode", MODES)
    def test_each_step_that_ran_logs_one_timed_record_and_replays_none(self, mode: str, output: Output) -> None:
        """Three steps, step two failing once, five requests replaying up to three memoized steps: exactly
        four step records — one per step run, the failed attempt among them — never one for a replay."""
        client = new_client()
        fn = three_step_function(client, mode, fail_step_two_once=True)
        job_id, execution_id = new_execution(output.db)

        result = drive_function(serve(client, fn, mode), fn, event_for(job_id, execution_id))

        assert result.status == "completed"
        assert [r.memoized for r in result.requests] == [0, 1, 1, 2, 3]
        output.flush()
        history = output.history(execution_id)
        expected = [("one", "ok", 0), ("two", "error", 0), ("two", "ok", 1), ("three", "ok", 0)]
        assert step_records(history) == expected
        steps = [doc for doc in history if doc["category"] == STEP_CATEGORY]
        assert [doc["message"] for doc in steps] == ["Step one", "Step two", "Step two", "Step three"]
        assert [doc["level"] for doc in steps] == ["info", "warning", "info", "info"]
        assert stored(steps[1], "errorType") == "ConnectionError"
        assert all(isinstance(stored(doc, "durationMs"), float) and stored(doc, "durationMs") >= 0 for doc in steps)
        assert all(stored(doc, "inngest.run_id") == result.run_id and doc["jobId"] == job_id for doc in steps)

        console = [r for r in output.console_records() if r["properties"].get("executionId") == str(execution_id)]
        assert step_records(console) == expected
        execution = output.db["job_executions"].find_one({"_id": execution_id})
        assert execution is not None
        assert step_records(execution["logs"]) == expected

    def test_step_records_can_be_turned_off(self, output: Output) -> None:
        """``configured(step_records=False)``: the function's own records only."""
        client = new_client([ExecutionContextMiddleware.configured(step_records=False)])
        fn = three_step_function(client, "flask")
        job_id, execution_id = new_execution(output.db)

        drive_function(serve(client, fn, "flask"), fn, event_for(job_id, execution_id))
        output.flush()

        history = output.history(execution_id)
        assert messages(history) == exactly_once(EXPECTED)
        assert step_records(history) == []


def rendezvous_function(client: inngest.Inngest, mode: str, meet: Callable[[], Any]) -> inngest.Function[Any]:
    """A two-step function whose first step waits until the other run is inside it too."""
    trigger = inngest.TriggerEvent(event=EVENT)
    if mode == "fastapi-async":

        @client.create_function(fn_id="rendezvous", trigger=trigger)
        async def rendezvous_async(ctx: inngest.Context) -> str:
            plain.info("run started")

            async def wait_for_other() -> str:
                plain.info("waiting for the other run")
                await meet()
                plain.info("met the other run")
                return str(ctx.event.data["executionId"])

            seen = await ctx.step.run("meet", wait_for_other)
            ctx.logger.info("between steps")
            await ctx.step.run("finish", lambda: plain.info("finishing"))
            return seen

        return rendezvous_async

    @client.create_function(fn_id="rendezvous", trigger=trigger)
    def rendezvous(ctx: inngest.ContextSync) -> str:
        plain.info("run started")

        def wait_for_other() -> str:
            plain.info("waiting for the other run")
            meet()
            plain.info("met the other run")
            return str(ctx.event.data["executionId"])

        seen = ctx.step.run("meet", wait_for_other)
        ctx.logger.info("between steps")
        ctx.step.run("finish", lambda: plain.info("finishing"))
        return seen

    return rendezvous


RENDEZVOUS_MESSAGES = ["run started", "waiting for the other run", "met the other run", "between steps", "finishing"]


def drive_two_concurrently(mode: str, output: Output) -> tuple[list[RunResult], list[ObjectId]]:
    """Two runs of the rendezvous function, driven at the same time; their results and execution ids."""
    client = new_client()
    executions = [new_execution(output.db) for _ in range(2)]
    events = [event_for(job_id, execution_id) for job_id, execution_id in executions]
    if mode == "fastapi-async":
        arrived: list[int] = []
        both = asyncio.Event()

        async def meet_async() -> None:
            arrived.append(1)
            if len(arrived) == 2:
                both.set()
            await asyncio.wait_for(both.wait(), timeout=10)

        fn = rendezvous_function(client, mode, meet_async)
        app = serve(client, fn, mode)

        async def drive_both() -> list[RunResult]:
            return list(await asyncio.gather(*(drive_function_async(app, fn, event) for event in events)))

        return asyncio.run(drive_both()), [execution_id for _, execution_id in executions]

    barrier = threading.Barrier(2, timeout=10)
    fn = rendezvous_function(client, mode, barrier.wait)
    app = serve(client, fn, mode)
    results: dict[int, RunResult] = {}
    errors: list[BaseException] = []

    def drive(index: int) -> None:
        try:
            results[index] = drive_function(app, fn, events[index])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors, errors
    return [results[0], results[1]], [execution_id for _, execution_id in executions]


class TestConcurrentRuns:
    @pytest.mark.parametrize("mode", MODES)
    def test_two_concurrent_runs_keep_their_attributes_apart(
        self, mode: str, output: Output, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two runs inside the same step at the same time: each record carries its own run's ids only."""
        monkeypatch.setenv("INNGEST_THREAD_POOL_MAX_WORKERS", "2")
        results, execution_ids = drive_two_concurrently(mode, output)

        assert [r.status for r in results] == ["completed", "completed"]
        assert [r.output for r in results] == [str(e) for e in execution_ids]
        output.flush()
        for result, execution_id in zip(results, execution_ids, strict=True):
            history = output.history(execution_id)
            assert messages(history) == exactly_once(RENDEZVOUS_MESSAGES)
            assert {stored(doc, "inngest.run_id") for doc in history} == {result.run_id}
            run_records = [
                r for r in output.exported.records() if r["properties"].get("inngest.run_id") == result.run_id
            ]
            assert {r["properties"]["executionId"] for r in run_records} == {str(execution_id)}
            assert messages(run_records) == exactly_once(RENDEZVOUS_MESSAGES)


class BreaksFirstResponse(inngest.MiddlewareSync):
    """A middleware that raises in ``before_response`` once, so the hooks after it never run."""

    broken = False

    def before_response(self) -> None:
        """Raise the first time."""
        if not BreaksFirstResponse.broken:
            BreaksFirstResponse.broken = True
            raise RuntimeError("middleware failure")


class TestCutShortRequests:
    def test_state_of_a_request_cut_short_does_not_leak_into_the_next_run_on_the_thread(
        self, output: Output, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Another middleware fails before ``before_response`` reaches this one, on FastAPI's one pool
        thread: the next run served there carries none of the first run's attributes."""
        monkeypatch.setattr(BreaksFirstResponse, "broken", False)
        client = new_client(middleware=[BreaksFirstResponse, ExecutionContextMiddleware])

        @client.create_function(fn_id="one-step", trigger=inngest.TriggerEvent(event=EVENT))
        def one_step(ctx: inngest.ContextSync) -> None:
            plain.info("run started", extra={"run": ctx.event.data.get("run")})
            ctx.step.run("only", lambda: None)

        app = serve(client, one_step, "fastapi-sync")
        first = drive_function(app, one_step, {"name": EVENT, "data": {"run": "first", "jobId": "job-first"}})
        second = drive_function(app, one_step, {"name": EVENT, "data": {"run": "second"}})

        assert (first.status, second.status) == ("completed", "completed")
        assert first.requests[0].status == 500
        output.flush()
        started = {r["properties"]["run"]: r["properties"] for r in output.exported.records() if "run" in r["properties"]}
        assert started["first"]["jobId"] == "job-first"
        assert "jobId" not in started["second"]
        assert started["second"]["inngest.run_id"] == second.run_id


class TestSdkMessages:
    def test_sdk_warning_reaches_console_and_exporters_under_inngest(self, output: Output) -> None:
        """The SDK's own warning (streaming enabled, logged while serving) is a pipeline record."""
        client = new_client()
        fn = three_step_function(client, "fastapi-async")
        inngest.fast_api.serve(fastapi.FastAPI(), client, [fn], streaming=inngest.Streaming.FORCE)
        output.flush()

        exported = [r for r in output.exported.records() if r["message"] == "Streaming responses are enabled"]
        assert [(r["category"], r["level"]) for r in exported] == [("inngest", "warning")]
        console = [r for r in output.console_records() if r["message"] == "Streaming responses are enabled"]
        assert [(r["category"], r["level"]) for r in console] == [("inngest", "warning")]

    def test_sdk_error_from_the_handler_reaches_the_pipeline(self, output: Output) -> None:
        """A request for a function the app does not serve: the SDK's error is logged under ``inngest``."""
        client = new_client()
        served = three_step_function(client, "flask")
        other = inngest.Inngest(app_id="test-app", is_production=False).create_function(
            fn_id="not-served", trigger=inngest.TriggerEvent(event=EVENT), retries=0
        )(lambda ctx: None)

        result = drive_function(serve(client, served, "flask"), other, {"name": EVENT})

        assert result.status == "failed"
        output.flush()
        errors = [r for r in output.exported.records() if r["level"] == "error" and r["category"] == "inngest"]
        assert [r["message"] for r in errors] == ["function_not_found: function test-app-not-served not found"]


class TestFailureHandler:
    def test_failure_handler_logs_into_the_failed_execution(self, output: Output) -> None:
        """A run that fails for good starts its on_failure handler; what the handler logs carries the
        failed run's job and execution (from the event it was given) and is stored with them."""
        client = new_client()

        def on_failure(ctx: inngest.ContextSync) -> None:
            ctx.logger.error("Job failed for good", extra={"reason": ctx.event.data["error"]["message"]})

        @client.create_function(
            fn_id="doomed", trigger=inngest.TriggerEvent(event=EVENT), retries=1, on_failure=on_failure
        )
        def doomed(ctx: inngest.ContextSync) -> None:
            plain.info("trying")
            raise RuntimeError("CRM credentials revoked")

        job_id, execution_id = new_execution(output.db)
        result = drive_function(client, doomed, event_for(job_id, execution_id))

        assert result.status == "failed"
        assert result.failure_handler is not None
        assert result.failure_handler.status == "completed"
        output.flush()
        history = output.history(execution_id)
        assert [(doc["message"], stored(doc, "inngest.attempt")) for doc in history] == [
            ("trying", 0),
            ("trying", 1),
            ("Job failed for good", 0),
        ]
        failure = history[-1]
        assert failure["jobId"] == job_id
        assert failure["metadata"]["reason"] == "CRM credentials revoked"
        assert stored(failure, "inngest.event") == "inngest/function.failed"
        assert stored(failure, "inngest.run_id") == result.failure_handler.run_id != result.run_id


class TestMocked:
    def test_mocked_trigger_runs_with_the_logger_and_logs_each_message_once(self, output: Output) -> None:
        """inngest.experimental.mocked.trigger: ctx.logger and the other loggers reach the pipeline, once
        each (its planning requests replay the code before each step), with run id ``test``."""
        client = mocked.Inngest(
            app_id="test-app", is_production=False, logger=InngestLogger(), middleware=[ExecutionContextMiddleware]
        )
        fn = three_step_function(client, "flask")
        job_id, execution_id = new_execution(output.db)

        result = mocked.trigger(fn, inngest.Event(name=EVENT, data=event_for(job_id, execution_id)["data"]), client)

        assert result.status is mocked.Status.COMPLETED
        assert result.output == 6
        output.flush()
        history = output.history(execution_id)
        assert messages(history) == exactly_once(EXPECTED)
        assert {stored(doc, "inngest.run_id") for doc in history} == {"test"}
        assert {stored(doc, "inngest.function_id") for doc in history} == {fn.id}


class TestWithoutReplaySafety:
    """The problem is real: without the middleware's gate, replayed code logs again."""

    @pytest.mark.parametrize("mode", MODES)
    def test_without_the_middleware_plain_loggers_log_every_replay(self, mode: str, output: Output) -> None:
        """The SDK gates ctx.logger only: a plain logger before the steps logs on all four requests."""
        client = new_client(middleware=[])
        fn = three_step_function(client, mode)

        result = drive_function(serve(client, fn, mode), fn, event_for(*new_execution(output.db)))
        assert result.status == "completed"
        output.flush()

        counts = messages(output.exported.records())
        assert counts["plain before steps"] == 4
        assert counts["between two and three"] == 2
        assert counts["inside step one"] == 1

    def test_sdk_gate_duplicates_ctx_logger_in_fastapi_sync_functions(self, output: Output) -> None:
        """The SDK's own ctx.logger gate fails for FastAPI sync functions (its pool threads never close
        it again): what the middleware fixes."""
        client = new_client(middleware=[])
        fn = three_step_function(client, "fastapi-sync")

        result = drive_function(serve(client, fn, "fastapi-sync"), fn, event_for(*new_execution(output.db)))
        assert result.status == "completed"
        output.flush()

        assert messages(output.exported.records())["before steps"] == 4

    @pytest.mark.parametrize("mode", MODES)
    def test_replay_safety_turned_off_by_environment_exports_replays_again(
        self, mode: str, replay_safety_off: None, output: Output
    ) -> None:
        """OTEL_REVOPS_INNGEST_REPLAY_SAFE=false at configure time: replays log again; the run attributes are still bound."""
        client = new_client()
        fn = three_step_function(client, mode)

        result = drive_function(serve(client, fn, mode), fn, event_for(*new_execution(output.db)))
        assert result.status == "completed"
        output.flush()

        records = output.exported.records()
        assert messages(records)["plain before steps"] == 4
        replays = [r for r in records if r["message"] == "plain before steps"]
        assert {r["properties"]["inngest.run_id"] for r in replays} == {result.run_id}

    def test_replay_safety_turned_off_by_argument(self, output: Output) -> None:
        """``ExecutionContextMiddleware.configured(replay_safe=False)`` turns it off too."""
        client = new_client(middleware=[ExecutionContextMiddleware.configured(replay_safe=False)])
        fn = three_step_function(client, "flask")

        result = drive_function(serve(client, fn, "flask"), fn, event_for(*new_execution(output.db)))
        assert result.status == "completed"
        output.flush()

        assert messages(output.exported.records())["plain before steps"] == 4

    def test_bad_replay_safe_value_names_the_variable(self) -> None:
        """A value that is not a boolean raises ConfigurationError naming the environment variable."""
        assert replay_safe_from_env({}) is True
        assert replay_safe_from_env({REPLAY_SAFE_ENV: "off"}) is False
        with pytest.raises(ConfigurationError, match=REPLAY_SAFE_ENV):
            replay_safe_from_env({REPLAY_SAFE_ENV: "sometimes"})


class TestInngestLogger:
    @pytest.fixture
    def exported(self) -> Iterator[InMemoryLogExporter]:
        """Logging configured with an in-memory exporter only."""
        exporter = InMemoryLogExporter()
        otel_revops.configure_logging(console="none", exporters=[exporter], export_delay_ms=50)
        yield exporter

    def test_child_keeps_bindings_down_the_chain(self, exported: InMemoryLogExporter) -> None:
        """``child()`` returns an InngestLogger with the parent's bindings plus its own; the parent is unchanged."""
        root = InngestLogger(tenant="acme")
        grandchild = root.child(entity="contacts").child(chunk=2)

        assert isinstance(grandchild, InngestLogger)
        grandchild.info("Synced chunk", records=50)
        root.warn("Rate limited")
        otel_revops.force_flush()

        first, second = exported.records()
        assert (first["category"], first["message"]) == ("inngest", "Synced chunk")
        assert first["properties"] == {"tenant": "acme", "entity": "contacts", "chunk": 2, "records": 50}
        assert (second["level"], second["properties"]) == ("warning", {"tenant": "acme"})

    def test_stdlib_style_calls_and_category(self, exported: InMemoryLogExporter) -> None:
        """%-style arguments, ``extra=``, ``exception()`` and a custom category work as with a stdlib logger."""
        log = InngestLogger("inngest.custom")
        log.info("Synced %d contacts", 12, extra={"entity": "contacts"})
        try:
            raise ValueError("bad page token")
        except ValueError:
            log.exception("Page failed")
        otel_revops.force_flush()

        synced, failed = exported.records()
        assert (synced["category"], synced["message"], synced["properties"]) == (
            "inngest.custom",
            "Synced 12 contacts",
            {"entity": "contacts"},
        )
        assert failed["level"] == "error"
        assert failed["exception"] is not None
        assert failed["exception"]["type"] == "ValueError"
        assert log.isEnabledFor(logging.INFO)
