"""Drive an Inngest function through the SDK's real HTTP handler, the way the Inngest executor does.

No Inngest server is needed: the driver POSTs the executor's request body (the event, the memoized
steps, ``ctx`` with the run id and attempt) to the app's serve route — in-process, through Flask's test
client or the app's ASGI interface — memoizes each step reported in a 206 response and posts again
until the function answers 200 (done) or fails for good. A step that raises is retried with
``attempt`` + 1, as the executor does, and ``attempt`` starts again at 0 for the next step. Planned
(parallel) steps are run by requests targeting them; a failed run starts the function's
``on_failure`` handler.

Flask, FastAPI and the SDK are imported only when a run needs them.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import urllib.parse
import uuid
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    import inngest

__all__ = [
    "ExecutorError",
    "ExecutorRequest",
    "Framework",
    "RunResult",
    "drive_function",
    "drive_function_async",
    "new_run_id",
    "serve_functions",
]

Framework = Literal["flask", "fastapi"]

_DEFAULT_SERVE_PATH = "/api/inngest"
# The SDK's default when a function sets no `retries`: four retries after the first attempt.
_DEFAULT_MAX_ATTEMPTS = 5
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_FUNCTION_FAILED = "inngest/function.failed"


class ExecutorError(RuntimeError):
    """The run could not be driven: an unexpected response, an unsupported step, too many requests."""


@dataclass(frozen=True)
class ExecutorRequest:
    """One request the driver sent and what the handler answered."""

    #: The ``stepId`` query parameter: ``"step"``, or the hashed id of the one step the request targets.
    step_id: str
    #: ``ctx.attempt`` sent.
    attempt: int
    #: How many memoized steps the request carried.
    memoized: int
    #: The response's status code (206: a step ran or was planned; 200: done; 500: the function raised).
    status: int
    #: The opcodes reported in a 206 response, in order (``StepRun``, ``StepError``, ``StepPlanned`` …).
    ops: tuple[str, ...] = ()
    #: The reported steps' display names, in the same order.
    step_names: tuple[str, ...] = ()


@dataclass
class RunResult:
    """How a driven run ended."""

    #: The run id sent as ``ctx.run_id``.
    run_id: str
    #: ``completed`` (the function returned) or ``failed`` (it raised on its last attempt).
    status: Literal["completed", "failed"]
    #: The function's return value (JSON-decoded) when completed.
    output: Any = None
    #: The error body the handler returned when failed.
    error: Any = None
    #: Every request sent, in order.
    requests: list[ExecutorRequest] = field(default_factory=list)
    #: The run of the function's ``on_failure`` handler, which the executor starts when a run fails.
    failure_handler: RunResult | None = None


def new_run_id(now: float | None = None) -> str:
    """A new ULID (26 Crockford base-32 characters), the form Inngest gives run and event ids."""
    millis = int((time.time() if now is None else now) * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> shift) & 31] for shift in range(125, -1, -5))


def _event_dict(event: inngest.Event | Mapping[str, Any]) -> dict[str, Any]:
    raw: Mapping[str, Any]
    if isinstance(event, Mapping):
        raw = event
    else:
        raw = {"name": event.name, "data": dict(event.data), "id": event.id, "ts": event.ts}
    if not raw.get("name"):
        raise ValueError("the event needs a name")
    return {
        "name": raw["name"],
        "data": dict(raw.get("data") or {}),
        "id": raw.get("id") or new_run_id(),
        "ts": raw.get("ts") or int(time.time() * 1000),
    }


def _max_attempts(fn: inngest.Function[Any]) -> int:
    retries = getattr(getattr(fn, "_opts", None), "retries", None)
    return _DEFAULT_MAX_ATTEMPTS if retries is None else int(retries) + 1


class _Run:
    """The executor's side of one run: what to send next, and what a response means. No I/O."""

    def __init__(
        self,
        fn_id: str,
        event: dict[str, Any],
        run_id: str,
        max_attempts: int,
        max_requests: int,
        step_stubs: Mapping[str, Any],
    ) -> None:
        self.fn_id = fn_id
        self.event = event
        self.run_id = run_id
        self.max_attempts = max_attempts
        self.max_requests = max_requests
        self.step_stubs = step_stubs
        self.memos: dict[str, Any] = {}
        self.stack: list[str] = []
        self.attempt = 0
        self.planned: deque[str] = deque()
        self.target: str | None = None
        self.disable_immediate_execution = False
        self.requests: list[ExecutorRequest] = []

    def next_request(self) -> tuple[dict[str, str], bytes]:
        """The query parameters and JSON body of the next POST."""
        if len(self.requests) >= self.max_requests:
            raise ExecutorError(f"run {self.run_id} did not finish within {self.max_requests} requests")
        if self.target is None and self.planned:
            self.target = self.planned.popleft()
        body = {
            "ctx": {
                "attempt": self.attempt,
                "disable_immediate_execution": self.disable_immediate_execution,
                "max_attempts": self.max_attempts,
                "run_id": self.run_id,
                "stack": {"stack": list(self.stack)},
            },
            "event": self.event,
            "events": [self.event],
            "steps": dict(self.memos),
            "use_api": False,
        }
        params = {"fnId": self.fn_id, "stepId": self.target or "step"}
        return params, json.dumps(body).encode("utf-8")

    def receive(self, status: int, headers: Mapping[str, str], payload: bytes) -> RunResult | None:
        """Take in a response; the result when the run is over, else None (post again)."""
        try:
            body = json.loads(payload) if payload.strip() else None
        except ValueError:
            raise ExecutorError(
                f"the handler answered {status} with a body that is not JSON: {payload[:300]!r}"
            ) from None
        if status == 201 and isinstance(body, dict) and "status" in body and "body" in body:
            # A streamed response (keepalive spaces, then the real response as JSON).
            status, headers = int(body["status"]), body.get("headers") or {}
            inner = body["body"]
            body = json.loads(inner) if isinstance(inner, str) and inner.strip() else inner
        sent = ExecutorRequest(self.target or "step", self.attempt, len(self.memos), status)
        if status == 200:
            self.requests.append(sent)
            return RunResult(self.run_id, "completed", output=body, requests=self.requests)
        if status == 206 and isinstance(body, list):
            ops = tuple(str(item.get("op")) for item in body)
            names = tuple(str(item.get("displayName") or item.get("name")) for item in body)
            self.requests.append(ExecutorRequest(sent.step_id, sent.attempt, sent.memoized, status, ops, names))
            for item in body:
                self._apply(item)
            return None
        self.requests.append(sent)
        if status == 500:
            no_retry = str(_header(headers, "x-inngest-no-retry")).lower() == "true"
            if no_retry or self.attempt + 1 >= self.max_attempts:
                return RunResult(self.run_id, "failed", error=body, requests=self.requests)
            self.attempt += 1
            return None
        raise ExecutorError(f"the handler answered {status}: {payload[:300]!r}")

    def _apply(self, item: Mapping[str, Any]) -> None:
        op = item.get("op")
        step_id = str(item.get("id"))
        name = str(item.get("displayName") or item.get("name"))
        if op == "StepRun":
            self._memoize(step_id, {"data": item.get("data")})
        elif op == "StepError":
            # Retried: same memoized steps, next attempt; a targeted step stays targeted.
            self.attempt += 1
        elif op == "StepFailed":
            self._memoize(step_id, {"error": item.get("error")})
        elif op == "StepPlanned":
            self.planned.append(step_id)
            self.disable_immediate_execution = True
            if self.target == step_id:
                self.target = None
        elif op == "Sleep":
            self._memoize(step_id, None)
        elif op == "WaitForEvent":
            # Without a stub the wait times out, which the executor reports as null.
            self._memoize(step_id, self.step_stubs.get(name))
        elif op == "InvokeFunction":
            if name not in self.step_stubs:
                raise ExecutorError(f"step {name!r} invokes another function: give its result in step_stubs")
            self._memoize(step_id, {"data": self.step_stubs[name]})
        else:
            raise ExecutorError(f"step {name!r} has opcode {op!r}, which the driver does not support")

    def _memoize(self, step_id: str, value: Any) -> None:
        self.memos[step_id] = value
        self.stack.append(step_id)
        self.attempt = 0
        if self.target == step_id:
            self.target = None


