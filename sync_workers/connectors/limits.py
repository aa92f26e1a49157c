"""Fleet-wide request limits in Redis: requests per window, concurrent requests, 429 backoff.

Every worker process on every machine that talks to one remote system shares the same keys, so
the caps hold whatever the number of workers:

* requests per window: a moving window of request times (Redis clock) in a list,
  ``window_margin_seconds`` longer than the remote window so that network jitter between our
  count and the remote system's count cannot squeeze one request too many into its window;
* concurrent requests: a semaphore of leases in a sorted set, scored by expiry (Redis clock),
  so a process that dies holding a slot frees it when the lease runs out; a lease that names its
  process's heartbeat key (``alive:<holder>``, :func:`sync_workers.locks.heartbeat_key`) is
  freed sooner, once the cap is reached and that heartbeat is gone (the process died or has
  been cut off from Redis for ``HOLDER_SECONDS``): a killed worker's requests, answered or
  dropped long before, no longer hold the fleet's slots for the rest of their leases (the
  connect and read timeouts);
* adaptive backoff: a 429 sets a shared cool-down (``Retry-After`` when given, otherwise
  doubling per consecutive 429 up to a cap) that every process waits out before sending.

A request takes its slot in one Redis round trip (cool-down, concurrency and rate checked and
taken by one script) and gives it back in another. Waiting longer than ``max_wait`` raises
:class:`RateLimited` so the task can be retried later instead of holding a worker.
"""

from __future__ import annotations

import copy
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import redis

from sync_workers.connectors.errors import RateLimited

#: Take a request slot, or say why not. KEYS: leases, cool-down, window, counter hash, the
#: holder's write mark. ARGV: max concurrent (0: no cap), lease ms, token, requests per window
#: (0: no cap), window ms, the counter's field ("": count nothing; else HINCRBY once the slot is
#: taken), "1" to set the write mark for the lease's time once the slot is taken. A token
#: ``<heartbeat key>|<id>`` names its process's heartbeat: with the cap reached, the slots whose
#: heartbeat key is gone are removed before the count.
#: Returns {1, 0} (taken), {0, 0} (every concurrency slot busy), {-1, ms} (429 cool-down left)
#: or {-2, ms} (until the oldest request in the window leaves it). Nothing is taken unless all
#: three allow it, so a request waiting for the rate holds no concurrency slot.
_ACQUIRE = """
local cooling = redis.call('PTTL', KEYS[2])
if cooling > 0 then
  return {-1, cooling}
end
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local max_concurrent = tonumber(ARGV[1])
if max_concurrent > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
  if redis.call('ZCARD', KEYS[1]) >= max_concurrent then
    for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
      local cut = string.find(member, '|', 1, true)
      if cut and redis.call('EXISTS', string.sub(member, 1, cut - 1)) == 0 then
        redis.call('ZREM', KEYS[1], member)
      end
    end
    if redis.call('ZCARD', KEYS[1]) >= max_concurrent then
      return {0, 0}
    end
  end
end
local per_window = tonumber(ARGV[4])
if per_window > 0 then
  local window_ms = tonumber(ARGV[5])
  if redis.call('LLEN', KEYS[3]) >= per_window then
    local oldest = tonumber(redis.call('LINDEX', KEYS[3], per_window - 1))
    if oldest > now_ms - window_ms then
      return {-2, oldest + window_ms - now_ms}
    end
  end
  redis.call('LPUSH', KEYS[3], now_ms)
  redis.call('LTRIM', KEYS[3], 0, per_window - 1)
  redis.call('PEXPIRE', KEYS[3], window_ms)
end
if max_concurrent > 0 then
  redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
end
if ARGV[6] ~= '' then
  redis.call('HINCRBY', KEYS[4], ARGV[6], 1)
end
if ARGV[7] == '1' then
  redis.call('SET', KEYS[5], '1', 'PX', tonumber(ARGV[2]))
end
return {1, 0}
"""

#: Requests in the moving window now. KEYS: window. ARGV: window ms.
_IN_WINDOW = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local since = now_ms - tonumber(ARGV[1])
local count = 0
for _, at in ipairs(redis.call('LRANGE', KEYS[1], 0, -1)) do
  if tonumber(at) > since then
    count = count + 1
  end
