"""``otel-revops doctor``: checks the configuration and what it points at, and says how to fix what is wrong."""

from __future__ import annotations

import socket
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import entry_points
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import click
from bson import ObjectId
from pymongo.errors import PyMongoError
from rich.text import Text

from otel_revops.cli.app import CliState, pass_state
from otel_revops.cli.errors import EXIT_FAILURE, EXIT_OK, CliError
from otel_revops.cli.store import Store, describe_mongo_error, open_store, redact_uri
from otel_revops.config import ConfigurationError, Settings
from otel_revops.exporters.file import FileSettings
from otel_revops.exporters.mongodb.indexes import history_indexes, plan_index_changes

__all__ = [
    "EXPORTER_ENTRY_POINTS",
    "Check",
    "check_entry_points",
    "check_otlp",
    "doctor_command",
    "otlp_address",
]

Status = Literal["ok", "warn", "fail", "skip"]

#: The ``opentelemetry_logs_exporter`` entry points the package installs, and what each should load.
EXPORTER_ENTRY_POINTS = {
    "mongodb": "otel_revops.exporters.mongodb:MongoLogRecordExporter",
    "revops_console": "otel_revops.exporters.console:ConsoleLogRecordExporter",
    "revops_file": "otel_revops.exporters.file:FileLogRecordExporter",
}
_CONSOLE_SCRIPT = "otel-revops"
_PROBE_TIMEOUT_S = 2.0
_LABELS: dict[Status, tuple[str, str]] = {
    "ok": ("OK  ", "green"),
    "warn": ("WARN", "yellow"),
    "fail": ("FAIL", "bold red"),
    "skip": ("SKIP", "dim"),
}


@dataclass(frozen=True)
class Check:
    """One check's outcome: what was checked, what was found and, when it is wrong, how to fix it."""

    name: str
    status: Status
    detail: str
    fix: str | None = None


def otlp_address(endpoint: str, protocol: str) -> tuple[str, int]:
    """The host and port an OTLP endpoint (``http://host:4317``, ``host:4317``, ``https://host``) connects to."""
    url = endpoint if "://" in endpoint else f"http://{endpoint}"
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    try:
        port = parts.port
    except ValueError:
        port = None
    if port is None:
        if parts.scheme == "https" and protocol == "http/protobuf":
            port = 443
        else:
            port = 4318 if protocol == "http/protobuf" else 4317
    return host, port


def check_otlp(settings: Settings, timeout: float = _PROBE_TIMEOUT_S) -> Check:
    """Whether the OTLP endpoint accepts a TCP connection (skipped when none is configured)."""
    name = "OTLP endpoint"
    if not settings.otlp_endpoint:
        return Check(name, "skip", "not configured: records are not forwarded over OTLP")
    host, port = otlp_address(settings.otlp_endpoint, settings.otlp_protocol)
    started = time.monotonic()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as error:
        reason = error.strerror or str(error) or type(error).__name__
        return Check(
            name,
            "fail",
            f"{settings.otlp_endpoint} ({settings.otlp_protocol}): cannot connect to {host}:{port}: {reason}",
            "start the collector, or set OTEL_EXPORTER_OTLP_ENDPOINT (and OTEL_EXPORTER_OTLP_PROTOCOL) "
            "to where it listens",
        )
    elapsed = (time.monotonic() - started) * 1000
    return Check(
        name, "ok", f"{settings.otlp_endpoint} ({settings.otlp_protocol}) accepts connections ({elapsed:.0f} ms)"
    )


def check_entry_points() -> Check:
    """Whether the exporter entry points and the console script are installed and load."""
    name = "entry points"
    installed = {ep.name: ep for ep in entry_points(group="opentelemetry_logs_exporter")}
    problems = []
    for ep_name, target in EXPORTER_ENTRY_POINTS.items():
        ep = installed.get(ep_name)
        if ep is None:
            problems.append(f"{ep_name} missing")
            continue
        if ep.value != target:
            problems.append(f"{ep_name} points to {ep.value}, expected {target}")
            continue
        try:
            ep.load()
        except Exception as error:  # noqa: BLE001 - any import failure is the finding
            problems.append(f"{ep_name} does not load: {type(error).__name__}: {error}")
    scripts = {ep.name for ep in entry_points(group="console_scripts")}
    if _CONSOLE_SCRIPT not in scripts:
        problems.append(f"console script {_CONSOLE_SCRIPT} missing")
    if problems:
        return Check(
            name,
            "fail",
            "; ".join(problems),
            "reinstall the package in this environment: pip install --force-reinstall otel-revops "
            "(from a checkout: pip install -e .)",
        )
    return Check(name, "ok", f"exporters {', '.join(EXPORTER_ENTRY_POINTS)} and the {_CONSOLE_SCRIPT} command")


def _cannot_append(path: Path) -> str | None:
    """Why the file exporter could not write ``path`` — found by trying, as it would (permission bits
    say little to root, or on /proc) — or None when it can. Opening an existing file for append changes
    nothing; for a new one, a probe file is created and removed in the nearest existing directory."""
    try:
        if path.exists():
            with path.open("ab"):
                return None
        existing = path.resolve().parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".otel-revops-doctor-"):
            return None
    except OSError as error:
        return f"cannot be written: {error.strerror or error}" + (f" ({error.filename})" if error.filename else "")