def _failure_run(fn: inngest.Function[Any], run: _Run, result: RunResult) -> _Run | None:
    """The run of ``fn``'s failure handler after ``result`` failed, as the executor starts it."""
    handler_id = fn.on_failure_fn_id
    if result.status != "failed" or handler_id is None:
        return None
    event = _event_dict(
        {
            "name": _FUNCTION_FAILED,
            "data": {"error": result.error, "event": run.event, "function_id": fn.id, "run_id": run.run_id},
        }
    )
    # Failure handlers are not retried.
    return _Run(handler_id, event, new_run_id(), 1, run.max_requests, run.step_stubs)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def serve_functions(
    client: inngest.Inngest,
    functions: list[inngest.Function[Any]],
    *,
    framework: Framework = "flask",
    serve_path: str | None = None,
) -> Any:
    """A new Flask or FastAPI app serving ``functions`` with the SDK's own ``serve()``."""
    if framework == "flask":
        import flask
        import inngest.flask

        flask_app = flask.Flask("inngest_functions")
        inngest.flask.serve(flask_app, client, functions, serve_path=serve_path)
        return flask_app
    if framework == "fastapi":
        import fastapi
        import inngest.fast_api

        fastapi_app = fastapi.FastAPI()
        inngest.fast_api.serve(fastapi_app, client, functions, serve_path=serve_path)
        return fastapi_app
    raise ValueError(f"framework={framework!r} is not supported: expected 'flask' or 'fastapi'")


