"""The RevOps sync app: an Inngest client and the sync job, logging through otel-revops.

``sync_job`` runs on the event ``revops/sync.requested`` (``data.jobId``). It creates its execution
document in a step, announces itself, warns when it starts later than scheduled, waits a little
jitter, then syncs an entity (contacts) from the CRM in chunked steps. A chunk whose CRM call fails is
logged with its exception and retried by Inngest. Every record carries the run's ``inngest.*``
attributes (from the middleware) and, once the execution exists, its ``jobId`` and ``executionId``,
so the MongoDB exporter stores it beside the execution document.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import inngest
from bson import ObjectId
from pymongo import MongoClient, UpdateOne
from pymongo.database import Database

from otel_revops import Settings, execution_context, get_execution_logger, get_logger, get_sync_logger
from otel_revops.integrations.inngest import ExecutionContextMiddleware, InngestLogger

__all__ = [
    "SYNC_REQUESTED",
    "FakeCRM",
    "JobStore",
    "create_client",
    "create_functions",
]

#: The event that starts a sync.
SYNC_REQUESTED = "revops/sync.requested"
#: How late a run may start before it counts as a missed scheduled run.
SCHEDULE_TOLERANCE = timedelta(minutes=5)


class CRMUnavailableError(ConnectionError):
    """The CRM did not answer in time."""


@dataclass
class FakeCRM:
    """A CRM whose contacts are generated; ``flaky_chunks`` fail on a run's first attempt."""

    contacts: int = 120
    chunk_size: int = 50
    flaky_chunks: frozenset[int] = frozenset({1})

    def chunk_count(self) -> int:
        """How many chunks a full sync takes."""
        return -(-self.contacts // self.chunk_size)

    def fetch(self, chunk: int, attempt: int) -> list[dict[str, Any]]:
        """The contacts of ``chunk``; raises :class:`CRMUnavailableError` for a flaky chunk's first attempt."""
        if chunk in self.flaky_chunks and attempt == 0:
            raise CRMUnavailableError(f"CRM API timed out fetching contacts chunk {chunk}")
        start = chunk * self.chunk_size
        stop = min(self.contacts, start + self.chunk_size)
        return [{"crmId": f"c-{n:05d}", "email": f"contact{n}@example.com"} for n in range(start, stop)]


class JobStore:
    """The jobs, their executions and the synced contacts, in MongoDB."""

    def __init__(self, database: Database[dict[str, Any]], executions_collection: str = "job_executions") -> None:
        self.database = database
        self.jobs = database["jobs"]
        #: The execution documents (the collection the MongoDB exporter appends logs to).
        self.executions = database[executions_collection]
        self.contacts = database["contacts"]

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> JobStore:
        """The store on the MongoDB that logging writes to (``OTEL_REVOPS_MONGODB_URI`` / ``MONGODB_URI``)."""
        resolved = settings or Settings.resolve()
        if not resolved.mongodb_uri:
            raise RuntimeError("set OTEL_REVOPS_MONGODB_URI (or MONGODB_URI) to the MongoDB holding the jobs")
        client: MongoClient[dict[str, Any]] = MongoClient(resolved.mongodb_uri)
        database = client[resolved.mongodb_database or client.get_default_database("revops").name]
        return cls(database, resolved.mongodb_executions_collection)

    def close(self) -> None:
        """Close the connection to MongoDB."""
        self.database.client.close()

    def create_job(self, name: str, entity: str, sync_mode: str) -> str:
        """A new job document; returns its id."""
        job_id = ObjectId()
        self.jobs.insert_one({"_id": job_id, "name": name, "entity": entity, "syncMode": sync_mode})
        return str(job_id)

    def create_execution(self, job_id: str, sync_mode: str, entity: str) -> str:
        """A new running execution of ``job_id``; returns its id."""
        execution_id = ObjectId()
        self.executions.insert_one(
            {
                "_id": execution_id,
                "jobId": job_id,
                "status": "running",
                "syncMode": sync_mode,
                "entity": entity,
                "startedAt": datetime.now(timezone.utc),
                "logs": [],
                "logCount": 0,
            }
        )
        return str(execution_id)

    def save_contacts(self, contacts: list[dict[str, Any]]) -> int:
        """Upsert contacts by CRM id; returns how many were written."""
        if not contacts:
            return 0
        self.contacts.bulk_write([UpdateOne({"crmId": c["crmId"]}, {"$set": c}, upsert=True) for c in contacts])
        return len(contacts)

    def complete_execution(self, execution_id: str, records_synced: int) -> None:
        """Mark the execution completed."""
        self.executions.update_one(
            {"_id": ObjectId(execution_id)},
            {
                "$set": {
                    "status": "completed",
                    "finishedAt": datetime.now(timezone.utc),
                    "recordsSynced": records_synced,
                }
            },
        )


def create_client(*, is_production: bool | None = None) -> inngest.Inngest:
    """The Inngest client: its logger and ``ctx.logger`` write through the pipeline (category ``inngest``),
    and every record of a run carries the run's attributes. ``is_production`` None: the SDK decides
    (``INNGEST_DEV=1`` for the dev server)."""
    return inngest.Inngest(
        app_id="revops-sync",
        logger=InngestLogger(),
        middleware=[ExecutionContextMiddleware],
        is_production=is_production,
    )


def _missed_by(scheduled_at: str | None, now: datetime) -> timedelta | None:
    if not scheduled_at:
        return None
    scheduled = datetime.fromisoformat(scheduled_at.replace("Z", "+00:00"))
    late = now - scheduled
    return late if late > SCHEDULE_TOLERANCE else None


def create_functions(
    client: inngest.Inngest, store: JobStore, crm: FakeCRM | None = None
) -> list[inngest.Function[Any]]:
    """The app's functions, bound to ``store`` and ``crm``."""
    source = crm or FakeCRM()

    @client.create_function(
        fn_id="sync-job",
        name="RevOps sync job",
        trigger=inngest.TriggerEvent(event=SYNC_REQUESTED),
        retries=3,
    )
    def sync_job(ctx: inngest.ContextSync) -> dict[str, Any]:
        data = ctx.event.data
        job_id = str(data["jobId"])
        sync_mode = str(data.get("syncMode", "incremental"))
        entity = str(data.get("entity", "contacts"))
        # ctx.logger is typed as a stdlib logger: properties go in `extra=`.
        ctx.logger.info("Sync job received", extra={"entity": entity, "syncMode": sync_mode})

        execution_id = ctx.step.run("create-execution", store.create_execution, job_id, sync_mode, entity)
        with execution_context(execution_id=execution_id):
            log = get_execution_logger(job_id, execution_id)
            log.info(f"Job execution started: {sync_mode} sync", syncMode=sync_mode)

            missed = _missed_by(str(data.get("scheduledAt") or ""), datetime.now(timezone.utc))
            if missed is not None:
                get_logger("inngest.sync.scheduler").warning(
                    "Missed scheduled run",
                    missedRunTime=data.get("scheduledAt"),
                    lateBySeconds=round(missed.total_seconds()),
                )

            max_jitter_ms = int(str(data.get("maxJitterMs", 2000)))

            def apply_jitter() -> int:
                jitter_ms = random.randint(0, max_jitter_ms)
                log.info("Executing job with jitter", jitterMs=jitter_ms)
                time.sleep(jitter_ms / 1000)
                return jitter_ms

            ctx.step.run("jitter", apply_jitter)

            sync_log = get_sync_logger(entity)
            chunks = source.chunk_count()
            sync_log.info("Starting chunked sync for entity", chunks=chunks, chunkSize=source.chunk_size)

            def sync_chunk(chunk: int) -> int:
                try:
                    contacts = source.fetch(chunk, ctx.attempt)
                except CRMUnavailableError:
                    sync_log.error("Chunk sync failed; Inngest will retry it", exc_info=True, chunk=chunk)
                    raise
                written = store.save_contacts(contacts)
                sync_log.info("Synced chunk", chunk=chunk, records=written)
                return written

            synced = sum(ctx.step.run(f"sync-{entity}-{chunk}", sync_chunk, chunk) for chunk in range(chunks))

            ctx.step.run("complete-execution", store.complete_execution, execution_id, synced)
            log.info("Job execution completed", recordsSynced=synced)
        return {"executionId": execution_id, "recordsSynced": synced}

    return [sync_job]
