"""Serve the RevOps sync app with FastAPI, for the Inngest dev server (or Inngest Cloud).

::

    export OTEL_REVOPS_MONGODB_URI=mongodb://127.0.0.1:27017/revops
    INNGEST_DEV=1 uvicorn examples.revops_sync.serve:app --host 127.0.0.1 --port 8000
    npx inngest-cli@latest dev -u http://127.0.0.1:8000/api/inngest --no-discovery

then send ``revops/sync.requested`` with ``{"jobId": "<a job's id>"}`` from the dev server's UI.
Logging is configured from the environment (``OTEL_REVOPS_*``), before the first request.
"""

from __future__ import annotations

import fastapi
import inngest.fast_api

from examples.revops_sync.app import JobStore, create_client, create_functions
from otel_revops import configure_logging

__all__ = ["app", "create_app"]


def create_app() -> fastapi.FastAPI:
    """A FastAPI app serving the sync job at ``/api/inngest``, with logging configured."""
    pipeline = configure_logging()
    client = create_client()
    functions = create_functions(client, JobStore.from_settings(pipeline.settings))
    fastapi_app = fastapi.FastAPI(title="RevOps sync")
    inngest.fast_api.serve(fastapi_app, client, functions)
    return fastapi_app


#: The ASGI app (``uvicorn examples.revops_sync.serve:app``).
app = create_app()
