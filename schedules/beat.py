"""Every periodic entry of the engine, in one place: one poll per flow, and housekeeping (run
history, dead letters).

Entries name their task by string (``tasks.<flow>.poll``), so the schedule never imports the
tasks. Each entry expires after 1.5 intervals: when the workers are behind, a stale poll is
dropped instead of piling up behind the next one. Run beat with RedBeat
(``celery -A sync_workers beat -S redbeat.RedBeatScheduler``): the schedule and its last-run times
live in Redis, and RedBeat's lock keeps a second beat standing by instead of sending twice.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sync_workers.flows import NAMES as FLOWS
from sync_workers.settings import Settings

EXPIRY_FACTOR = 1.5
#: How often the run history is pruned (``HISTORY_RETENTION_DAYS`` says what goes).
PRUNE_HISTORY_SECONDS = 3600
#: How often dead letters are checked: replays that went through, ``DLQ_RETENTION_DAYS``.
DEAD_LETTER_UPKEEP_SECONDS = 600


def poll_interval(settings: Settings, flow: str) -> float:
    """The flow's own interval when set, else ``POLL_INTERVAL_SECONDS``."""
    own = getattr(settings, f"{flow}_poll_interval_seconds", None)
    return float(own if own is not None else settings.poll_interval_seconds)


def build_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """``beat_schedule`` for the Celery app: ``poll-<flow>`` → ``tasks.<flow>.poll``."""
    schedule: dict[str, dict[str, Any]] = {}
    for flow in FLOWS:
        every = poll_interval(settings, flow)
        schedule[f"poll-{flow}"] = {
            "task": f"tasks.{flow}.poll",
            "schedule": timedelta(seconds=every),
            "options": {"expires": round(every * EXPIRY_FACTOR, 3)},
        }
    schedule["prune-history"] = {
        "task": "tasks.maintenance.prune_history",
        "schedule": timedelta(seconds=PRUNE_HISTORY_SECONDS),
        "options": {"expires": PRUNE_HISTORY_SECONDS * EXPIRY_FACTOR},
    }
    schedule["dead-letter-upkeep"] = {
        "task": "tasks.maintenance.dead_letter_upkeep",
        "schedule": timedelta(seconds=DEAD_LETTER_UPKEEP_SECONDS),
        "options": {"expires": DEAD_LETTER_UPKEEP_SECONDS * EXPIRY_FACTOR},
    }
    return schedule
