"""Dead letters hold customer data only as long as they must: :func:`upkeep` runs on beat
(``tasks.maintenance.dead_letter_upkeep``, every few minutes).

1. **A replay that went through.** A replayed entry keeps its data until its record has run
   through: the ledger's run history (written by the runner when each chain task ends) holds a
   run of the entry's chain for its record, in that chain's direction, that ended ``ok`` or
   ``skipped`` and started after the entry's last failure. Whatever carried it counts: the
   replayed task, one of its retries, ``--from-start``'s poll, a later poll or webhook. Both
   times come from the workers' clocks (not the replaying operator's). A replay that fails
   instead opens a new entry for the record, with that failure's data. Entries of a task that
   is no record's chain (a poll, a realtime trigger) have no record to follow: they keep their
   data until resolved or expired.
2. **Retention.** An entry still holding its data ``DLQ_RETENTION_DAYS`` after its last failure
   loses it; an open one becomes ``expired`` (still replayable from the start).
3. An entry without data is deleted ``DLQ_RETENTION_DAYS`` after its data was dropped.

Every step is audited in the queue (``dlq audit``). The retention is enforced here rather than
by Redis key expiry because entries live in one hash, and each expiry has to leave an audit
record and the indexes in step.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.exc import SQLAlchemyError

from sync_workers.dlq import DeadLetter, DeadLetterQueue
from sync_workers.flows.shape import Chain
from sync_workers.ledger import history

log = logging.getLogger(__name__)

#: Run outcomes that mean the record went through (``skipped``: it already had).
SUCCESS = ("ok", "skipped")
#: ``sync-status`` warns about entries that lose their data within this time.
EXPIRY_WARNING = timedelta(days=7)


def chain_of(task: str) -> tuple[str, Chain] | None:
    """(flow, chain) of a task named ``tasks.<flow>.<chain>``; None for any other task."""
    from sync_workers.flows.runner import definition  # the runner imports the base task

    parts = task.split(".")
    if len(parts) != 3 or parts[0] != "tasks":
        return None
    try:
        return parts[1], definition(parts[1]).chain(parts[2])
    except KeyError:
        return None


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def went_through(entry: DeadLetter, since: datetime) -> dict[str, Any] | None:
    """The newest successful run of the entry's record that started at or after ``since``, from
    the ledger's run history; None when there is none or the entry follows no record."""
    found = chain_of(entry.task)
    if found is None or not entry.record_id:
        return None
    flow, chain = found
    for run in history.runs_of(flow, chain.direction, chain.source_id(entry.record_id), limit=50):
        if run["outcome"] in SUCCESS and _aware(run["started_at"]) >= since:
            return run
    return None


def expires_at(entry: DeadLetter, retention: timedelta) -> datetime | None:
    """When the entry loses its data to the retention; None when it holds none."""
    if not entry.holds_data:
        return None
    return datetime.fromisoformat(entry.last_failed_at) + retention


def expiring(
    queue: DeadLetterQueue, retention: timedelta, *, within: timedelta = EXPIRY_WARNING
) -> list[DeadLetter]:
    """Entries that lose their data to the retention within ``within``, soonest first."""
    return queue.failed_before(datetime.now(UTC) - retention + within, holding_data=True)


def confirm_replays(queue: DeadLetterQueue) -> int:
    """Drop the data of every replayed entry whose record went through since; how many."""
    confirmed = 0
    for entry in queue.awaiting_replay():
        run = went_through(entry, datetime.fromisoformat(entry.last_failed_at))
        if run is None:
            continue
        started = _aware(run["started_at"]).isoformat(timespec="milliseconds")
        if queue.replay_went_through(entry.id, task_id=run.get("task_id"), started_at=started):
            confirmed += 1
    return confirmed


def upkeep(
    queue: DeadLetterQueue, retention: timedelta, *, now: datetime | None = None
) -> dict[str, int]:
    """Confirm replays, expire entries past the retention, delete entries without data past it.

    A ledger that cannot be read only postpones the confirmations; the retention is kept
    whatever the ledger's state."""
    now = now or datetime.now(UTC)
    try:
        confirmed = confirm_replays(queue)
    except SQLAlchemyError as exc:
        log.warning(
            "dead letters: replays not checked, the ledger is unavailable (%s)", type(exc).__name__
        )
        confirmed = 0
    expired = queue.expire(now - retention)
    deleted = queue.delete_without_data(now - retention)
    summary = {"replays_went_through": confirmed, "expired": len(expired), "deleted": len(deleted)}
    if any(summary.values()):
        log.info(
            "dead letters: %d replays went through, %d expired, %d deleted",
            confirmed,
            len(expired),
            len(deleted),
        )
    return summary
