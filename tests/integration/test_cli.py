"""The ``otel-revops`` command, run for real (``python -m otel_revops``) against SecantusDB.

Databases are seeded with documents in the shapes the MongoDB exporter stores, or filled by logging
through the pipeline itself; each test reads what a user would read on the terminal.
"""

from __future__ import annotations

import collections
import contextlib
import io
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId
from pymongo.database import Database

import otel_revops
from tests.support.mongo_server import free_port
from tests.support.otlp_receiver import OTLPReceiver
from tests.support.waiting import wait_for

REPO_ROOT = Path(__file__).resolve().parents[2]
SEVERITY = {"debug": 5, "info": 9, "warning": 13, "error": 17, "critical": 21}
HUBSPOT_RUN = ObjectId("65a4f3b2c1d2e3f4a5b6c7d9")
NIGHTLY_RUN = "nightly-2026-01-15"
T0 = datetime(2026, 1, 15, 10, 30, 45, 123000, tzinfo=timezone.utc)

Document = dict[str, Any]
Cli = Callable[..., subprocess.CompletedProcess[str]]
log = logging.getLogger("revops.sync")


def cli_env(uri: str, database: str, **extra: str) -> dict[str, str]:
    """The environment of a user who set the MongoDB URI and database, without stray OTEL_*/colour settings."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("OTEL_") and name not in ("MONGODB_URI", "NO_COLOR", "FORCE_COLOR", "COLUMNS")
    }
    env.update(OTEL_REVOPS_MONGODB_URI=uri, OTEL_REVOPS_MONGODB_DATABASE=database, PYTHONIOENCODING="utf-8")
    env.update(extra)
    return env


def command(*args: str) -> list[str]:
    """The command line of ``otel-revops ARGS`` in this interpreter."""
    return [sys.executable, "-m", "otel_revops", *args]


@pytest.fixture
def env(mongo_uri: str, mongo_db_name: str) -> dict[str, str]:
    """The command's environment, pointed at the test's own database."""
    return cli_env(mongo_uri, mongo_db_name)


@pytest.fixture
def cli(env: dict[str, str]) -> Cli:
    """Runs ``otel-revops ARGS`` to completion and returns its result (``env_extra=`` adds variables)."""

    def run(*args: str, env_extra: dict[str, str] | None = None, cwd: Path = REPO_ROOT) -> Any:
        return subprocess.run(
            command(*args),
            env={**env, **(env_extra or {})},
            cwd=cwd,
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=60,
            check=False,
        )

    return run


def history(execution: Any, job: str, at: datetime, level: str, message: str, **properties: Any) -> Document:
    """A history document as the exporter stores it (``executionId`` = the execution document's ``_id``)."""
    category = properties.pop("category", "revops.sync")
    metadata = {"jobId": job, "executionId": str(execution), **properties, "category": category}
    return {
        "_id": ObjectId(),
        "executionId": execution,
        "jobId": job,
        "timestamp": at,
        "level": level,
        "severityNumber": SEVERITY[level],
        "message": message,
        "category": category,
        "metadata": metadata,
        "service": "revops-sync",
    }


def entry(document: Document) -> Document:
    """The embedded ``logs`` entry for a history document."""
    return {key: document[key] for key in ("timestamp", "level", "message", "metadata")}


def execution_doc(key: Any, job: str, heartbeat: datetime | None, entries: list[Document], **fields: Any) -> Document:
    """An execution document as the application and the exporter leave it."""
    document: Document = {"_id": key, "jobId": job, "logs": entries, "logCount": len(entries), **fields}
    if heartbeat is not None:
        document["lastHeartbeat"] = heartbeat
    return document


def seed(db: Database[Document], records: list[Document], executions: list[Document]) -> None:
    """Store history records and execution documents."""
    if records:
        db.execution_logs.insert_many(records)
    if executions:
        db.job_executions.insert_many(executions)


def hubspot_run(db: Database[Document]) -> list[Document]:
    """One finished HubSpot sync (fixed times in the past) and one nightly run under a plain string id."""
    records = [
        history(HUBSPOT_RUN, "sync-hubspot", T0, "info", "Sync started", entity="contacts"),
        history(HUBSPOT_RUN, "sync-hubspot", T0 + timedelta(seconds=1), "warning", "Rate limited (429), backing off"),
        history(
            HUBSPOT_RUN,
            "sync-hubspot",
            T0 + timedelta(seconds=2),
            "error",
            "Failed to upsert contact 42",
            category="hubspot.api",
            contact={"id": 42, "email": "ana@example.com"},
        ),
        history(HUBSPOT_RUN, "sync-hubspot", T0 + timedelta(seconds=3), "info", "Sync finished"),
        history(NIGHTLY_RUN, "sync-salesforce", T0, "info", "Nightly started"),
    ]
    seed(
        db,
        records,
        [
            execution_doc(HUBSPOT_RUN, "sync-hubspot", T0 + timedelta(seconds=3), [entry(r) for r in records[:4]]),
            execution_doc(NIGHTLY_RUN, "sync-salesforce", T0, [entry(records[4])]),
        ],
    )
    return records


class TestLogs:
    def test_prints_the_history_in_the_console_format(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """The records of one execution, oldest first, exactly in the pretty console format."""
        hubspot_run(mongo_db)
        result = cli("logs", str(HUBSPOT_RUN))
        assert result.returncode == 0, result.stderr
        assert result.stdout == (
            "ℹ️ [2026-01-15T10:30:45.123Z] INFO    revops.sync: Sync started\n"
            "   Properties: {\n"
            '     "jobId": "sync-hubspot",\n'
            '     "executionId": "65a4f3b2c1d2e3f4a5b6c7d9",\n'
            '     "entity": "contacts"\n'
            "   }\n"
            "\n"
            "⚠️ [2026-01-15T10:30:46.123Z] WARNING revops.sync: Rate limited (429), backing off\n"
            "   Properties: {\n"
            '     "jobId": "sync-hubspot",\n'
            '     "executionId": "65a4f3b2c1d2e3f4a5b6c7d9"\n'
            "   }\n"
            "\n"
            "❌ [2026-01-15T10:30:47.123Z] ERROR   hubspot.api: Failed to upsert contact 42\n"
            "   Properties: {\n"
            '     "jobId": "sync-hubspot",\n'
            '     "executionId": "65a4f3b2c1d2e3f4a5b6c7d9",\n'
            '     "contact": {\n'
            '       "id": 42,\n'
            '       "email": "ana@example.com"\n'
            "     }\n"
            "   }\n"
            "\n"
            "ℹ️ [2026-01-15T10:30:48.123Z] INFO    revops.sync: Sync finished\n"
            "   Properties: {\n"
            '     "jobId": "sync-hubspot",\n'
            '     "executionId": "65a4f3b2c1d2e3f4a5b6c7d9"\n'
            "   }\n"
            "\n"
        )

    def test_json_lines(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """--json prints one JSON object per record, as the console's json mode does."""
        hubspot_run(mongo_db)
        result = cli("logs", str(HUBSPOT_RUN), "--json")
        lines = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(line["time"], line["level"], line["category"], line["message"]) for line in lines] == [
            ("2026-01-15T10:30:45.123Z", "info", "revops.sync", "Sync started"),
            ("2026-01-15T10:30:46.123Z", "warning", "revops.sync", "Rate limited (429), backing off"),
            ("2026-01-15T10:30:47.123Z", "error", "hubspot.api", "Failed to upsert contact 42"),
            ("2026-01-15T10:30:48.123Z", "info", "revops.sync", "Sync finished"),
        ]
        assert lines[2]["properties"]["contact"] == {"id": 42, "email": "ana@example.com"}

    def test_level_grep_and_last_filter(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """--level keeps that level and above; --grep matches text literally in any case; --last keeps the newest."""
        hubspot_run(mongo_db)

        def messages(*options: str) -> list[str]:
            result = cli("logs", str(HUBSPOT_RUN), "--json", *options)
            assert result.returncode == 0, result.stderr
            return [json.loads(line)["message"] for line in result.stdout.splitlines()]

        assert messages("--level", "warning") == ["Rate limited (429), backing off", "Failed to upsert contact 42"]
        assert messages("--level", "ERROR") == ["Failed to upsert contact 42"]
        assert messages("--grep", "(429)") == ["Rate limited (429), backing off"]
        assert messages("--grep", "SYNC") == ["Sync started", "Sync finished"]
        assert messages("--last", "2") == ["Failed to upsert contact 42", "Sync finished"]

    def test_since_keeps_recent_records(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """--since 1h leaves out records older than an hour."""
        now = datetime.now(timezone.utc)
        seed(
            mongo_db,
            [
                history(NIGHTLY_RUN, "sync-sf", now - timedelta(hours=2), "info", "two hours ago"),
                history(NIGHTLY_RUN, "sync-sf", now - timedelta(minutes=30), "info", "half an hour ago"),
            ],
            [],
        )
        result = cli("logs", NIGHTLY_RUN, "--since", "1h")
        assert "half an hour ago" in result.stdout
        assert "two hours ago" not in result.stdout

    def test_plain_string_and_upper_case_ids(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """A string execution id works as is; a 24-hex id in upper case finds the ObjectId."""
        hubspot_run(mongo_db)
        assert "Nightly started" in cli("logs", NIGHTLY_RUN).stdout
        assert cli("logs", str(HUBSPOT_RUN).upper()).stdout.count("\n\n") == 4

    def test_unknown_execution_exits_1_with_one_line(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """An id with neither history nor execution document: exit 1, one line naming where it looked."""
        hubspot_run(mongo_db)
        result = cli("logs", "no-such-run")
        assert result.returncode == 1
        assert result.stdout == ""
        assert result.stderr == (
            f"otel-revops: error: no execution 'no-such-run' in {mongo_db.name}.execution_logs "
            f"or {mongo_db.name}.job_executions\n"
        )

    def test_known_execution_without_matching_records_exits_0(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """Filters that match nothing are not an error: exit 0 and a note."""
        hubspot_run(mongo_db)
        result = cli("logs", str(HUBSPOT_RUN), "--level", "critical")
        assert (result.returncode, result.stdout) == (0, "")
        assert "no records match" in result.stderr

    def test_bad_duration_exits_2_with_one_line(self, cli: Cli) -> None:
        """A bad --since is bad usage: exit 2, one line."""
        result = cli("logs", str(HUBSPOT_RUN), "--since", "yesterday")
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1
        assert "'yesterday' is not a duration" in result.stderr

    def test_same_bytes_as_the_live_console(self, cli: Cli, mongo_uri: str, mongo_db: Database[Document]) -> None:
        """Logged through configure_logging(mongodb_uri=…), the command prints what the console printed, byte for byte."""
        console = io.StringIO()
        pipeline = otel_revops.configure_logging(
            mongodb_uri=mongo_uri,
            mongodb_database=mongo_db.name,
            mongodb_upsert=True,
            console_stream=console,
            console_colors="never",
        )
        with otel_revops.execution_context(job_id="sync-hubspot", execution_id=str(HUBSPOT_RUN), attempt=1):
            log.info("Synced %d contacts", 12, extra={"entity": "contacts", "stats": {"created": 3, "updated": 9}})
            log.warning("Rate limited — retrying in %.1fs", 1.5)
            try:
                raise TimeoutError("HubSpot did not answer")
            except TimeoutError:
                log.exception("Batch failed")
        assert pipeline.force_flush(10_000)
        otel_revops.shutdown_logging()

        result = cli("logs", str(HUBSPOT_RUN))
        assert result.returncode == 0, result.stderr
        assert "Traceback (most recent call last)" in result.stdout
        assert result.stdout == console.getvalue()
        json_result = cli("logs", str(HUBSPOT_RUN), "--json")
        assert [json.loads(line)["message"] for line in json_result.stdout.splitlines()] == [
            "Synced 12 contacts",
            "Rate limited — retrying in 1.5s",
            "Batch failed",
        ]


class OutputReader:
    """Reads a running process's standard output (or ``stream``) on a thread, so a test can wait for text
    with a deadline."""

    def __init__(self, process: subprocess.Popen[str], stream: Any = None) -> None:
        self._lines: queue.Queue[str] = queue.Queue()
        self.text = ""
        stream = stream if stream is not None else process.stdout
        assert stream is not None
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: Any) -> None:
        for line in stream:
            self._lines.put(line)

    def _drain(self) -> str:
        while True:
            try:
                self.text += self._lines.get_nowait()
            except queue.Empty:
                return self.text

    def read(self) -> str:
        """Everything printed so far."""
        return self._drain()

    def join(self, timeout: float) -> None:
        """Wait for the process's output to end (it has exited or been killed)."""
        self._thread.join(timeout)

    def wait_for(self, text: str, timeout: float = 20.0) -> None:
        """Wait until ``text`` has been printed."""
        wait_for(lambda: text in self._drain(), timeout=timeout, message=f"{text!r} never printed")


@pytest.fixture
def follow(env: dict[str, str]) -> Iterator[Callable[..., tuple[subprocess.Popen[str], OutputReader]]]:
    """Starts ``otel-revops logs … --follow``; whatever is still running at the end is killed (by its PID)."""
    started: list[tuple[subprocess.Popen[str], OutputReader]] = []

    def start(*args: str) -> tuple[subprocess.Popen[str], OutputReader]:
        process = subprocess.Popen(
            command("logs", *args, "--follow", "--interval", "0.1"),
            env=env,
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        reader = OutputReader(process)
        started.append((process, reader))
        return process, reader

    yield start
    for process, reader in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        reader.join(timeout=10)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


class TestFollow:
    def test_prints_a_record_logged_after_it_started(
        self,
        follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]],
        mongo_uri: str,
        mongo_db: Database[Document],
    ) -> None:
        """A record logged through the pipeline while following appears; Ctrl-C ends it with exit code 0."""
        pipeline = otel_revops.configure_logging(
            mongodb_uri=mongo_uri, mongodb_database=mongo_db.name, mongodb_upsert=True, console="none"
        )
        with otel_revops.execution_context(job_id="sync-hubspot", execution_id=str(HUBSPOT_RUN)):
            log.info("Before following")
            assert pipeline.force_flush(10_000)
            process, output = follow(str(HUBSPOT_RUN), "--stale", "1m")
            output.wait_for("Before following")
            log.info("Logged while following")
            assert pipeline.force_flush(10_000)
            output.wait_for("Logged while following")
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        assert output.text.count("Before following") == 1
        assert output.text.count("Logged while following") == 1

    def test_ends_by_itself_when_the_heartbeat_goes_stale(
        self, follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]], mongo_db: Database[Document]
    ) -> None:
        """Following a running execution that stops beating ends, exit 0, once --stale has passed."""
        now = datetime.now(timezone.utc)
        record = history(NIGHTLY_RUN, "sync-sf", now, "info", "Still running")
        seed(mongo_db, [record], [execution_doc(NIGHTLY_RUN, "sync-sf", now, [entry(record)])])
        process, output = follow(NIGHTLY_RUN, "--stale", "2s")
        output.wait_for("Still running")
        started = time.monotonic()
        assert process.wait(timeout=20) == 0
        assert process.stderr is not None
        assert "longer than --stale 2s: stopped following" in process.stderr.read()
        assert time.monotonic() - started < 15

    def test_stops_at_once_for_an_execution_already_stale(
        self, follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]], mongo_db: Database[Document]
    ) -> None:
        """An execution silent for longer than --stale is printed, then following stops straight away."""
        hubspot_run(mongo_db)
        process, output = follow(str(HUBSPOT_RUN))
        assert process.wait(timeout=20) == 0
        output.wait_for("Sync finished")

    def test_last_n_then_only_new_records(
        self, follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]], mongo_db: Database[Document]
    ) -> None:
        """--follow --last 3 prints the newest three, then only records stored after it started, once each."""
        now = datetime.now(timezone.utc)
        records = [
            history(NIGHTLY_RUN, "sync-sf", now - timedelta(seconds=30 - i), "info", f"step {i:02d}") for i in range(10)
        ]
        seed(mongo_db, records, [execution_doc(NIGHTLY_RUN, "sync-sf", now, [entry(r) for r in records])])
        process, output = follow(NIGHTLY_RUN, "--last", "3", "--stale", "1m")
        output.wait_for("step 09")
        late = history(NIGHTLY_RUN, "sync-sf", datetime.now(timezone.utc), "info", "step 10")
        mongo_db.execution_logs.insert_one(late)
        output.wait_for("step 10")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        printed = [line.split(": ", 1)[1] for line in output.text.splitlines() if "sync-sf" not in line and ": step" in line]
        assert printed == ["step 07", "step 08", "step 09", "step 10"]

    def test_a_finished_execution_is_printed_and_ends_at_once(
        self, follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]], mongo_db: Database[Document]
    ) -> None:
        """Following an execution whose document says it finished prints what is stored and exits 0, as
        kubectl logs -f does for a finished pod — however fresh its heartbeat."""
        now = datetime.now(timezone.utc)
        record = history(NIGHTLY_RUN, "sync-sf", now, "info", "All done")
        seed(mongo_db, [record], [execution_doc(NIGHTLY_RUN, "sync-sf", now, [entry(record)], status="completed")])
        process, output = follow(NIGHTLY_RUN, "--stale", "10m")
        assert process.wait(timeout=20) == 0
        output.join(timeout=10)
        output.wait_for("All done")
        assert output.text.count("All done") == 1
        assert process.stderr is not None
        assert f"execution {NIGHTLY_RUN} is completed: stopped following" in process.stderr.read()

    def test_waits_for_an_execution_not_logged_yet(
        self, follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]], mongo_db: Database[Document]
    ) -> None:
        """An id with no record yet is waited for (up to --stale), then followed."""
        process, output = follow("run-not-started-yet", "--stale", "1m")
        OutputReader(process, process.stderr).wait_for("waiting for execution run-not-started-yet")
        now = datetime.now(timezone.utc)
        record = history("run-not-started-yet", "sync-sf", now, "info", "First record of the run")
        seed(mongo_db, [record], [execution_doc("run-not-started-yet", "sync-sf", now, [entry(record)])])
        output.wait_for("First record of the run")
        assert process.poll() is None
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0

    def test_an_execution_that_never_appears_fails_after_stale(
        self, follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]]
    ) -> None:
        """Still nothing once --stale has passed: exit 1, saying how long it waited."""
        process, _output = follow("never-logged", "--stale", "1s")
        assert process.wait(timeout=20) == 1
        assert process.stderr is not None
        assert "no execution 'never-logged'" in (error := process.stderr.read()) and "waited --stale 1s" in error

    def test_ctrl_c_always_exits_0_without_a_traceback(
        self, follow: Callable[..., tuple[subprocess.Popen[str], OutputReader]], mongo_db: Database[Document]
    ) -> None:
        """SIGINT at each stage of following — waiting for the execution to appear, just after its first
        records, between later polls — ends it with exit code 0 and nothing on standard error but notes."""
        results = []
        for attempt in range(9):
            execution = f"run-{attempt}"
            process, output = follow(execution, "--stale", "1m")
            notes = OutputReader(process, process.stderr)
            notes.wait_for(f"waiting for execution {execution}")
            stage = attempt % 3
            if stage > 0:
                now = datetime.now(timezone.utc)
                first = history(execution, "sync-sf", now, "info", "Running")
                seed(mongo_db, [first], [execution_doc(execution, "sync-sf", now + timedelta(hours=1), [entry(first)])])
                output.wait_for("Running")
            if stage > 1:
                later = history(execution, "sync-sf", datetime.now(timezone.utc), "info", "Later poll")
                mongo_db.execution_logs.insert_one(later)
                output.wait_for("Later poll")
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=10)
            notes.join(timeout=10)
            results.append((stage, code, "Traceback" in notes.read()))
        assert results == [(attempt % 3, 0, False) for attempt in range(9)]