end
return count
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
        self._window_key = f"{base}:window"
        self._acquire = client.register_script(_ACQUIRE)
        self._penalize = client.register_script(_PENALIZE)
        self._penalized = False
        self.requests_per_window = requests_per_window or 0
        self._window_ms = (window_seconds + window_margin_seconds) * 1000

    @contextmanager
    def slot(
        self,
        count: tuple[str, str] | None = None,
        writing: str | None = None,
        heartbeat: str | None = None,
    ) -> Iterator[None]:
        """Hold one request slot: cool-down waited out, concurrency and rate acquired.
        ``count``: a Redis hash and field incremented in the same round trip once it is taken.
        ``writing``: a key set, in that round trip, for as long as the request may be in flight
        (the lease's time), and removed with the lease (a record lock holder's write mark).
        ``heartbeat``: this process's heartbeat key, named in the lease: once it is gone, the
        slot is free for others."""
        token = uuid.uuid4().hex
        if heartbeat:
            token = f"{heartbeat}|{token}"
        self._take(time.monotonic() + self.max_wait, token, count, writing)
        try:
            yield
        finally:
            if writing is not None:
                pipe = self._redis.pipeline(transaction=False)
                pipe.zrem(self._slots_key, token)
                pipe.delete(writing)
                pipe.execute()
            elif self.max_concurrent:
                self._redis.zrem(self._slots_key, token)

    def _take(
        self,
        deadline: float,
        token: str,
        count: tuple[str, str] | None = None,
        writing: str | None = None,
    ) -> None:
        """Take a request slot (its concurrency lease under ``token``), waiting while a 429
        cool-down, the concurrency cap or the rate window says no; one round trip when all say
        yes."""
        delay = 0.005
        while True:
            got, wait_ms = (
                int(value)
                for value in self._acquire(
                    keys=[
                        self._slots_key,
                        self._cooldown_key,
                        self._window_key,
                        count[0] if count else self._slots_key,
                        writing or self._slots_key,
                    ],
                    args=[
                        self.max_concurrent or 0,
                        self._lease_ms,
                        token,
                        self.requests_per_window,
                        self._window_ms,
                        count[1] if count else "",
                        "1" if writing else "",
                    ],
                )
            )
            if got == 1:
                return
            if got == 0:  # every concurrency slot is busy: poll with a growing pause
                wait, reason = delay + random.uniform(0, delay), "concurrency limit"
                delay = min(delay * 2, 0.05)
                text = f"all {self.max_concurrent} concurrent slots busy"
            elif got == -1:
                wait, reason = wait_ms / 1000 + random.uniform(0, 0.05), "shared cool-down"
                text = "backing off after 429"
            else:
                wait, reason = max(0.005, wait_ms / 1000) + random.uniform(0, 0.02), "rate limit"
                text = "request rate limit reached"
            if time.monotonic() + wait > deadline:
                raise RateLimited(
                    f"{self.name}: {text}",
                    retry_after=1.0 if got == 0 else wait,
                    details={"system": self.name, "reason": reason},
                )
            time.sleep(min(wait, 1.0) if got == -2 else wait)

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

    def without_rate_window(self) -> SharedLimits:
        """The same limits (concurrency leases, 429 cool-down) without the per-window request
        count: for requests the remote system does not count against its request rate."""
        other = copy.copy(self)
        other.requests_per_window = 0
        other._penalized = False
        return other

    def in_flight(self) -> int:
        """Live concurrency leases (for metrics and tests)."""
        now_ms = int(time.time() * 1000)
        return int(self._redis.zcount(self._slots_key, now_ms, "+inf"))

    def cooldown_left(self) -> float:
        """Seconds of 429 cool-down left (0 when none)."""
        return max(0, int(self._redis.pttl(self._cooldown_key) or 0)) / 1000

    def in_window(self) -> int:
        """Requests in the moving window now (for ``sync-status`` and tests)."""
        if not self.requests_per_window:
            return 0
        return int(self._redis.eval(_IN_WINDOW, 1, self._window_key, self._window_ms))


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
