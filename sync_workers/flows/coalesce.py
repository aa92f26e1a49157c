"""Coalescing bursts: many changes to one key within a window become one delayed flush.

The first change to a key sets a marker in Redis (``SET NX``) and its caller schedules one flush
``window`` seconds later; later changes find the marker and do nothing. The flush clears the marker
*before* it reads the source, so a change that lands while it works schedules the next flush
instead of being lost. The marker expires on its own (``ttl``) in case a flush message is lost, so
the next change or poll schedules again.
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

    def mark(self, keys: Iterable[str]) -> list[str]:
        """Note changes to ``keys``; returns the keys whose flush the caller must schedule."""
        keys = list(dict.fromkeys(keys))
        if not keys:
            return []
        pipe = get_redis().pipeline(transaction=False)
        for key in keys:
            pipe.set(self._key(key), "1", nx=True, ex=self.ttl)
        return [key for key, created in zip(keys, pipe.execute(), strict=True) if created]

    def begin_flush(self, key: str) -> None:
        """Called by the flush before it reads: changes from now on schedule a new flush."""
        get_redis().delete(self._key(key))
