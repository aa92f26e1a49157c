"""The state of one running sandbox: store, licence, sessions, push, faults and stats."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from sandboxes.common.faults import FaultConfig, FaultInjector
from sandboxes.common.stats import RequestStats

from .auth import TENANT, Auth
from .errors import render_fault
from .graphs import Env, Settings
from .licence import Gate, Limits
from .push import PushNotifier
from .store import Store
from .values import set_clock

DB_FILE = "acumatica.sqlite3"


class LongOperation:
    """An action answered 202; its status URL answers 202 until it ends."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.error: str | None = None
        self.created = time.monotonic()


class Sandbox:
    def __init__(
        self, data_dir: Path, *, faults: FaultConfig | dict[str, Any] | None = None
    ) -> None:
        self.store = Store(Path(data_dir) / DB_FILE)
        self.limits = Limits(**self.store.get_setting("licence", {}))
        self.settings = Settings(**self.store.get_setting("behaviour", {}))
        self.env = Env(self.store, self.settings)
        set_clock(self.settings.clock_offset_seconds, self.settings.frozen_clock)
        self.gate = Gate(self.limits)
        self.stats = RequestStats()
        self.auth = Auth(
            max_sessions=lambda: self.limits.max_sessions,
            idle_timeout=lambda: self.limits.idle_timeout_seconds,
            on_change=self._auth_event,
            token_lifetime=lambda: self.settings.token_lifetime_seconds,
        )
        self.push = PushNotifier(self.store, TENANT)
        self.faults = FaultInjector(
            FaultConfig.from_json(faults) if isinstance(faults, dict) else faults,
            render_error=render_fault,
        )
        self.operations: dict[str, LongOperation] = {}
        self.counters = {"logins": 0, "logouts": 0, "login_limit_errors": 0, "expired_sessions": 0}
        self._counter_lock = threading.Lock()

    def _auth_event(self, event: str) -> None:
        name = {"login": "logins", "logout": "logouts", "login_limit": "login_limit_errors"}.get(
            event, "expired_sessions"
        )
        with self._counter_lock:
            self.counters[name] += 1

    def set_limits(self, values: dict[str, Any]) -> None:
        self.limits.update(values)
        self.store.put_setting("licence", self.limits.to_json())

    def set_behaviour(self, values: dict[str, Any]) -> None:
        self.settings.update(values)
        self.store.put_setting("behaviour", self.settings.to_json())
        set_clock(self.settings.clock_offset_seconds, self.settings.frozen_clock)

    def extra_stats(self) -> dict[str, Any]:
        gate = self.gate.snapshot()
        with self._counter_lock:
            counters = dict(self.counters)
        return {
            "sessions_in_use": self.auth.sessions_in_use,
            "peak_sessions": self.auth.peak_sessions,
            "concurrent_users_in_use": self.auth.users_in_use,
            "peak_concurrent_users": self.auth.peak_users,
            "odata_basic_requests": self.auth.basic_requests,
            **counters,
            **gate,
        }

    def reset_stats(self) -> None:
        with self._counter_lock:
            for key in self.counters:
                self.counters[key] = 0
        self.gate.reset_stats()
        self.auth.peak_sessions = self.auth.sessions_in_use
        self.auth.peak_users = self.auth.users_in_use
        self.auth.basic_requests = 0

    def reset(self) -> None:
        """Drop records, sessions, push subscriptions and messages, operations (limits are kept)."""
        self.push.clear()
        self.store.clear()
        self.auth.clear()
        self.operations.clear()
        self.reset_stats()

    def close(self) -> None:
        self.push.stop()
        self.store.close()
