"""Switches of the X-Cart sandbox (``GET/POST /_sandbox/config``) and its clock.

The switches cover what the reference leaves unconfirmed or what tests must flip; they are kept in
the database, so they survive a restart. The clock can be moved forward (or skewed) so tests see
``update_date`` move without sleeping: X-Cart stores whole seconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

from sandboxes.xcart.store import Store


@dataclass
class Switches:
    # Core API behaviour that differs between X-Cart builds.
    last_renew_filter: bool = True
    transaction_status_quirk: bool = True
    addon_keys: bool = False
    bump_update_date_on_tracking: bool = False
    return_stock_on_cancel: bool = True
    guest_customer_profile: bool = True
    store_timezone: str = "America/New_York"
    # Extensions that are NOT part of X-Cart (off by default).
    tracking_extension: bool = False
    webhooks_enabled: bool = False
    webhook_max_attempts: int = 4
    webhook_backoff_seconds: float = 1.0
    webhook_timeout_seconds: float = 5.0

    def merge(self, changes: dict[str, Any]) -> Switches:
        """A copy with ``changes`` applied; raises ``ValueError`` naming a bad key or value."""
        known = {f.name: f for f in fields(self)}
        data = asdict(self)
        for key, value in changes.items():
            if key not in known:
                raise ValueError(f"unknown switch {key!r}")
            current = data[key]
            if isinstance(current, bool):
                if not isinstance(value, bool):
                    raise ValueError(f"{key} must be true or false")
            elif isinstance(current, int | float):
                if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                    raise ValueError(f"{key} must be a number >= 0")
                value = type(current)(value)
            elif not isinstance(value, str):
                raise ValueError(f"{key} must be a string")
            data[key] = value
        if "store_timezone" in changes:
            from zoneinfo import ZoneInfo

            try:
                ZoneInfo(data["store_timezone"])
            except (KeyError, ValueError) as exc:
                raise ValueError("store_timezone must be an IANA zone name") from exc
        return Switches(**data)


class Settings:
    """The current switches and clock offset, persisted in the store's ``meta`` table."""

    def __init__(self, store: Store, overrides: dict[str, Any] | None = None) -> None:
        self._store = store
        self._lock = threading.Lock()
        saved = store.get_meta("switches", {})
        self.switches = Switches().merge({**saved, **(overrides or {})})
        self.clock_offset = float(store.get_meta("clock_offset", 0.0))

    def update(self, changes: dict[str, Any]) -> Switches:
        with self._lock:
            self.switches = self.switches.merge(changes)
            self._store.set_meta("switches", asdict(self.switches))
            return self.switches

    def reset(self) -> None:
        with self._lock:
            self.switches = Switches()
            self.clock_offset = 0.0

    def set_clock_offset(self, offset: float) -> None:
        with self._lock:
            self.clock_offset = offset
            self._store.set_meta("clock_offset", offset)

    def now(self) -> int:
        """The store's current Unix time in whole seconds (X-Cart keeps integer timestamps)."""
        return int(time.time() + self.clock_offset)
