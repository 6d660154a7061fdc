"""Every secret shape × every output × every start-up path: no secret visible anywhere, every
non-secret sentinel visible.

The application (``tests/apps/secrets_app.py``) runs as a subprocess started three ways:
``configure_logging()`` in code, ``opentelemetry-instrument`` with the ``otel_revops`` distro, and
the stock distro and configurator with the project's exporters. What it wrote is read where a user
would: the console (its stderr), MongoDB (history and the execution document), the file sink, a real
OTLP receiver and, with MongoDB unreachable, the spool's files on disk.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId, json_util
from pymongo.database import Database

from tests.apps.secrets_app import SECRETS, SENTINELS
from tests.support.otlp_receiver import OTLPReceiver

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "tests" / "apps" / "secrets_app.py"
INSTRUMENT = Path(sys.executable).parent / "opentelemetry-instrument"
RECORDS = 19


def run(env: Mapping[str, str], *args: str, instrument: bool = False) -> subprocess.CompletedProcess[str]:
    """The application with ``env`` over this process's environment without its OTel and MongoDB variables."""
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("OTEL_") and name != "MONGODB_URI"
    }
    environment.update(env, PYTHONPATH=str(ROOT), OTEL_REVOPS_CONSOLE_COLORS="never")
    command = [str(INSTRUMENT)] if instrument else []
    result = subprocess.run(
        [*command, sys.executable, str(APP), *args],
        env=environment,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1])["event"] == "done"
    return result


def leaks(text: str) -> list[str]:
    """The shapes whose secret is in ``text``."""
    return [shape for shape, secret in SECRETS.items() if secret in text]


def missing(text: str) -> list[str]:
    """The sentinels not in ``text``."""
    return [sentinel for sentinel in SENTINELS if sentinel not in text]


def stored(db: Database[dict[str, Any]], execution: ObjectId) -> dict[str, str]:
    history = list(db.execution_logs.find({"executionId": execution}))
    assert len(history) == RECORDS, len(history)
    document = db.job_executions.find_one({"_id": execution}) or {}
    assert len(document.get("logs", [])) == RECORDS
    return {"MongoDB history": json_util.dumps(history), "execution document": json_util.dumps(document)}


START_UP = ["configure_logging", "configure_logging, JSON console", "otel_revops distro", "stock distro"]


@pytest.mark.parametrize("start_up", START_UP)
def test_no_secret_in_any_output(
    start_up: str,
    mongo_uri: str,
    mongo_db_name: str,
    mongo_db: Database[dict[str, Any]],
    otlp_receiver: OTLPReceiver,
    tmp_path: Path,
) -> None:
    """Console, MongoDB history and execution document, file and OTLP: 0 secrets, every sentinel."""
    execution = ObjectId()
    path = tmp_path / "app.jsonl"
    if start_up.startswith("configure_logging"):
        settings = {
            "mongodb_uri": mongo_uri, "mongodb_database": mongo_db_name, "mongodb_upsert": True,
            "otlp_endpoint": otlp_receiver.grpc_endpoint, "file_path": str(path),
            "console": "json" if "JSON" in start_up else "pretty",
        }  # fmt: skip
        result = run({}, "--configure", json.dumps(settings), "--execution", str(execution))
    else:
        env = {
            "OTEL_REVOPS_MONGODB_URI": mongo_uri,
            "OTEL_REVOPS_MONGODB_DATABASE": mongo_db_name,
            "OTEL_REVOPS_MONGODB_UPSERT": "true",
            "OTEL_REVOPS_FILE_PATH": str(path),
            "OTEL_TRACES_EXPORTER": "none",
            "OTEL_METRICS_EXPORTER": "none",
        }
        if start_up == "otel_revops distro":
            env |= {
                "OTEL_PYTHON_DISTRO": "otel_revops",
                "OTEL_EXPORTER_OTLP_ENDPOINT": otlp_receiver.grpc_endpoint,
                "OTEL_LOGS_EXPORTER": "revops_console,mongodb,revops_file,otlp",
            }
        else:
            env |= {
                "OTEL_PYTHON_DISTRO": "distro",
                "OTEL_PYTHON_CONFIGURATOR": "configurator",
                "OTEL_LOGS_EXPORTER": "revops_console,mongodb,revops_file",
                "OTEL_PYTHON_LOGGING_AUTO_INSTRUMENTATION_ENABLED": "true",
            }
        result = run(env, "--execution", str(execution), instrument=True)

    outputs = {"console": result.stderr, **stored(mongo_db, execution), "file": path.read_text(encoding="utf-8")}
    if start_up != "stock distro":
        outputs["OTLP"] = repr([r for r in otlp_receiver.wait_for_records(RECORDS) if r.scope_name == "app.secrets"])
    assert {name: leaks(text) for name, text in outputs.items()} == {name: [] for name in outputs}
    assert {name: missing(text) for name, text in outputs.items()} == {name: [] for name in outputs}


def test_no_secret_in_the_spool(tmp_path: Path) -> None:
    """MongoDB unreachable: the batches written to the spool's files hold no secret, every sentinel."""
    spool = tmp_path / "spool"
    settings = {
        "mongodb_uri": "mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=200", "retry_deadline_ms": 0,
        "spool_dir": str(spool), "console": "none", "shutdown_timeout_ms": 2000,
    }  # fmt: skip
    run({}, "--configure", json.dumps(settings), "--execution", str(ObjectId()))
    files = [p for p in spool.rglob("*") if p.is_file() and ".jsonl.gz" in p.name]
    text = "".join(gzip.decompress(p.read_bytes()).decode("ascii") for p in files)
    assert text.count("\n") == RECORDS
    # The spool writes JSON with every character beyond ASCII escaped, "+" included in none of these.
    assert leaks(text) == []
    assert missing(text) == []
