"""``python -m examples.revops_sync``: the RevOps sync job end to end, in one process.

It configures logging (pretty console + MongoDB), creates a job, and runs the sync function through
the Inngest SDK's real HTTP handler exactly as the Inngest executor would: one request per step, the
function replayed from the top each time with the memoized step results, the failing chunk retried
with the next attempt. Then it prints the execution document as stored — its ``logs`` array written by
the MongoDB exporter — and how many records the history holds for it.

MongoDB: ``OTEL_REVOPS_MONGODB_URI`` (or ``MONGODB_URI``) when set, else an embedded SecantusDB
server (a MongoDB wire-protocol server) that lives as long as the demo.
"""

from __future__ import annotations

import json
import os
import sys
from contextlib import ExitStack
from datetime import date, datetime, timedelta, timezone
from typing import Any

from bson import ObjectId

from examples.revops_sync.app import SYNC_REQUESTED, JobStore, create_client, create_functions
from otel_revops import configure_logging, shutdown_logging
from otel_revops.integrations.inngest_executor import drive_function, serve_functions

#: The demo's event says the run was scheduled this long ago, so it starts late.
SCHEDULED_AGO = timedelta(minutes=7)


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        # pymongo hands back naive UTC datetimes; print them the way the original stored them.
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        moment = moment.astimezone(timezone.utc)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{moment.microsecond // 1000:03d}Z"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _start_embedded_mongodb(stack: ExitStack) -> str:
    from secantus import SecantusDBServer

    server = stack.enter_context(
        SecantusDBServer(host="127.0.0.1", port=0, storage_path=":memory:", replica_set_name=None)
    )
    return str(server.uri)


def main() -> int:
    """Run the demo; 0 when the sync completed and its document was printed."""
    uri = os.environ.get("OTEL_REVOPS_MONGODB_URI") or os.environ.get("MONGODB_URI")
    with ExitStack() as stack:
        embedded = not uri
        if not uri:
            uri = _start_embedded_mongodb(stack)
        settings: dict[str, Any] = {"mongodb_uri": uri, "service_name": "revops-sync"}
        if embedded:
            # A throw-away server has nothing to replay a spooled batch into later.
            settings["spool"] = False
        pipeline = configure_logging(**settings)
        stack.callback(shutdown_logging)
        store = JobStore.from_settings(pipeline.settings)
        stack.callback(store.close)

        job_id = store.create_job("Contacts incremental sync", entity="contacts", sync_mode="incremental")
        client = create_client(is_production=False)
        functions = create_functions(client, store)
        app = serve_functions(client, functions, framework="flask")
        scheduled_at = datetime.now(timezone.utc) - SCHEDULED_AGO
        event = {
            "name": SYNC_REQUESTED,
            "data": {
                "jobId": job_id,
                "entity": "contacts",
                "syncMode": "incremental",
                "scheduledAt": scheduled_at.isoformat(),
                "maxJitterMs": 40,
            },
        }
        result = drive_function(app, functions[0], event)
        pipeline.force_flush()
        sys.stderr.flush()

        print(f"\nRun {result.run_id}: {result.status} after {len(result.requests)} requests from the executor")
        if result.status != "completed":
            print(json.dumps(result.error, indent=2, default=_json_default))
            return 1
        execution_id = ObjectId(result.output["executionId"])
        document = store.executions.find_one({"_id": execution_id})
        history = store.database[pipeline.settings.mongodb_logs_collection]
        print(f"\nStored execution document ({store.executions.name}):")
        print(json.dumps(document, indent=2, default=_json_default, ensure_ascii=False))
        count = history.count_documents({"executionId": execution_id})
        print(f"\nHistory: {count} records in {history.name} for execution {execution_id}")
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
