"""Housekeeping on beat: ``tasks.maintenance.prune_history`` drops run history past its retention."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync_workers.celery import app
from sync_workers.ledger import history
from sync_workers.settings import get_settings


@app.task(name="tasks.maintenance.prune_history")
def prune_history() -> dict[str, Any]:
    """Delete the runs older than ``HISTORY_RETENTION_DAYS``."""
    cutoff = datetime.now(UTC) - timedelta(days=get_settings().history_retention_days)
    return {"removed": history.prune(cutoff), "before": cutoff.isoformat(timespec="seconds")}
