"""What every fault-injection case needs: application subprocesses, execution documents, and the
figures counted from MongoDB afterwards (never from the application's own counters)."""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import pymongo
from bson import ObjectId
from pymongo import MongoClient
from pymongo.database import Database

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
JOB_ID = "fault-job"
Db = Database[dict[str, Any]]
Client = MongoClient[dict[str, Any]]

__all__ = [
    "APPS",
    "JOB_ID",
    "REPO",
    "AppProcess",
    "Client",
    "Db",
    "ExecutionCheck",
    "FigureRecorder",
    "Tally",
    "app_environment",
    "check_executions",
    "close_quietly",
    "connect",
    "create_executions",
    "rss_growth_mb",
    "run_to_end",
    "spool_files",
    "spool_records",
    "tally",
]


class FigureRecorder:
    """Collects the figures of one case; ``record()`` may be called once per case name."""

    def __init__(self, rows: list[dict[str, Any]], test: str) -> None:
        self._rows = rows
        self._test = test
        self.started = time.monotonic()

    def elapsed(self) -> float:
        """Seconds since the test started."""
        return round(time.monotonic() - self.started, 1)

    def record(
        self,
        case: str,
        *,
        sent: int,
        stored: int,
        duplicated: int,
        lost: int,
        rss_growth_mb: float | None,
        seconds: float | None = None,
        **notes: Any,
    ) -> dict[str, Any]:
        """Keep one row; ``notes`` (bounds, settings, the application's own counters) go beside it."""
        row: dict[str, Any] = {
            "case": case,
            "sent": sent,
            "stored": stored,
            "duplicated": duplicated,
            "lost": lost,
            "rss_growth_mb": rss_growth_mb,
            "seconds": self.elapsed() if seconds is None else seconds,
            "test": self._test,
            "recorded_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **notes,
        }
        self._rows.append(row)
        return row


def app_environment(**extra: str) -> dict[str, str]:
    """The test's environment without any OTel or MongoDB setting of the surrounding shell."""
    env = {
        name: value
        for name, value in os.environ.items()
        if not (name.startswith("OTEL_") or name == "MONGODB_URI")
    }
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    env.update(extra)
    return env


class AppProcess:
    """An application subprocess whose stdout JSON events are read as they come.

    stderr goes to a file (``stderr_path``) so a chatty application can never block on a full pipe.
    """

    def __init__(
        self, script: str, arguments: Sequence[str], *, stderr_path: Path, stdin: bool = False, **env: str
    ) -> None:
        self.script = script
        self.stderr_path = stderr_path
        self._events: list[dict[str, Any]] = []
        self._changed = threading.Condition()
        self._eof = False
        with stderr_path.open("wb") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, str(APPS / script), *arguments],
                stdin=subprocess.PIPE if stdin else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                cwd=REPO,
                env=app_environment(**env),
                text=True,
            )
        assert self.process.stdout is not None
        self._reader = threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True)
        self._reader.start()

    @property
    def pid(self) -> int:
        """The application's process id."""
        return self.process.pid

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            with contextlib.suppress(ValueError):
                event = json.loads(line)
                with self._changed:
                    self._events.append(event)
                    self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def events(self, name: str) -> list[dict[str, Any]]:
        """The events called ``name`` received so far."""
        with self._changed:
            return [event for event in self._events if event.get("event") == name]

    def latest(self, name: str) -> dict[str, Any] | None:
        """The last event called ``name``, if any arrived."""
        found = self.events(name)
        return found[-1] if found else None

    def wait_for(self, predicate: Callable[[], Any], timeout: float, what: str) -> Any:
        """Wait until ``predicate()`` is truthy (re-checked on every event); fail naming ``what``."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                value = predicate()
                if value:
                    return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if self._eof and self.process.poll() is not None:
                    break
                self._changed.wait(min(remaining, 0.1))
        raise AssertionError(f"{self.script}: {what} (after {timeout:.0f}s){self._tail()}")

    def wait_event(self, name: str, timeout: float) -> dict[str, Any]:
        """The first event called ``name``, waiting for it up to ``timeout`` seconds."""
        event: dict[str, Any] = self.wait_for(lambda: self.latest(name), timeout, f"no {name!r} event")
        return event

    def send_line(self, text: str = "") -> None:
        """Write one line to the application's stdin (started with ``stdin=True``)."""
        assert self.process.stdin is not None, "started without stdin=True"
        self.process.stdin.write(text + "\n")
        self.process.stdin.flush()

    def logged(self) -> int:
        """How many records the application reported logged (from its ``logged`` progress events)."""
        latest = self.latest("logged")
        return int(latest["count"]) if latest else 0

    def finish(self, timeout: float, event: str = "done") -> dict[str, Any]:
        """Wait for a normal exit and return its last ``event`` (``done``); kill the application and fail otherwise."""
        try:
            code = self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.script} did not finish within {timeout:.0f}s{self._tail()}") from None
        self._reader.join(10)
        assert code == 0, f"{self.script} exited with {code}{self._tail()}"
        done = self.latest(event)
        assert done is not None, f"{self.script} exited without reporting {event!r}{self._tail()}"
        return done

    def kill(self) -> None:
        """SIGKILL the application (by its own pid) and reap it; harmless if it already exited."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self._reader.join(10)

    def stderr(self) -> str:
        """What the application wrote to stderr so far."""
        return self.stderr_path.read_text(encoding="utf-8", errors="replace")

    def _tail(self) -> str:
        return f"; stderr tail:\n{self.stderr()[-3000:]}"


def run_to_end(app: AppProcess, timeout: float, event: str = "done") -> dict[str, Any]:
    """``app.finish(timeout, event)``, the application killed if it is still running afterwards."""
    try:
        return app.finish(timeout, event)
    finally:
        app.kill()


def connect(uri: str) -> Client:
    """A client for preparing and counting documents, patient enough to outlast a server restart."""
    return MongoClient(uri, serverSelectionTimeoutMS=20_000)


def create_executions(db: Db, count: int, job_id: str = JOB_ID) -> list[str]:
    """Insert ``count`` execution documents, as the application owns them; their ids as it logs them."""
    ids = [ObjectId() for _ in range(count)]
    db.job_executions.insert_many([{"_id": oid, "jobId": job_id, "status": "running"} for oid in ids])
    return [str(oid) for oid in ids]


@dataclass
class Tally:
    """Records expected against records stored in the history collection, counted per ``metadata.n``."""

    sent: int
    stored: int
    duplicated: int
    lost: int
    unexpected: int
    missing: list[int] = field(default_factory=list)

    def row(self) -> dict[str, int]:
        """The figures' counting columns."""
        return {"sent": self.sent, "stored": self.stored, "duplicated": self.duplicated, "lost": self.lost}


