"""Put one task on the broker, or say clearly that the broker is unavailable (→ 503)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: ``enqueue(task_name, kwargs) -> task id``; raises :class:`BrokerUnavailable`.
Enqueue = Callable[[str, dict[str, Any]], str]

#: Fail fast when the broker is down: the sender retries, a hanging request helps nobody.
RETRY_POLICY = {"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5, "interval_max": 1.0}


class BrokerUnavailable(Exception):
    pass


def celery_enqueue(task: str, kwargs: dict[str, Any]) -> str:
    """Publish by name on the engine's app (routing sends ``realtime_*`` steps to ``realtime``)."""
    from sync_workers.celery import app

    try:
        result = app.send_task(task, kwargs=kwargs, retry=True, retry_policy=RETRY_POLICY)
    except Exception as exc:  # kombu and redis raise many classes for one outage
        raise BrokerUnavailable(type(exc).__name__) from exc
    return str(result.id)
