"""Thread-safe request counters shown by ``GET /_sandbox/stats``."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class RequestStats:
    """Counts emulated-API requests (never the ``/_sandbox/`` control surface).

    ``snapshot()`` returns ``{"requests": {"total", "by_path", "by_status"}, "peak_concurrency",
    "concurrency", "faults_injected", ...}`` plus any counters an app adds with :meth:`incr` or
    :meth:`observe_max`.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._current = 0
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self._total = 0
            self._by_path: Counter[str] = Counter()
            self._by_status: Counter[str] = Counter()
            self._faults: Counter[str] = Counter()
            self._extra: dict[str, int | float] = {}
            self._peak = self._current

    def begin(self, method: str, path: str) -> None:
        with self._lock:
            self._total += 1
            self._by_path[f"{method} {path}"] += 1
            self._current += 1
            self._peak = max(self._peak, self._current)

    def end(self) -> None:
        with self._lock:
            self._current = max(0, self._current - 1)

    def record_status(self, status: int) -> None:
        with self._lock:
            self._by_status[str(status)] += 1

    def record_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def incr(self, name: str, amount: int = 1) -> None:
        """Add to an app-specific top-level counter."""
        with self._lock:
            self._extra[name] = self._extra.get(name, 0) + amount

    def observe_max(self, name: str, value: int | float) -> None:
        """Keep the largest value seen for an app-specific top-level gauge (a peak)."""
        with self._lock:
            self._extra[name] = max(self._extra.get(name, value), value)

    @property
    def concurrency(self) -> int:
        with self._lock:
            return self._current

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data: dict[str, Any] = {
                "requests": {
                    "total": self._total,
                    "by_path": dict(self._by_path),
                    "by_status": dict(self._by_status),
                },
                "peak_concurrency": self._peak,
                "concurrency": self._current,
                "faults_injected": dict(self._faults),
            }
            data.update(self._extra)
            return data