def tally(db: Db, expected: Iterable[range]) -> Tally:
    """Count the history documents of every ``n`` in ``expected``: stored (distinct), duplicated
    (copies beyond the first), lost (expected, not stored); ``unexpected`` counts documents whose n
    is outside ``expected``. ``missing`` holds the lost n, in order."""
    ranges = list(expected)
    counts = [bytearray(len(r)) for r in ranges]
    unexpected = 0
    cursor = db.execution_logs.find({}, {"_id": 0, "metadata.n": 1}, batch_size=10_000)
    for document in cursor:
        n = document.get("metadata", {}).get("n")
        for index, numbers in enumerate(ranges):
            if isinstance(n, int) and n in numbers:
                slot = n - numbers.start
                counts[index][slot] = min(255, counts[index][slot] + 1)
                break
        else:
            unexpected += 1
    sent = sum(len(r) for r in ranges)
    stored = duplicated = 0
    missing: list[int] = []
    for numbers, seen in zip(ranges, counts, strict=True):
        for slot, copies in enumerate(seen):
            if copies:
                stored += 1
                duplicated += copies - 1
            else:
                missing.append(numbers.start + slot)
    return Tally(sent, stored, duplicated, sent - stored, unexpected, missing)


@dataclass
class ExecutionCheck:
    """Per execution document: the ``logCount`` it holds against the history records of that execution."""

    log_counts: dict[str, int]
    history_counts: dict[str, int]

    @property
    def mismatched(self) -> dict[str, tuple[int, int]]:
        """Executions whose ``logCount`` differs from their history: ``{id: (logCount, history)}``."""
        return {
            key: (self.log_counts.get(key, 0), self.history_counts.get(key, 0))
            for key in set(self.log_counts) | set(self.history_counts)
            if self.log_counts.get(key, 0) != self.history_counts.get(key, 0)
        }

    @property
    def log_count_total(self) -> int:
        """The sum of ``logCount`` over the executions."""
        return sum(self.log_counts.values())


def check_executions(db: Db, execution_ids: Sequence[str]) -> ExecutionCheck:
    """``logCount`` of each execution document and the number of history records of each execution."""
    keys = [ObjectId(i) for i in execution_ids]
    log_counts = {
        str(doc["_id"]): int(doc.get("logCount", 0))
        for doc in db.job_executions.find({"_id": {"$in": keys}}, {"logCount": 1})
    }
    history_counts = {key: db.execution_logs.count_documents({"executionId": ObjectId(key)}) for key in execution_ids}
    return ExecutionCheck(log_counts, history_counts)


def spool_files(directory: Path) -> list[Path]:
    """Batch files waiting in a spool directory tree (claimed ones included, ``quarantine/`` not), oldest first."""
    if not directory.exists():
        return []
    found = [
        p
        for p in directory.rglob("*")
        if p.is_file() and "quarantine" not in p.parts and (p.name.endswith(".jsonl.gz") or ".claimed-" in p.name)
    ]
    return sorted(found, key=lambda p: p.name)


def spool_records(directory: Path) -> int:
    """Records held in a spool directory tree (one gzip-compressed JSON line each)."""
    total = 0
    for path in spool_files(directory):
        with contextlib.suppress(FileNotFoundError, EOFError, OSError):
            total += gzip.decompress(path.read_bytes()).count(b"\n")
    return total


def rss_growth_mb(done_events: Iterable[dict[str, Any]]) -> float:
    """The largest peak-RSS growth (end peak minus the peak after configuring) over the applications, in MB."""
    growth = [(int(e["rss_peak_kb"]) - int(e["rss_start_kb"])) / 1024 for e in done_events]
    return round(max(growth, default=0.0), 1)


def close_quietly(client: Client) -> None:
    """Close ``client`` without waiting out a server selection when its server is down."""
    with contextlib.suppress(Exception), pymongo.timeout(0.5):
        client.close()
