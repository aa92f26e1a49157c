"""Remember notification ids for a while so a resent notification is enqueued once.

Keys are ``<prefix>seen:<kind>:<id>``: ``seen:push:<flow>:<Id>:<digest of Query>`` for Acumatica
(one transaction notifies every push definition that tracks it, each with the same ``Id``),
``seen:xcart:<delivery id>`` for the store module. The mark is taken before publishing
(``SET NX EX``) and removed again when publishing fails, so the sender's redelivery of a
notification we could not enqueue is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import redis


class SeenIds:
    def __init__(self, client: redis.Redis, prefix: str, kind: str, ttl_seconds: int) -> None:
        self._redis = client
        self._base = f"{prefix}seen:{kind}:"
        self.ttl = ttl_seconds

    def key(self, notification_id: str) -> str:
        return self._base + notification_id

    @contextmanager
    def first_time(self, notification_id: str) -> Iterator[bool]:
        """Yields True when the id is new; an exception inside the block forgets the id again."""
        key = self.key(notification_id)
        new = bool(self._redis.set(key, "1", nx=True, ex=self.ttl))
        try:
            yield new
        except BaseException:
            if new:
                self._redis.delete(key)
            raise