def _resolve_app(target: Any, fn: inngest.Function[Any], framework: Framework, serve_path: str | None) -> Any:
    import inngest

    if isinstance(target, inngest.Inngest):
        return serve_functions(target, [fn], framework=framework, serve_path=serve_path)
    return target


def _headers(body: bytes, signing_key: str | None) -> dict[str, str]:
    headers = {
        "content-type": "application/json",
        "user-agent": "otel-revops-test-executor",
        "x-request-id": uuid.uuid4().hex,
        "x-inngest-server-kind": "cloud" if signing_key else "dev",
    }
    if signing_key:
        from inngest._internal import net

        signature = net.sign_request(body, signing_key)
        if isinstance(signature, Exception):
            raise signature
        headers["x-inngest-signature"] = signature
    return headers


def _new_run(
    fn: inngest.Function[Any],
    event: inngest.Event | Mapping[str, Any],
    run_id: str | None,
    max_attempts: int | None,
    max_requests: int,
    step_stubs: Mapping[str, Any] | None,
) -> _Run:
    return _Run(
        fn.id,
        _event_dict(event),
        run_id or new_run_id(),
        max_attempts or _max_attempts(fn),
        max_requests,
        step_stubs or {},
    )


def drive_function(
    target: Any,
    fn: inngest.Function[Any],
    event: inngest.Event | Mapping[str, Any],
    *,
    framework: Framework = "flask",
    run_id: str | None = None,
    max_attempts: int | None = None,
    max_requests: int = 50,
    step_stubs: Mapping[str, Any] | None = None,
    serve_path: str | None = None,
    signing_key: str | None = None,
) -> RunResult:
    """Run ``fn`` for ``event`` to the end through the real HTTP handler; returns how it ended.

    ``target`` is an app already serving ``fn`` (Flask, or any ASGI app such as FastAPI), or an
    ``inngest.Inngest`` client, which is then served on a new ``framework`` app. ``max_attempts``
    defaults to the function's ``retries`` + 1. ``step_stubs`` gives, by step name, the result of
    ``step.invoke`` steps and the event a ``step.wait_for_event`` receives (else it times out).
    ``signing_key`` signs each request, for clients in production mode.
    Inside a running event loop use :func:`drive_function_async`.
    """
    app = _resolve_app(target, fn, framework, serve_path)
    run = _new_run(fn, event, run_id, max_attempts, max_requests, step_stubs)
    path = serve_path or os.environ.get("INNGEST_SERVE_PATH") or _DEFAULT_SERVE_PATH
    if hasattr(app, "test_client"):
        return _drive_wsgi(app, fn, run, path, signing_key)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(_drive_asgi(app, fn, run, path, signing_key))
    raise ExecutorError("drive_function() was called inside a running event loop: await drive_function_async()")