def _check_file_sink() -> Check:
    name = "file exporter"
    try:
        settings = FileSettings.resolve()
    except ConfigurationError as error:
        return Check(name, "fail", str(error), "set the variable named above to a number of bytes / files")
    if settings.path is None:
        return Check(name, "skip", "not configured (OTEL_REVOPS_FILE_PATH)")
    problem = _cannot_append(Path(settings.path))
    if problem is not None:
        return Check(
            name,
            "fail",
            f"{settings.path}: {problem}",
            "point OTEL_REVOPS_FILE_PATH at a directory this process may write to",
        )
    rotation = (
        f"rotated at {settings.max_bytes} bytes, {settings.backup_count} kept"
        if settings.max_bytes and settings.backup_count
        else "never rotated"
    )
    return Check(name, "ok", f"{settings.path} is writable ({rotation})")


def _mongo_checks(store: Store, settings: Settings) -> Iterator[Check]:
    where = redact_uri(store.uri)
    started = time.monotonic()
    try:
        store.client.admin.command("ping")
    except PyMongoError as error:
        yield Check(
            "MongoDB reachable",
            "fail",
            f"cannot reach {where}: {describe_mongo_error(error)}",
            "start the MongoDB server, or set OTEL_REVOPS_MONGODB_URI (or --uri) to where it runs",
        )
        for name in ("MongoDB writable", "history indexes"):
            yield Check(name, "skip", "MongoDB is unreachable")
        return
    elapsed = (time.monotonic() - started) * 1000
    yield Check("MongoDB reachable", "ok", f"{where}, database {store.database.name} ({elapsed:.0f} ms)")
    probe_id = ObjectId()
    try:
        store.history.insert_one(
            {"_id": probe_id, "executionId": "otel-revops-doctor", "timestamp": datetime.now(timezone.utc)}
        )
        store.history.delete_one({"_id": probe_id})
    except PyMongoError as error:
        yield Check(
            "MongoDB writable",
            "fail",
            f"cannot write to {store.describe(store.history)}: {describe_mongo_error(error)}",
            f"grant the user the readWrite role on database {store.database.name}",
        )
    else:
        yield Check("MongoDB writable", "ok", f"inserted and deleted a probe in {store.describe(store.history)}")
    changes = plan_index_changes(store.history.index_information(), history_indexes(settings.mongodb_retention_days))
    wrong = [change for change in changes if change.action != "present"]
    if wrong:
        yield Check(
            "history indexes",
            "fail",
            "; ".join(change.describe(dry_run=True).removeprefix("would ") for change in wrong),
            "run 'otel-revops ensure-indexes'",
        )
    else:
        kept = "forever" if settings.mongodb_retention_days == 0 else f"{settings.mongodb_retention_days} days"
        yield Check("history indexes", "ok", f"{len(changes)} present, records kept {kept}")


def run_checks(state: CliState) -> Iterator[Check]:
    """Every check, in order; later ones are skipped when what they need failed."""
    try:
        settings = Settings.resolve(mongodb_uri=state.uri, mongodb_database=state.database)
    except ConfigurationError as error:
        yield Check("settings", "fail", str(error), "correct or unset the variable named above")
        yield check_entry_points()
        return
    yield Check("settings", "ok", f"service {settings.service_name}")
    if not settings.mongodb_uri:
        yield Check(
            "MongoDB",
            "warn",
            "no URI: records are not stored in MongoDB and the other commands cannot run",
            "set OTEL_REVOPS_MONGODB_URI (or MONGODB_URI), e.g. mongodb://127.0.0.1:27017/revops",
        )
    else:
        try:
            store = open_store(settings, timeout_ms=min(state.timeout_ms, int(_PROBE_TIMEOUT_S * 1000)))
        except CliError as error:
            yield Check("MongoDB reachable", "fail", error.message, "correct OTEL_REVOPS_MONGODB_URI (or --uri)")
            store = None
        if store is not None:
            try:
                yield from _mongo_checks(store, settings)
            finally:
                store.close()
    yield check_otlp(settings)
    yield _check_file_sink()
    yield check_entry_points()


def _show(state: CliState, check: Check) -> None:
    label, style = _LABELS[check.status]
    line = Text.assemble((label, style), "  ", (check.name, "bold"), ": ", check.detail)
    state.out.print(line, soft_wrap=True)
    if check.fix and check.status in ("fail", "warn"):
        state.out.print(Text.assemble("      fix: ", (check.fix, "cyan")), soft_wrap=True)


@click.command("doctor")
@pass_state
def doctor_command(state: CliState) -> int:
    """Check the setup and say how to fix what is wrong.

    Checks the settings, MongoDB (reachable, writable, indexed), the OTLP endpoint, the file sink and
    the installed entry points. Exit code 1 when a check fails.
    """
    failures = 0
    for check in run_checks(state):
        _show(state, check)
        failures += check.status == "fail"
    if failures:
        state.say(f"{failures} problem{'s' if failures != 1 else ''} found.", style="bold red")
        return EXIT_FAILURE
    state.say("No problems found.", style="bold green")
    return EXIT_OK