def recent_executions(db: Database[Document]) -> dict[str, Any]:
    """Four executions: live, silent for 10 minutes, finished long ago, and live under a string id."""
    now = datetime.now(timezone.utc)
    live, silent, finished = ObjectId(), ObjectId(), ObjectId()
    records = [
        history(live, "sync-hubspot", now - timedelta(minutes=3), "info", "Sync started"),
        history(live, "sync-hubspot", now - timedelta(minutes=2), "error", "Failed to upsert contact 42"),
        history(live, "sync-hubspot", now - timedelta(minutes=1), "error", "Failed to upsert contact 43"),
        history(silent, "sync-hubspot", now - timedelta(minutes=30), "info", "Sync started"),
        history(finished, "sync-salesforce", now - timedelta(hours=3), "info", "Done"),
        history(NIGHTLY_RUN, "sync-salesforce", now - timedelta(seconds=20), "info", "Nightly"),
    ]
    seed(
        db,
        records,
        [
            execution_doc(live, "sync-hubspot", now - timedelta(seconds=10), [entry(r) for r in records[:3]]),
            execution_doc(silent, "sync-hubspot", now - timedelta(minutes=10), [entry(records[3])], status="running"),
            execution_doc(
                finished, "sync-salesforce", now - timedelta(hours=2), [entry(records[4])], status="completed"
            ),
            execution_doc(NIGHTLY_RUN, "sync-salesforce", now - timedelta(seconds=20), [entry(records[5])]),
        ],
    )
    return {"live": str(live), "silent": str(silent), "finished": str(finished), "nightly": NIGHTLY_RUN}


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The executions table keyed by execution id, each row split into its cells."""
    return {line.split()[0]: line.split() for line in stdout.splitlines()[1:] if line.strip() and " " in line.strip()}


class TestExecutions:
    def test_long_ids_are_never_cut_and_no_line_ends_in_spaces(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """At 80 columns (not a terminal) a 70-character execution id is printed whole, lines are not padded."""
        now = datetime.now(timezone.utc)
        long_id = "nightly-salesforce-opportunities-sync-2026-12-04T10:00:00Z-attempt-3"
        record = history(long_id, "sync-salesforce-opportunities-nightly", now, "info", "Started")
        seed(mongo_db, [record], [execution_doc(long_id, "sync-salesforce-opportunities-nightly", now, [entry(record)])])
        result = cli("executions")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert any(line.startswith(long_id + " ") for line in lines), result.stdout
        assert "sync-salesforce-opportunities-nightly" in result.stdout
        assert [line for line in lines if line != line.rstrip()] == []

    def test_lists_recent_executions_and_flags_the_stale_one(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """Newest heartbeat first, with job, counts and ages; only the running one silent for 10m is STALE."""
        ids = recent_executions(mongo_db)
        result = cli("executions", "--stale", "5m")
        assert result.returncode == 0, result.stderr
        lines = result.stdout.splitlines()
        assert lines[0].split() == [
            "EXECUTION",
            "JOB",
            "STATUS",
            "FIRST",
            "LOG",
            "LAST",
            "HEARTBEAT",
            "AGE",
            "LOGS",
            "WARNINGS",
            "ERRORS",
        ]
        order = [line.split()[0] for line in lines[1:5]]
        assert order == [ids["live"], ids["nightly"], ids["silent"], ids["finished"]]
        rows = table_rows(result.stdout)
        # execution, job, status, first-log date and time, heartbeat date and time, age (1-2 words), logs,
        # warnings, errors, flag
        assert rows[ids["live"]][1:3] == ["sync-hubspot", "—"]
        assert rows[ids["live"]][-3:] == ["3", "0", "2"]
        assert rows[ids["silent"]][-4:] == ["1", "0", "0", "STALE"]
        assert rows[ids["silent"]][2] == "running"
        assert rows[ids["finished"]][2] == "completed"
        assert "STALE" not in rows[ids["finished"]]
        assert "STALE" not in rows[ids["live"]]
        assert lines[-1] == "1 of 4 executions stale: no heartbeat for more than 5m"

    def test_job_filter_limit_and_json(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """--job keeps one job's executions, --limit the newest N, --json gives machine-readable rows."""
        ids = recent_executions(mongo_db)
        result = cli("executions", "--job", "sync-hubspot", "--json", "--stale", "5m")
        rows = [json.loads(line) for line in result.stdout.splitlines()]
        assert [(r["executionId"], r["logCount"], r["errorCount"], r["stale"]) for r in rows] == [
            (ids["live"], 3, 2, False),
            (ids["silent"], 1, 0, True),
        ]
        assert 590 <= rows[1]["ageSeconds"] <= 660
        limited = cli("executions", "--limit", "1", "--json")
        assert [json.loads(line)["executionId"] for line in limited.stdout.splitlines()] == [ids["live"]]

    def test_the_exporters_summary_is_shown_and_matches_the_history(
        self, cli: Cli, mongo_uri: str, mongo_db: Database[Document]
    ) -> None:
        """Records logged through the pipeline: the execution document's ``levelCounts`` and ``firstLogAt``
        equal the history's counts per level and its first record, and the command shows them."""
        execution_id = ObjectId()
        mongo_db["job_executions"].insert_one({"_id": execution_id, "jobId": "sync-hubspot", "status": "running"})
        otel_revops.configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db.name, console="none")
        log = otel_revops.get_execution_logger("sync-hubspot", str(execution_id))
        for n in range(7):
            log.info("Synced page", page=n)
        log.warning("Slow page")
        with otel_revops.execution_context(job_id="sync-hubspot", execution_id=str(execution_id)):
            with contextlib.suppress(ValueError), otel_revops.timed("Upserted contacts"):
                raise ValueError("bad row")
        log.error("Failed to upsert contact 42")
        log.critical("Token expired")
        assert otel_revops.force_flush(10_000)
        otel_revops.shutdown_logging()

        history = list(mongo_db["execution_logs"].find({"executionId": execution_id}))
        from_history = collections.Counter(doc["level"] for doc in history)
        assert from_history == {"info": 7, "warning": 2, "error": 1, "critical": 1}
        document = mongo_db["job_executions"].find_one({"_id": execution_id})
        assert document is not None
        assert document["levelCounts"] == from_history
        assert document["firstLogAt"] == min(doc["timestamp"] for doc in history)

        (row,) = [json.loads(line) for line in cli("executions", "--json").stdout.splitlines()]
        assert (row["levelCounts"], row["logCount"], row["errorCount"]) == (from_history, 11, 2)
        assert row["firstLog"] == document["firstLogAt"].isoformat() + "Z"
        timed_block = next(doc for doc in history if doc["message"] == "Upserted contacts")
        assert (timed_block["metadata"]["outcome"], timed_block["metadata"]["errorType"]) == ("error", "ValueError")
        assert isinstance(timed_block["metadata"]["durationMs"], float)
        assert any(entry["metadata"].get("durationMs") is not None for entry in document["logs"])
        table = table_rows(cli("executions").stdout)
        assert table[str(execution_id)][-3:] == ["11", "2", "2"]

    def test_stale_threshold_is_an_option(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """With --stale 1h the execution silent for 10 minutes is no longer flagged."""
        recent_executions(mongo_db)
        result = cli("executions", "--stale", "1h")
        assert "STALE" not in result.stdout

    def test_without_execution_documents_the_history_is_listed(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """When the application keeps no execution documents, executions are found in the history."""
        now = datetime.now(timezone.utc)
        seed(mongo_db, [history("run-1", "sync-sf", now - timedelta(minutes=20), "error", "Boom")], [])
        result = cli("executions", "--json")
        (row,) = [json.loads(line) for line in result.stdout.splitlines()]
        assert (row["executionId"], row["jobId"], row["lastHeartbeat"], row["errorCount"], row["stale"]) == (
            "run-1",
            "sync-sf",
            None,
            1,
            True,
        )
        assert "no execution documents" in result.stderr

    def test_unreachable_server_exits_1_with_one_line(self, cli: Cli) -> None:
        """A server that is not there: exit 1, one line with the address and what to check."""
        uri = f"mongodb://127.0.0.1:{free_port()}/"
        result = cli("--uri", uri, "--timeout", "0.5", "executions")
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert result.stderr.startswith(f"otel-revops: error: cannot reach MongoDB at {uri}: ")
        assert "otel-revops doctor" in result.stderr


    def test_dotted_keys_are_nested_queryable_and_printed_as_logged(
        self, cli: Cli, mongo_uri: str, mongo_db: Database[Document]
    ) -> None:
        """``inngest.run_id`` is stored as ``metadata.inngest.run_id`` (found by a query on that path, in the
        history and in the execution's ``logs``); a key that is a leaf and a parent (``a``, ``a.b``) keeps both;
        the command prints the console's bytes, key order included, and ``--json`` the keys as logged."""
        console = io.StringIO()
        otel_revops.configure_logging(
            mongodb_uri=mongo_uri,
            mongodb_database=mongo_db.name,
            mongodb_upsert=True,
            console_stream=console,
            console_colors="never",
        )
        with otel_revops.execution_context(execution_id=str(HUBSPOT_RUN), job_id="sync-hubspot"):
            log.info(
                "Run step",
                extra={"inngest.run_id": "run-7", "zeta": 1, "inngest.attempt": 2, "a": 1, "a.b": 2, "x..y": 3},
            )
            otel_revops.get_execution_logger("sync-hubspot", str(HUBSPOT_RUN)).info("Chunk", {"entity": "contacts"})
        assert otel_revops.force_flush(10_000)
        otel_revops.shutdown_logging()

        step = mongo_db["execution_logs"].find_one({"metadata.inngest.run_id": "run-7"})
        assert step is not None
        assert step["metadata"]["inngest"] == {"run_id": "run-7", "attempt": 2}
        assert (step["metadata"]["a"], step["metadata"]["a\uff0eb"], step["metadata"]["x\uff0e\uff0ey"]) == (1, 2, 3)
        assert mongo_db["job_executions"].count_documents({"logs.metadata.inngest.run_id": "run-7"}) == 1
        result = cli("logs", str(HUBSPOT_RUN))
        assert result.returncode == 0, result.stderr
        assert result.stdout == console.getvalue()
        first, chunk = (json.loads(line) for line in cli("logs", str(HUBSPOT_RUN), "--json").stdout.splitlines())
        assert list(first["properties"]) == [
            "jobId", "executionId", "inngest.run_id", "zeta", "inngest.attempt", "a", "a.b", "x..y"
        ]  # fmt: skip
        assert first["properties"]["inngest.run_id"] == "run-7"
        assert (chunk["category"], chunk["properties"]["entity"]) == (f"inngest.execution.sync-hubspot.{HUBSPOT_RUN}", "contacts")


class TestStats:
    def test_execution_categories_are_one_row(self, cli: Cli, mongo_uri: str, mongo_db: Database[Document]) -> None:
        """Records of many executions' loggers are counted under their static category ``inngest.execution``."""
        otel_revops.configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db.name, console="none")
        for n in range(5):
            otel_revops.get_execution_logger("sync-job", f"exe-{n}").info("Execution step")
        otel_revops.get_sync_logger("contacts").info("Synced", executionId="exe-0")
        assert otel_revops.force_flush(10_000)
        otel_revops.shutdown_logging()
        stats = json.loads(cli("stats", "--json").stdout)
        assert [(c["category"], c["count"]) for c in stats["categories"]] == [
            ("inngest.execution", 5),
            ("inngest.sync.contacts", 1),
        ]

    def test_counts_top_errors_and_busiest_executions(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """Counts by level and category, errors ranked by frequency, executions by volume; old records left out."""
        now = datetime.now(timezone.utc)
        busy, quiet = ObjectId(), "quiet-run"
        records = [
            history(busy, "sync-hubspot", now - timedelta(minutes=i), "info", f"Synced page {i}") for i in range(6)
        ]
        records += [
            history(busy, "sync-hubspot", now, "error", "Failed to upsert contact", category="hubspot.api"),
            history(busy, "sync-hubspot", now, "error", "Failed to upsert contact", category="hubspot.api"),
            history(quiet, "sync-sf", now, "error", "Failed to upsert contact", category="hubspot.api"),
            history(quiet, "sync-sf", now, "critical", "Token expired", category="auth"),
            history(quiet, "sync-sf", now, "warning", "Slow page", category="hubspot.api"),
            history(quiet, "sync-sf", now - timedelta(days=2), "error", "Two days old"),
            history(str(busy), "sync-hubspot", now, "info", "Stored under the id's text"),
        ]
        seed(mongo_db, records, [])
        result = cli("stats", "--json")
        assert result.returncode == 0, result.stderr
        stats = json.loads(result.stdout)
        assert stats["total"] == 12
        assert stats["levels"] == {"debug": 0, "info": 7, "warning": 1, "error": 3, "critical": 1}
        assert stats["categories"] == [
            {"category": "revops.sync", "count": 7, "warnings": 0, "errors": 0},
            {"category": "hubspot.api", "count": 4, "warnings": 1, "errors": 3},
            {"category": "auth", "count": 1, "warnings": 0, "errors": 1},
        ]
        assert [(e["message"], e["count"], e["executions"]) for e in stats["errors"]] == [
            ("Failed to upsert contact", 3, 2),
            ("Token expired", 1, 1),
        ]
        assert [(e["executionId"], e["count"], e["errors"]) for e in stats["executions"]] == [
            (str(busy), 9, 2),
            (quiet, 3, 2),
        ]

        table = cli("stats").stdout
        assert table.startswith(f"12 records in {mongo_db.name}.execution_logs in the last 24h")
        assert "Most frequent errors" in table
        assert any(line.split()[:3] == ["3", "2", now.strftime("%Y-%m-%d")] for line in table.splitlines())

        one_job = json.loads(cli("stats", "--json", "--job", "sync-sf", "--since", "3d").stdout)
        assert (one_job["total"], one_job["levels"]["error"]) == (4, 2)

    def test_timed_blocks_and_steps(self, cli: Cli, mongo_uri: str, mongo_db: Database[Document]) -> None:
        """Each timed block and step: count, errors and p50/p95/max of its durations; other records left out."""
        now = datetime.now(timezone.utc)
        run = ObjectId()
        records = [
            history(run, "sync-hubspot", now, "info", "Fetched page", durationMs=float(ms), outcome="ok")
            for ms in range(1, 21)
        ]
        records += [
            history(run, "sync-hubspot", now, level, "Step fetch", category="inngest.step", durationMs=ms, outcome=out)
            for ms, out, level in ((100.0, "ok", "info"), (200.0, "error", "warning"), (300.0, "ok", "info"))
        ]
        records += [
            history(run, "sync-hubspot", now, "info", "Fetched page", durationMs=5000.0, outcome="started"),
            history(run, "sync-hubspot", now, "info", "Fetched page", durationMs="slow", outcome="ok"),
            history(run, "sync-hubspot", now - timedelta(days=2), "info", "Fetched page", durationMs=1.0, outcome="ok"),
        ]
        seed(mongo_db, records, [])
        otel_revops.configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db.name, console="none")
        with otel_revops.execution_context(job_id="sync-hubspot", execution_id=str(run)):
            with otel_revops.timed("Upserted contacts"):
                sum(range(10_000))
        assert otel_revops.force_flush(10_000)
        otel_revops.shutdown_logging()

        result = cli("stats", "--json")
        assert result.returncode == 0, result.stderr
        timed = {(t["category"], t["name"]): t for t in json.loads(result.stdout)["timed"]}
        page, step, upsert = (
            timed.pop(key)
            for key in (("revops.sync", "Fetched page"), ("inngest.step", "Step fetch"), ("otel_revops.timed", "Upserted contacts"))
        )
        assert timed == {}
        assert (page["count"], page["errors"], page["p50Ms"], page["p95Ms"], page["maxMs"]) == (20, 0, 10.5, 19.05, 20.0)
        assert (step["count"], step["errors"], step["p50Ms"], step["p95Ms"], step["maxMs"]) == (3, 1, 200.0, 290.0, 300.0)
        assert upsert["count"] == 1 and 0 < upsert["p50Ms"] == upsert["maxMs"]

        table = cli("stats").stdout
        assert "Timed blocks and steps" in table
        rows = [line.split() for line in table.splitlines()]
        assert ["Step", "fetch", "inngest.step", "3", "1", "200ms", "290ms", "300ms"] in rows
        assert ["Fetched", "page", "revops.sync", "20", "0"] in [row[:5] for row in rows]


class TestPrune:
    @pytest.fixture
    def aged(self, mongo_db: Database[Document]) -> dict[str, Any]:
        """History and embedded logs, part of them 40 days old and part of them from today."""
        now = datetime.now(timezone.utc)
        old = [
            history(HUBSPOT_RUN, "sync-hubspot", now - timedelta(days=40, minutes=i), "info", f"old {i}")
            for i in range(7)
        ]
        new = [history(HUBSPOT_RUN, "sync-hubspot", now - timedelta(minutes=i), "info", f"new {i}") for i in range(3)]
        other = history(NIGHTLY_RUN, "sync-sf", now - timedelta(days=45), "info", "nightly old")
        seed(
            mongo_db,
            [*old, *new, other],
            [
                execution_doc(HUBSPOT_RUN, "sync-hubspot", now, [entry(r) for r in [*old[:4], *new]], logCount=10),
                execution_doc(NIGHTLY_RUN, "sync-sf", now, [entry(other)]),
                execution_doc("untouched", "sync-sf", now, [entry(new[0])]),
            ],
        )
        return {"new_ids": {r["_id"] for r in new}}

    def test_dry_run_counts_and_deletes_nothing(
        self, cli: Cli, mongo_db: Database[Document], aged: dict[str, Any]
    ) -> None:
        """--dry-run reports what would go and leaves every document as it was."""
        before_history = list(mongo_db.execution_logs.find().sort("_id"))
        before_executions = list(mongo_db.job_executions.find().sort("_id"))
        result = cli("prune", "--older-than", "30d", "--dry-run")
        assert result.returncode == 0, result.stderr
        assert f"{mongo_db.name}.execution_logs: 8 history records would be deleted" in result.stdout
        assert (
            f"{mongo_db.name}.job_executions: 5 embedded log entries would be removed from 2 executions"
            in result.stdout
        )
        assert list(mongo_db.execution_logs.find().sort("_id")) == before_history
        assert list(mongo_db.job_executions.find().sort("_id")) == before_executions

    def test_removes_exactly_what_it_reports(
        self, cli: Cli, mongo_db: Database[Document], aged: dict[str, Any]
    ) -> None:
        """History older than the cut-off is deleted in batches, old embedded entries pulled; the rest stays."""
        result = cli("prune", "--older-than", "30d", "--batch-size", "3")
        assert result.returncode == 0, result.stderr
        assert f"{mongo_db.name}.execution_logs: 8 history records deleted" in result.stdout
        assert f"{mongo_db.name}.job_executions: 5 embedded log entries removed from 2 executions" in result.stdout
        assert {d["_id"] for d in mongo_db.execution_logs.find()} == aged["new_ids"]
        hubspot = mongo_db.job_executions.find_one({"_id": HUBSPOT_RUN})
        assert hubspot is not None
        assert [e["message"] for e in hubspot["logs"]] == ["new 0", "new 1", "new 2"]
        assert hubspot["logCount"] == 10
        nightly = mongo_db.job_executions.find_one({"_id": NIGHTLY_RUN})
        assert nightly is not None and nightly["logs"] == []
        assert mongo_db.job_executions.count_documents({}) == 3

        again = cli("prune", "--older-than", "30d")
        assert f"{mongo_db.name}.execution_logs: 0 history records deleted" in again.stdout

    def test_echoes_the_duration_as_typed(self, cli: Cli, aged: dict[str, Any]) -> None:
        """30d is shown as 30d (not 4w2d)."""
        result = cli("prune", "--older-than", "30d", "--dry-run")
        assert result.returncode == 0, result.stderr
        assert "records older than 30d (before " in result.stdout

    def test_zero_says_what_is_allowed(self, cli: Cli) -> None:
        """0d is refused with the forms a duration may take."""
        result = cli("prune", "--older-than", "0d")
        assert result.returncode == 2
        assert "'0d' is not a duration: it must be longer than zero" in result.stderr
        assert "a number and a unit (s, m, h, d, w), e.g. 30s, 5m, 1h, 24h, 30d, 2w" in result.stderr

    def test_a_spinner_while_counting_on_a_terminal(self, env: dict[str, str], aged: dict[str, Any]) -> None:
        """On a terminal, standard error shows a spinner while the records to delete are counted."""
        import pty

        leader, follower = pty.openpty()
        try:
            done = subprocess.run(
                command("prune", "--older-than", "30d", "--dry-run"),
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=follower,
                text=True,
                timeout=60,
                check=False,
            )
            os.close(follower)
            follower = -1
            terminal = b""
            while True:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # the other side is closed: everything was read
                    break
                if not chunk:
                    break
                terminal += chunk
        finally:
            if follower >= 0:
                os.close(follower)
            os.close(leader)
        assert done.returncode == 0
        assert "Counting records older than 30d" in terminal.decode("utf-8", "replace")
        assert "8 history records would be deleted" in done.stdout


class TestEnsureIndexes:
    def test_creates_then_finds_then_retimes(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """Creates the three indexes with the retention's TTL, finds them next time, follows a new retention."""
        first = cli("ensure-indexes")
        assert first.returncode == 0, first.stderr
        assert first.stdout.count("  created: ") == 3
        info = mongo_db.execution_logs.index_information()
        assert info["timestamp_1"]["expireAfterSeconds"] == 30 * 86_400
        assert info["executionId_1_timestamp_1"]["key"] == [("executionId", 1), ("timestamp", 1)]
        assert info["jobId_1_timestamp_-1"]["key"] == [("jobId", 1), ("timestamp", -1)]

        assert cli("ensure-indexes").stdout.count("  present: ") == 3

        week = cli("ensure-indexes", env_extra={"OTEL_REVOPS_MONGODB_RETENTION_DAYS": "7"})
        assert "updated: timestamp_1 expiry 30 days → 7 days" in week.stdout
        assert mongo_db.execution_logs.index_information()["timestamp_1"]["expireAfterSeconds"] == 7 * 86_400


class TestDoctor:
    def test_unreachable_server_fails_with_a_fix(self, cli: Cli) -> None:
        """MongoDB not there: FAIL with the reason and the fix, dependent checks skipped, exit 1."""
        uri = f"mongodb://127.0.0.1:{free_port()}/"
        result = cli("--uri", uri, "--timeout", "0.5", "doctor")
        assert result.returncode == 1
        lines = result.stdout.splitlines()
        failing = next(i for i, line in enumerate(lines) if line.startswith("FAIL  MongoDB reachable:"))
        assert f"cannot reach {uri}" in lines[failing]
        assert "Connection refused" in lines[failing]
        assert lines[failing + 1].strip() == (
            "fix: start the MongoDB server, or set OTEL_REVOPS_MONGODB_URI (or --uri) to where it runs"
        )
        assert "SKIP  MongoDB writable: MongoDB is unreachable" in lines

    def test_healthy_setup_passes(self, cli: Cli, mongo_db: Database[Document], otlp_receiver: OTLPReceiver) -> None:
        """Reachable, writable, indexed MongoDB, a listening collector and the entry points installed: exit 0."""
        assert cli("ensure-indexes").returncode == 0
        result = cli("doctor", env_extra={"OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint})
        lines = result.stdout.splitlines()
        assert any(line.startswith("OK    MongoDB reachable:") for line in lines)
        assert f"OK    MongoDB writable: inserted and deleted a probe in {mongo_db.name}.execution_logs" in lines
        assert "OK    history indexes: 3 present, records kept 30 days" in lines
        assert any(line.startswith("OK    OTLP endpoint:") for line in lines)
        assert mongo_db.execution_logs.count_documents({}) == 0
        assert result.returncode == 0, result.stdout
        assert lines[-1] == "No problems found."

    def test_missing_indexes_unreachable_collector_and_bad_setting(
        self, cli: Cli, mongo_db: Database[Document]
    ) -> None:
        """Each wrong thing is its own FAIL with its own fix."""
        endpoint = f"http://127.0.0.1:{free_port()}"
        result = cli("doctor", env_extra={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint})
        assert result.returncode == 1
        assert "FAIL  history indexes: create: executionId_1_timestamp_1" in result.stdout
        assert "fix: run 'otel-revops ensure-indexes'" in result.stdout
        assert f"FAIL  OTLP endpoint: {endpoint} (grpc): cannot connect to 127.0.0.1:" in result.stdout
        assert "fix: start the collector" in result.stdout

        bad = cli("doctor", env_extra={"OTEL_REVOPS_LOG_LEVEL": "loud"})
        assert bad.returncode == 1
        assert "FAIL  settings: log_level (OTEL_REVOPS_LOG_LEVEL)='loud' is not valid" in bad.stdout

    def test_file_check_writes_rather_than_asks(self, cli: Cli, tmp_path: Path) -> None:
        """The file exporter's path is tried for writing: a path under /proc fails even for root; a
        writable one passes, an existing file is left unchanged and no probe file is left behind."""
        refused = cli("doctor", env_extra={"OTEL_REVOPS_FILE_PATH": "/proc/otel-revops-doctor/records.jsonl"})
        line = next(line for line in refused.stdout.splitlines() if "file exporter" in line)
        assert line.startswith("FAIL  file exporter: /proc/otel-revops-doctor/records.jsonl: cannot be written")
        existing = tmp_path / "records.jsonl"
        existing.write_text("kept\n")
        for path in (existing, tmp_path / "new" / "records.jsonl"):
            accepted = cli("doctor", env_extra={"OTEL_REVOPS_FILE_PATH": str(path)})
            assert any(
                line.startswith(f"OK    file exporter: {path} is writable") for line in accepted.stdout.splitlines()
            ), accepted.stdout
        assert existing.read_text() == "kept\n"
        assert sorted(p.name for p in tmp_path.iterdir()) == ["records.jsonl"]


class TestDemo:
    def test_runs_the_demo_whose_logs_the_command_then_reads(self, cli: Cli, mongo_db: Database[Document]) -> None:
        """From the repository root, demo runs the sync; its execution is then listed and its logs readable."""
        result = cli("demo")
        assert result.returncode == 0, result.stderr[-2000:]
        assert "History: " in result.stdout
        (execution,) = [json.loads(line) for line in cli("executions", "--json").stdout.splitlines()]
        assert execution["logCount"] > 0
        logs = cli("logs", execution["executionId"])
        assert logs.returncode == 0, logs.stderr
        assert logs.stdout.count("\n\n") == mongo_db.execution_logs.count_documents({})

    def test_outside_a_checkout_says_where_the_demo_is(self, cli: Cli, tmp_path: Path) -> None:
        """Run where the examples are not importable, demo exits 1 and says to run it from the repository."""
        result = cli("demo", cwd=tmp_path)
        assert result.returncode == 1
        assert result.stderr.count("\n") == 1
        assert "the demo (examples.revops_sync) is not available" in result.stderr
        assert "demo" not in cli("--help", cwd=tmp_path).stdout.split("Commands:")[1]
        assert "demo" in cli("--help").stdout.split("Commands:")[1]
