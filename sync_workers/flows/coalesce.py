"""Coalescing bursts: a key's first change flushes at once, later ones at most once per window.

A change sets the key's *pending* marker in Redis (``SET NX``); the caller that set it schedules
one flush. The flush clears the marker *before* it reads the source, so a change that lands while
it works schedules the next flush instead of being lost, and it starts the key's *cool-down*
(``window`` seconds). A flush scheduled while the key cools down is delayed to the cool-down's
end: an isolated change is written without waiting, and a burst becomes the flush at its start
plus at most one flush per window after it, each reading the latest value. Both markers expire
on their own (the pending one after ``ttl``, in case a flush message is lost), so the next
change or poll schedules again.
"""

from __future__ import annotations

from collections.abc import Iterable

from sync_workers.redis_client import get_redis, prefixed

MIN_TTL_SECONDS = 60


class Coalescer:
    def __init__(self, flow: str, window: float, *, ttl: float | None = None) -> None:
        self.flow = flow
        self.window = max(0.0, float(window))
        self.ttl = int(ttl if ttl is not None else max(MIN_TTL_SECONDS, self.window * 20))

    def _key(self, key: str) -> str:
        return prefixed("coalesce", self.flow, key)

    def _cool_key(self, key: str) -> str:
        return prefixed("coalesce-cool", self.flow, key)

    def schedule(self, keys: Iterable[str]) -> list[tuple[str, float]]:
        """Note changes to ``keys``; returns ``(key, countdown)`` for each flush the caller
        must schedule: 0 for a key not flushed within the window, else the cool-down left."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return []
        pipe = get_redis().pipeline(transaction=False)
        for key in keys:
            pipe.set(self._key(key), "1", nx=True, ex=self.ttl)
            pipe.pttl(self._cool_key(key))
        answers = pipe.execute()
        due = []
        for index, key in enumerate(keys):
            created, cool_ms = answers[2 * index], answers[2 * index + 1]
            if created:
                due.append((key, max(0, cool_ms) / 1000))
        return due

    def mark(self, keys: Iterable[str]) -> list[str]:
        """Note changes to ``keys``; returns the keys whose flush the caller must schedule
        (at once: the caller flushes regardless of the cool-down)."""
        return [key for key, _ in self.schedule(keys)]

    def begin_flush(self, key: str) -> None:
        """Called by the flush before it reads: changes from now on schedule a new flush, no
        sooner than ``window`` seconds from now."""
        pipe = get_redis().pipeline(transaction=False)
        pipe.delete(self._key(key))
        if self.window > 0:
            pipe.set(self._cool_key(key), "1", px=max(1, int(self.window * 1000)))
        pipe.execute()
