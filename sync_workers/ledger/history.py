"""Each record's history: one row per task run of its chain (``sync_runs``).

A run is written once, when the task ends (done, retried, dead-lettered), in one INSERT that
also carries the runs of the records the task ran inline (an order's payments). Rows older than
``HISTORY_RETENTION_DAYS`` are pruned by a periodic task.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Table, delete, insert, select

from sync_workers.ledger.db import session_scope
from sync_workers.ledger.models import SyncRun

_TABLE: Table = SyncRun.__table__  # type: ignore[assignment]
#: What a run keeps of an error message (the dead letter keeps it whole).
ERROR_LIMIT = 2000
PRUNE_BATCH = 5000


@dataclass(frozen=True)
class Run:
    flow: str
    direction: str
    source_id: str
    task: str
    task_id: str | None
    attempt: int
    steps: tuple[str, ...]
    outcome: str
    error_class: str | None
    error: str | None
    trace_id: str | None
    started_at: datetime
    duration_ms: int

    def row(self) -> dict[str, Any]:
        values = asdict(self)
        values["steps"] = ",".join(self.steps)[:255]
        values["error"] = self.error[:ERROR_LIMIT] if self.error else None
        return values


def write(runs: Sequence[Run], engine: Engine | None = None) -> None:
    """Append runs in one statement."""
    if not runs:
        return
    with session_scope(engine) as session:
        session.connection().execute(insert(_TABLE), [run.row() for run in runs])


def runs_of(
    flow: str, direction: str, source_id: str, *, limit: int = 100, engine: Engine | None = None
) -> list[dict[str, Any]]:
    """A record's runs, newest first."""
    query = (
        select(_TABLE)
        .where(
            _TABLE.c.flow == flow,
            _TABLE.c.direction == direction,
            _TABLE.c.source_id == source_id,
        )
        .order_by(_TABLE.c.started_at.desc(), _TABLE.c.id.desc())
        .limit(limit)
    )
    with session_scope(engine) as session:
        return [dict(row._mapping) for row in session.connection().execute(query)]


def prune(older_than: datetime, engine: Engine | None = None) -> int:
    """Delete the runs started before ``older_than``, a batch per transaction; the count."""
    removed = 0
    while True:
        with session_scope(engine) as session:
            ids = select(_TABLE.c.id).where(_TABLE.c.started_at < older_than).limit(PRUNE_BATCH)
            batch = [row.id for row in session.connection().execute(ids)]
            if not batch:
                return removed
            session.connection().execute(delete(_TABLE).where(_TABLE.c.id.in_(batch)))
            removed += len(batch)
