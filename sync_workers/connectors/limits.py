"""Fleet-wide request limits in Redis: requests per window, concurrent requests, 429 backoff.

Every worker process on every machine that talks to one remote system shares the same keys, so
the caps hold whatever the number of workers:

* requests per window: a moving window from the ``limits`` library on its Redis storage,
  ``window_margin_seconds`` longer than the remote window so that network jitter between our
  count and the remote system's count cannot squeeze one request too many into its window;
* concurrent requests: a semaphore of leases in a sorted set, scored by expiry (Redis clock),
  so a process that dies holding a slot frees it when the lease runs out;
* adaptive backoff: a 429 sets a shared cool-down (``Retry-After`` when given, otherwise
  doubling per consecutive 429 up to a cap) that every process waits out before sending.

Waiting longer than ``max_wait`` raises :class:`RateLimited` so the task can be retried later
instead of holding a worker.
"""

from __future__ import annotations

import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis
from limits import RateLimitItemPerSecond
from limits.storage import RedisStorage
from limits.strategies import MovingWindowRateLimiter

from sync_workers.connectors.errors import RateLimited

_ACQUIRE = """
local cooling = redis.call('PTTL', KEYS[2])
if cooling > 0 then
  return -cooling
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
"""

_PENALIZE = """
local strikes = redis.call('INCR', KEYS[2])
redis.call('PEXPIRE', KEYS[2], tonumber(ARGV[3]))
local delay = tonumber(ARGV[1])
if delay < 0 then
  delay = math.min(tonumber(ARGV[2]) * (2 ^ (strikes - 1)), tonumber(ARGV[4]))
end
local current = redis.call('PTTL', KEYS[1])
if current < delay then
  redis.call('SET', KEYS[1], '1', 'PX', math.max(1, math.floor(delay)))
end
return math.floor(delay)
"""


def process_token() -> str:
    """A name for this process that is unique across machines."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class SharedLimits:
    """The limits of one remote system (``name``), shared by every process through Redis."""

    def __init__(
        self,
        client: redis.Redis,
        name: str,
        *,
        requests_per_window: int | None = None,
        window_seconds: int = 60,
        window_margin_seconds: int = 1,
        max_concurrent: int | None = None,
        lease_seconds: float = 300.0,
        max_wait: float = 30.0,
        backoff_base: float = 1.0,
        backoff_cap: float = 60.0,
        prefix: str = "sync:",
    ) -> None:
        self._redis = client
        self.name = name
        self.max_wait = max_wait
        self.max_concurrent = max_concurrent
        self._lease_ms = int(lease_seconds * 1000)
        self._backoff_base_ms = int(backoff_base * 1000)
        self._backoff_cap_ms = int(backoff_cap * 1000)
        base = f"{prefix}limits:{name}"
        self._slots_key = f"{base}:inflight"
        self._cooldown_key = f"{base}:cooldown"
        self._strikes_key = f"{base}:strikes"
        self._acquire = client.register_script(_ACQUIRE)
        self._penalize = client.register_script(_PENALIZE)
        self._penalized = False
        self._rate: RateLimitItemPerSecond | None = None
        if requests_per_window:
            storage = RedisStorage(
                "redis://", connection_pool=client.connection_pool, key_prefix=f"{base}:rate"
            )
            self._limiter = MovingWindowRateLimiter(storage)
            self._rate = RateLimitItemPerSecond(
                requests_per_window, window_seconds + window_margin_seconds
            )

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one request slot: cool-down waited out, concurrency and rate acquired."""
        deadline = time.monotonic() + self.max_wait
        token = self._acquire_concurrency(deadline)
        try:
            self._acquire_rate(deadline)
            yield
        finally:
            if token is not None:
                self._redis.zrem(self._slots_key, token)

    def _wait_cooldown(self, deadline: float) -> None:
        remaining_ms = self._redis.pttl(self._cooldown_key)
        if remaining_ms is None or remaining_ms <= 0:
            return
        self._sleep_cooldown(remaining_ms, deadline)

    def _sleep_cooldown(self, remaining_ms: int, deadline: float) -> None:
        wait = remaining_ms / 1000 + random.uniform(0, 0.05)
        if time.monotonic() + wait > deadline:
            raise RateLimited(
                f"{self.name}: backing off after 429",
                retry_after=wait,
                details={"system": self.name, "reason": "shared cool-down"},
            )
        time.sleep(wait)

    def _acquire_concurrency(self, deadline: float) -> str | None:
        """A concurrency lease, after any cool-down; one Redis round trip when both are free."""
        if not self.max_concurrent:
            self._wait_cooldown(deadline)
            return None
        token = uuid.uuid4().hex
        delay = 0.005
        while True:
            got = int(
                self._acquire(
                    keys=[self._slots_key, self._cooldown_key],
                    args=[self.max_concurrent, self._lease_ms, token],
                )
            )
            if got == 1:
                return token
            if got < 0:  # a 429 cool-down: -milliseconds left
                self._sleep_cooldown(-got, deadline)
                continue
            if time.monotonic() > deadline:
                raise RateLimited(
                    f"{self.name}: all {self.max_concurrent} concurrent slots busy",
                    retry_after=1.0,
                    details={"system": self.name, "reason": "concurrency limit"},
                )
            time.sleep(delay + random.uniform(0, delay))
            delay = min(delay * 2, 0.05)

    def _acquire_rate(self, deadline: float) -> None:
        if self._rate is None:
            return
        while not self._limiter.hit(self._rate):
            stats = self._limiter.get_window_stats(self._rate)
            wait = max(0.005, stats.reset_time - time.time()) + random.uniform(0, 0.02)
            if time.monotonic() + wait > deadline:
                raise RateLimited(
                    f"{self.name}: request rate limit reached",
                    retry_after=wait,
                    details={"system": self.name, "reason": "rate limit"},
                )
            time.sleep(min(wait, 1.0))

    def penalize(self, retry_after: float | None = None) -> float:
        """Record a 429: every process pauses. Returns the pause in seconds."""
        delay_ms = -1 if retry_after is None else int(retry_after * 1000)
        self._penalized = True
        applied = self._penalize(
            keys=[self._cooldown_key, self._strikes_key],
            args=[delay_ms, self._backoff_base_ms, self._backoff_cap_ms * 2, self._backoff_cap_ms],
        )
        return int(applied) / 1000

    def relax(self) -> None:
        """A request went through: forget the 429 streak this process started."""
        if self._penalized:
            self._penalized = False
            self._redis.delete(self._strikes_key)

    def in_flight(self) -> int:
        """Live concurrency leases (for metrics and tests)."""
        now_ms = int(time.time() * 1000)
        return int(self._redis.zcount(self._slots_key, now_ms, "+inf"))


def limits_for(client: redis.Redis, name: str, config: Any, *, prefix: str) -> SharedLimits:
    """The shared limits of one remote system from its connector config (``requests_per_minute``,
    ``rate_window_seconds``, ``max_concurrent``, timeouts, ``max_wait_seconds``). Always built,
    even without caps, so a 429 pauses the whole fleet."""
    return SharedLimits(
        client,
        name,
        requests_per_window=config.requests_per_minute,
        window_seconds=config.rate_window_seconds,
        max_concurrent=config.max_concurrent,
        lease_seconds=config.connect_timeout + config.read_timeout + 5.0,
        max_wait=config.max_wait_seconds,
        prefix=prefix,
    )
