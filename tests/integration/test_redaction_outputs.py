"""Secrets never leave the process: a password in a property, credentials in a URL in the message, a
bearer token and an exception message carrying a secret are redacted in what MongoDB stores, what a
real OTLP receiver gets, and what the file sink writes."""

from __future__ import annotations

import io
import logging
import os
from pathlib import Path
from typing import Any

import pytest
from bson import ObjectId, json_util
from pymongo.database import Database

import otel_revops
from otel_revops.config import OtlpProtocol
from tests.support.otlp_receiver import OTLPReceiver

# Referred to by name only: a traceback shows source lines, and the literal must not be one of them.
SECRET = "s3cr3t-VALUE-42"
JOB_ID = "job-redaction"
MESSAGES = (
    "connecting to mongodb://admin:***@db:27017/revops",
    "calling the API with Authorization: Bearer ***",
    "webhook failed",
)

log = logging.getLogger("app.redaction")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OTel or MongoDB variable of the surrounding shell leaks into a test."""
    for name in list(os.environ):
        if (name.startswith("OTEL_") and name != "OTEL_REVOPS_SPOOL_DIR") or name == "MONGODB_URI":
            monkeypatch.delenv(name)


def log_secrets(execution_id: str) -> None:
    """Three records of one execution, each hiding the secret somewhere else."""
    with otel_revops.execution_context(job_id=JOB_ID, execution_id=execution_id, apiToken=SECRET):
        bound = otel_revops.get_logger("app.redaction")
        bound.info(
            "connecting to mongodb://admin:%s@db:27017/revops",
            SECRET,
            password=SECRET,
            request={"headers": [{"Authorization": f"Bearer {SECRET}"}], "cookie": SECRET},
            callback=f"https://bot:{SECRET}@hooks.example.com/x",
        )
        log.info("calling the API with Authorization: Bearer %s", SECRET, extra={"client_secret": SECRET})
        try:
            raise ConnectionError(f"cannot reach https://bot:{SECRET}@hooks.example.com")
        except ConnectionError:
            log.exception("webhook failed")


def assert_redacted(text: str) -> None:
    """The secret is nowhere in ``text``, and the redaction markers are."""
    assert SECRET not in text
    assert "[REDACTED]" in text
    assert "admin:***@db" in text
    assert "bot:***@hooks.example.com" in text


def test_mongodb_documents_never_hold_the_secret(
    mongo_uri: str, mongo_db_name: str, mongo_db: Database[dict[str, Any]]
) -> None:
    """History documents and the execution document's embedded logs are redacted."""
    execution_id = ObjectId()
    mongo_db.job_executions.insert_one({"_id": execution_id, "jobId": JOB_ID, "status": "running"})
    pipeline = otel_revops.configure_logging(mongodb_uri=mongo_uri, mongodb_database=mongo_db_name, console="none")
    log_secrets(str(execution_id))
    assert pipeline.force_flush(15_000), pipeline.stats()

    history = list(mongo_db.execution_logs.find({"executionId": execution_id}))
    execution = mongo_db.job_executions.find_one({"_id": execution_id})
    assert sorted(d["message"] for d in history) == sorted(MESSAGES)
    assert execution is not None and len(execution["logs"]) == 3
    assert_redacted(json_util.dumps(history) + json_util.dumps(execution))
    (failure,) = [d for d in history if "exception" in d]
    assert failure["exception"]["message"] == "cannot reach https://bot:***@hooks.example.com"
    assert SECRET not in failure["exception"]["stacktrace"]


@pytest.mark.parametrize("protocol", ["grpc", "http/protobuf"])
def test_otlp_receiver_never_gets_the_secret(protocol: OtlpProtocol, otlp_receiver: OTLPReceiver) -> None:
    """What arrives at a real OTLP receiver — bodies, attributes, exception attributes — is redacted."""
    endpoint = otlp_receiver.grpc_endpoint if protocol == "grpc" else otlp_receiver.http_endpoint
    pipeline = otel_revops.configure_logging(otlp_endpoint=endpoint, otlp_protocol=protocol, console="none")
    log_secrets("exec-otlp")
    assert pipeline.force_flush(15_000), pipeline.stats()

    records = otlp_receiver.wait_for_records(3)
    assert sorted(str(r.body) for r in records) == sorted(MESSAGES)
    assert_redacted(repr(records))
    (failure,) = [r for r in records if "exception.message" in r.attributes]
    assert failure.attributes["exception.message"] == "cannot reach https://bot:***@hooks.example.com"
    assert {r.attributes["password"] for r in records if "password" in r.attributes} == {"[REDACTED]"}


def test_file_sink_never_writes_the_secret(tmp_path: Path) -> None:
    """The rotating OTLP/JSON file holds redacted records."""
    path = tmp_path / "logs" / "otel.jsonl"
    pipeline = otel_revops.configure_logging(file_path=str(path), console="none")
    log_secrets("exec-file")
    assert pipeline.force_flush(15_000), pipeline.stats()
    otel_revops.shutdown_logging()

    text = path.read_text(encoding="utf-8")
    assert all(message in text for message in ("webhook failed", "Bearer ***"))
    assert_redacted(text)


def test_every_output_at_once(
    mongo_uri: str, mongo_db_name: str, mongo_db: Database[dict[str, Any]], otlp_receiver: OTLPReceiver,
    tmp_path: Path,
) -> None:
    """With MongoDB, OTLP, the file and the console configured together, none of them shows the secret."""
    console = io.StringIO()
    path = tmp_path / "otel.jsonl"
    execution_id = ObjectId()
    pipeline = otel_revops.configure_logging(
        mongodb_uri=mongo_uri,
        mongodb_database=mongo_db_name,
        mongodb_upsert=True,
        otlp_endpoint=otlp_receiver.grpc_endpoint,
        file_path=str(path),
        console="json",
        console_stream=console,
    )
    log_secrets(str(execution_id))
    assert pipeline.force_flush(15_000), pipeline.stats()
    otel_revops.shutdown_logging()

    outputs = {
        "mongodb": json_util.dumps(list(mongo_db.execution_logs.find({"executionId": execution_id}))),
        "otlp": repr(otlp_receiver.wait_for_records(3)),
        "file": path.read_text(encoding="utf-8"),
        "console": console.getvalue(),
    }
    assert {name: SECRET in text for name, text in outputs.items()} == dict.fromkeys(outputs, False)
    assert all("[REDACTED]" in text for text in outputs.values())
