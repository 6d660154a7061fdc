"""``make demo`` (``python -m examples.revops_sync``): the RevOps sync job runs end to end in a fresh
process, shows the pretty console and prints the execution document MongoDB holds."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from bson import ObjectId
from pymongo.database import Database

REPO = Path(__file__).resolve().parents[2]
DOCUMENT_HEADING = "Stored execution document (job_executions):"
STORY = [
    "Job execution started: incremental sync",
    "Missed scheduled run",
    "Executing job with jitter",
    "Step jitter",
    "Starting chunked sync for entity",
    "Synced chunk",
    "Step sync-contacts-0",
    "Chunk sync failed; Inngest will retry it",
    "Step sync-contacts-1",
    "Synced chunk",
    "Step sync-contacts-1",
    "Synced chunk",
    "Step sync-contacts-2",
    "Step complete-execution",
    "Job execution completed",
]


def run_demo(**extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run the demo as ``make demo`` does, with only ``extra_env`` configuring it."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("OTEL_", "INNGEST_")) and k not in ("MONGODB_URI", "NO_COLOR", "FORCE_COLOR")
    }
    env.update(PYTHONUTF8="1", **extra_env)
    return subprocess.run(
        [sys.executable, "-m", "examples.revops_sync"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def printed_document(stdout: str) -> dict[str, Any]:
    """The execution document the demo printed (the JSON after its heading)."""
    text = stdout.split(DOCUMENT_HEADING, 1)[1]
    document, _ = json.JSONDecoder().raw_decode(text.lstrip())
    assert isinstance(document, dict)
    return document


class TestDemo:
    def test_demo_on_embedded_mongodb_shows_console_and_stored_document(self) -> None:
        """Without a MongoDB URI: exit 0, the pretty console tells the story, the printed document holds
        it once in order with the run's attributes, and the history count matches."""
        completed = run_demo()

        assert completed.returncode == 0, completed.stderr[-3000:]
        console = completed.stderr
        assert "ℹ️ [" in console
        assert "INFO    inngest.execution." in console
        assert "⚠️ [" in console
        assert "WARNING inngest.sync.scheduler: Missed scheduled run" in console
        assert "❌ [" in console
        assert "ERROR   inngest.sync.contacts: Chunk sync failed; Inngest will retry it" in console
        assert "CRMUnavailableError: CRM API timed out fetching contacts chunk 1" in console
        assert console.count("Job execution started: incremental sync") == 1
        assert '"inngest.run_id": "' in console

        document = printed_document(completed.stdout)
        assert [entry["message"] for entry in document["logs"]] == STORY
        assert document["status"] == "completed"
        assert document["recordsSynced"] == 120
        assert document["logCount"] == len(STORY)
        started = document["logs"][0]
        assert started["level"] == "info"
        assert started["timestamp"].endswith("Z")
        assert started["metadata"]["executionId"] == document["_id"]
        assert started["metadata"]["jobId"] == document["jobId"]
        assert started["metadata"]["syncMode"] == "incremental"
        failed = document["logs"][7]
        assert failed["exception"]["type"] == "CRMUnavailableError"
        assert failed["metadata"]["inngest"]["attempt"] == 0
        failed_step, retried_step = document["logs"][8]["metadata"], document["logs"][10]["metadata"]
        assert (failed_step["outcome"], failed_step["errorType"], failed_step["inngest"]["attempt"]) == (
            "error", "CRMUnavailableError", 0
        )  # fmt: skip
        assert (retried_step["outcome"], retried_step["inngest"]["attempt"]) == ("ok", 1)
        assert document["logs"][9]["metadata"]["inngest"]["attempt"] == 1
        assert f"History: {len(STORY)} records in execution_logs for execution {document['_id']}" in completed.stdout

    def test_demo_writes_to_the_configured_mongodb(self, mongo_uri: str, mongo_db: Database[dict[str, Any]]) -> None:
        """With OTEL_REVOPS_MONGODB_URI set, the job, its execution and the logs land in that database."""
        completed = run_demo(OTEL_REVOPS_MONGODB_URI=mongo_uri, OTEL_REVOPS_MONGODB_DATABASE=mongo_db.name)

        assert completed.returncode == 0, completed.stderr[-3000:]
        printed = printed_document(completed.stdout)
        execution_id = ObjectId(printed["_id"])
        execution = mongo_db["job_executions"].find_one({"_id": execution_id})
        assert execution is not None
        assert [entry["message"] for entry in execution["logs"]] == STORY
        assert mongo_db["jobs"].count_documents({"_id": ObjectId(execution["jobId"])}) == 1
        assert mongo_db["contacts"].count_documents({}) == 120
        history = list(mongo_db["execution_logs"].find({"executionId": execution_id}).sort("timestamp", 1))
        assert sorted(doc["message"] for doc in history) == sorted(STORY)