async def drive_function_async(
    target: Any,
    fn: inngest.Function[Any],
    event: inngest.Event | Mapping[str, Any],
    *,
    framework: Framework = "fastapi",
    run_id: str | None = None,
    max_attempts: int | None = None,
    max_requests: int = 50,
    step_stubs: Mapping[str, Any] | None = None,
    serve_path: str | None = None,
    signing_key: str | None = None,
) -> RunResult:
    """:func:`drive_function` for async code: ASGI apps are driven on the running loop, so several
    runs gathered together interleave as concurrent requests do; Flask apps on a worker thread."""
    app = _resolve_app(target, fn, framework, serve_path)
    run = _new_run(fn, event, run_id, max_attempts, max_requests, step_stubs)
    path = serve_path or os.environ.get("INNGEST_SERVE_PATH") or _DEFAULT_SERVE_PATH
    if hasattr(app, "test_client"):
        return await asyncio.to_thread(_drive_wsgi, app, fn, run, path, signing_key)
    return await _drive_asgi(app, fn, run, path, signing_key)


def _drive_wsgi(app: Any, fn: inngest.Function[Any], run: _Run, path: str, signing_key: str | None) -> RunResult:
    client = app.test_client()

    def drive(current: _Run) -> RunResult:
        while True:
            params, body = current.next_request()
            headers = _headers(body, signing_key)
            response = client.post(path, query_string=params, data=body, headers=headers)
            result = current.receive(response.status_code, dict(response.headers), response.get_data())
            if result is not None:
                return result

    result = drive(run)
    failure = _failure_run(fn, run, result)
    if failure is not None:
        result.failure_handler = drive(failure)
    return result


async def _drive_asgi(app: Any, fn: inngest.Function[Any], run: _Run, path: str, signing_key: str | None) -> RunResult:
    async def drive(current: _Run) -> RunResult:
        while True:
            params, body = current.next_request()
            status, headers, payload = await _asgi_post(app, path, params, body, _headers(body, signing_key))
            result = current.receive(status, headers, payload)
            if result is not None:
                return result

    result = await drive(run)
    failure = _failure_run(fn, run, result)
    if failure is not None:
        result.failure_handler = await drive(failure)
    return result


async def _asgi_post(
    app: Any, path: str, params: Mapping[str, str], body: bytes, headers: Mapping[str, str]
) -> tuple[int, dict[str, str], bytes]:
    """One POST through the app's ASGI interface, as a server would make it (no HTTP client, so no
    client library logs a line per request into the logs under test)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": urllib.parse.urlencode(params).encode("ascii"),
        "headers": [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
    }
    delivered = False
    finished = asyncio.Event()
    status = 0
    response_headers: dict[str, str] = {}
    chunks: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await finished.wait()
        return {"type": "http.disconnect"}

    async def send(message: Mapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = int(message["status"])
            for key, value in message.get("headers", []):
                response_headers[key.decode("latin-1")] = value.decode("latin-1")
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))
            if not message.get("more_body", False):
                finished.set()

    try:
        await app(scope, receive, send)
    finally:
        finished.set()
    return status, response_headers, b"".join(chunks)
