"""What the checks share: settings, the two clients, the recent orders, and what failed first.

Reads are made once and kept for the run (the recent orders and their transactions serve the
mapping check and the dry run). Nothing here writes to either system, the ledger or the broker.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis
import requests

from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.mapping.templates import load_template
from sync_workers.preflight.results import Skipped
from sync_workers.settings import Settings

T = TypeVar("T")

SYSTEM_NAMES = {"xcart": "X-Cart", "acumatica": "Acumatica"}
_LOOPBACK = ("127.0.0.1", "localhost", "::1")
#: X-Cart pages hold at most 100 items.
_PAGE = 100


@dataclass
class Context:
    settings: Settings
    redis: redis.Redis
    orders: int = 20
    #: system -> why it cannot be used (set by the access checks); absent: usable.
    broken: dict[str, str] = field(default_factory=dict)
    _memo: dict[str, Any] = field(default_factory=dict)

    # -- clients ----------------------------------------------------------------------------

    def xcart(self) -> XCartClient:
        from sync_workers import clients

        return clients.xcart()

    def acumatica(self) -> AcumaticaClient:
        from sync_workers import clients

        return clients.acumatica()

    def require(self, *systems: str) -> None:
        """Raise :class:`Skipped` when a system this check needs failed an access check."""
        for system in systems:
            if system in self.broken:
                raise Skipped(f"not checked: {self.broken[system]}")

    def memo(self, key: str, read: Callable[[], T]) -> T:
        if key not in self._memo:
            self._memo[key] = read()
        found: T = self._memo[key]
        return found

    def remember(self, key: str, value: Any) -> None:
        self._memo[key] = value

    # -- shared reads -----------------------------------------------------------------------

    def template(self, flow: str) -> dict[str, Any]:
        return self.memo(f"template:{flow}", lambda: load_template(flow))

    def recent_orders(self) -> list[dict[str, Any]]:
        """The store's last ``orders`` orders, newest first."""

        def read() -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            page = 1
            while len(found) < self.orders:
                size = min(_PAGE, self.orders - len(found)) if page == 1 else _PAGE
                rows = self.xcart().get(
                    "/api/orders", {"order[date]": "desc", "page": page, "itemsPerPage": size}
                )
                found.extend(rows)
                if len(rows) < size:
                    break
                page += 1
            return found[: self.orders]

        return self.memo("recent_orders", read)

    def no_orders(self) -> str:
        """Why there are no recent orders to look at."""
        return (
            "no orders were asked for (--orders 0)"
            if self.orders == 0
            else "the store has no orders yet"
        )

    def transactions(self, order_id: Any) -> list[dict[str, Any]]:
        return self.memo(
            f"transactions:{order_id}", lambda: self.xcart().payment_transactions(int(order_id))
        )

    def sandbox(self, system: str, path: str) -> Any:
        """``GET <base>/_sandbox/<path>`` of a sandbox on this machine (its control surface,
        which only loopback clients reach), else ``None``: never asked of a remote system."""
        base = (
            self.settings.xcart_base_url if system == "xcart" else self.settings.acumatica_base_url
        )
        if urlsplit(base).hostname not in _LOOPBACK:
            return None

        def read() -> Any:
            try:
                answer = requests.get(f"{base.rstrip('/')}/_sandbox/{path}", timeout=5)
            except requests.RequestException:
                return None
            if answer.status_code != 200:
                return None
            try:
                return answer.json()
            except ValueError:
                return None

        return self.memo(f"sandbox:{system}:{path}", read)
