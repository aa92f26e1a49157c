"""A poll task of a flow, so a real worker records its last run."""

from __future__ import annotations

from sync_workers.celery import app


@app.task(name="tests.customers.poll", flow="customers")
def poll() -> dict:
    return {"started": []}
