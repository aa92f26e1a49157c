"""Housekeeping on beat: ``tasks.maintenance.prune_history`` drops run history past its
retention; ``tasks.maintenance.dead_letter_upkeep`` drops the data of dead letters that no
longer need it (replays that went through, ``DLQ_RETENTION_DAYS``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sync_workers import dlq_upkeep
from sync_workers.celery import app
from sync_workers.ledger import history
from sync_workers.settings import get_settings
from sync_workers.task import get_dlq


@app.task(name="tasks.maintenance.prune_history")
def prune_history() -> dict[str, Any]:
    """Delete the runs older than ``HISTORY_RETENTION_DAYS``."""
    cutoff = datetime.now(UTC) - timedelta(days=get_settings().history_retention_days)
    return {"removed": history.prune(cutoff), "before": cutoff.isoformat(timespec="seconds")}


@app.task(name="tasks.maintenance.dead_letter_upkeep")
def dead_letter_upkeep() -> dict[str, int]:
    """Confirm replays that went through, expire and delete entries past ``DLQ_RETENTION_DAYS``."""
    retention = timedelta(days=get_settings().dlq_retention_days)
    return dlq_upkeep.upkeep(get_dlq(), retention)
