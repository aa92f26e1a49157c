"""What the request handlers share: settings, the Redis client, the enqueue function."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import redis
from flask import current_app

from sync_workers.redis_client import get_redis
from sync_workers.settings import Settings
from sync_workers.webhooks.dedupe import SeenIds
from sync_workers.webhooks.enqueue import BrokerUnavailable, Enqueue
from sync_workers.webhooks.errors import refuse

EXTENSION = "sync_webhooks"


@dataclass
class Receiver:
    settings: Settings
    enqueue: Enqueue
    redis_url: str

    @property
    def redis(self) -> redis.Redis:
        return get_redis(self.redis_url)

    def seen(self, kind: str) -> SeenIds:
        return SeenIds(
            self.redis, self.settings.redis_key_prefix, kind, self.settings.webhook_dedupe_seconds
        )

    def enqueue_once(
        self, kind: str, notification_id: str, task: str, kwargs: dict[str, Any]
    ) -> tuple[bool, str | None]:
        """Enqueue ``task`` unless ``notification_id`` was enqueued before; (is_new, task id)."""
        try:
            with self.seen(kind).first_time(notification_id) as new:
                if not new:
                    return False, None
                return True, self.enqueue(task, kwargs)
        except BrokerUnavailable as exc:
            refuse(503, f"the broker is unavailable ({exc}); send again later")
        except redis.RedisError as exc:
            refuse(503, f"Redis is unavailable ({type(exc).__name__}); send again later")


def receiver() -> Receiver:
    return current_app.extensions[EXTENSION]
