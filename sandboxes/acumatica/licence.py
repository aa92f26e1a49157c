"""Licence limits on API requests: concurrency with a queue, per-minute throttling, declines.

Model of the documented mechanics (reference §6):

* at most ``max_concurrent`` requests are processed at once; others wait in one queue;
* from 50 % of ``requests_per_minute`` on, each new request is delayed by the time left until
  one minute after the first request of the current window, divided by the number of requests
  still allowed in that minute (the delays are chained, so a burst is spread out); once the
  quota is used up a request waits for the next window;
* a request is declined with 429 when ``queue_limit`` requests already wait, or when it has
  waited more than ``max_wait_seconds``; declined requests are not counted;
* sign-out never waits;
* ``odata_in_api_queue``: whether a Basic-auth OData request (a conventional user's, not an API
  user's) enters this queue and counts per minute. Acumatica documents these limits for "web
  services API" requests of API users and says nothing of OData: unconfirmed, so a switch. On by
  default (the cautious reading); a cookie or bearer OData request is an API user's and always
  enters.

``minute_seconds`` shrinks the minute for tests.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any


@dataclass
class Limits:
    max_sessions: int = 2
    max_concurrent: int = 10
    requests_per_minute: int | None = None
    queue_limit: int = 20
    max_wait_seconds: float = 600
    minute_seconds: float = 60
    idle_timeout_seconds: float = 600
    odata_in_api_queue: bool = True

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            if key not in self.__dict__:
                raise ValueError(f"unknown licence setting '{key}'")
            if key == "odata_in_api_queue":
                if not isinstance(value, bool):
                    raise ValueError("odata_in_api_queue must be true or false")
            elif key == "requests_per_minute":
                if value is not None and (not isinstance(value, int) or value < 1):
                    raise ValueError("requests_per_minute must be null or a positive integer")
            elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{key} must be a non-negative number")
            setattr(self, key, value)


class Declined(Exception):
    """The request is refused with 429."""


class Gate:
    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self._cond = threading.Condition()
        self._active = 0
        self._waiting = 0
        self._window_start: float | None = None
        self._window_count = 0
        self._last_release = 0.0
        self.peak_active = 0
        self.peak_queue = 0
        self.declined = 0
        self.per_minute_peak = 0
        self.last_delay = 0.0
        self.throttled = 0

    def reset_stats(self) -> None:
        with self._cond:
            self.peak_active = self._active
            self.peak_queue = 0
            self.declined = 0
            self.per_minute_peak = 0
            self.last_delay = 0.0
            self.throttled = 0

    def enter(self) -> None:
        """Wait for a slot; raises ``Declined``. Pair with :meth:`leave`."""
        limits = self.limits
        arrived = time.monotonic()
        deadline = arrived + limits.max_wait_seconds
        with self._cond:
            must_wait = self._active >= limits.max_concurrent or self._waiting > 0
            release_at = self.reserve(arrived)
            if (must_wait or release_at > arrived) and self._waiting >= limits.queue_limit:
                self._unschedule()
                self.declined += 1
                raise Declined("The request queue is full.")
            self._waiting += 1
            self.peak_queue = max(self.peak_queue, self._waiting)
            try:
                while True:
                    now = time.monotonic()
                    if now >= release_at and self._active < limits.max_concurrent:
                        break
                    if now >= deadline:
                        self._unschedule()
                        self.declined += 1
                        raise Declined("The request waited too long in the queue.")
                    wake = min(deadline, max(release_at, now + 0.001)) - now
                    self._cond.wait(timeout=wake if now < release_at else min(wake, 0.05))
            finally:
                self._waiting -= 1
            self._active += 1
            self.peak_active = max(self.peak_active, self._active)

    def leave(self) -> None:
        with self._cond:
            self._active = max(0, self._active - 1)
            self._cond.notify_all()

    def reserve(self, now: float) -> float:
        """Count a request arriving at ``now`` in the per-minute window; return when it may start.

        Call with the gate's lock held (``enter`` does); exposed for tests of the formula.
        """
        rpm = self.limits.requests_per_minute
        minute = self.limits.minute_seconds
        if self._window_start is None or now >= self._window_start + minute:
            self._window_start = now
            self._window_count = 0
        self._window_count += 1
        self.per_minute_peak = max(self.per_minute_peak, self._window_count)
        if not rpm or self._window_count <= rpm / 2:
            return now
        used = self._window_count - 1
        remaining = rpm - used
        window_end = self._window_start + minute
        if remaining <= 0:
            release = max(window_end, self._last_release)
        else:
            delay = max(window_end - now, 0.0) / remaining
            self.last_delay = delay
            release = max(now, self._last_release) + delay
        self.throttled += 1
        self._last_release = release
        return release

    def _unschedule(self) -> None:
        self._window_count = max(0, self._window_count - 1)

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {
                "concurrent_requests": self._active,
                "queued_requests": self._waiting,
                "peak_concurrent_requests": self.peak_active,
                "peak_queued_requests": self.peak_queue,
                "declined_429": self.declined,
                "requests_per_minute_peak": self.per_minute_peak,
                "throttled_requests": self.throttled,
                "last_throttle_delay_seconds": round(self.last_delay, 4),
            }
