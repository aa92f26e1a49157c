"""Driving a running stack: shoppers, triggers, readiness, quiet periods."""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from typing import Any

from bench.measure import Ledger, api_calls
from bench.sandbox import Acumatica, Control, XCart, shopper, stocked_skus
from bench.stack import Stack


class Driver:
    """The harness's handles on one stack (call after ``stack.apply_env()``)."""

    def __init__(self, stack: Stack, *, seed: int = 2026) -> None:
        self.stack = stack
        self.xcart = Control(stack.env["XCART_BASE_URL"])
        self.acumatica = Control(stack.env["ACUMATICA_BASE_URL"])
        self.store = XCart(stack.env["XCART_BASE_URL"])
        self.ledger = Ledger(stack.env["DATABASE_URL"])
        self.rng = random.Random(seed)
        self.skus = stocked_skus()
        self.placed = 0
        from sync_workers.celery import create_app
        from sync_workers.settings import get_settings

        # A Celery app of its own: the module-level one keeps the broker of the first stack.
        self.app = create_app(get_settings())

    def raise_stock(self) -> None:
        """Stock for any run, on both sides (so inventory syncs keep it high in the store)."""
        with Acumatica(self.stack.env["ACUMATICA_BASE_URL"]) as erp:
            erp.raise_stock(self.skus)
        self.store.raise_stock(self.skus)

    def place(self, count: int, *, buyers: int, offset: int = 0) -> list[dict[str, Any]]:
        """``count`` checkouts by returning buyers; the orders as X-Cart answered."""
        placed = []
        for n in range(count):
            body = shopper(self.rng, offset + n, emails=buyers, skus=self.skus)
            placed.append(self.xcart.post("checkout", body))
        self.placed += count
        return placed

    def fresh_second(self) -> datetime:
        """Wait for the next whole second (X-Cart dates have no fraction) and return it."""
        now = time.time()
        time.sleep(1.05 - (now % 1.0))
        return datetime.fromtimestamp(int(time.time()), tz=UTC)

    def send(self, task: str, **kwargs: Any) -> None:
        self.app.send_task(task, kwargs=kwargs)

    def wait_workers(self, count: int, timeout: float = 60.0) -> None:
        """Until ``count`` workers answer a ping."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            replies = self.app.control.ping(timeout=1.0) or []
            if len(replies) >= count:
                return
            for proc in self.stack.workers:
                if not proc.alive():
                    raise RuntimeError(f"{proc.name} exited:\n{proc.tail()}")
        raise TimeoutError(f"{count} workers not ready within {timeout:.0f}s")

    def quiet(self, *, still: float = 2.0, timeout: float = 120.0) -> None:
        """Until neither sandbox has seen an API call for ``still`` seconds."""

        def total() -> int:
            return sum(
                api_calls(c.stats()["requests"]["by_path"]) for c in (self.xcart, self.acumatica)
            )

        deadline = time.monotonic() + timeout
        last, since = total(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.25)
            now = total()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= still:
                return
        raise TimeoutError("the engine did not go quiet")

    def drained(self, *, still: float = 1.5, timeout: float = 600.0) -> None:
        """Until no message waits in any queue or runs unacknowledged, and the APIs are quiet."""
        import redis

        from bench.stack import QUEUES

        client = redis.Redis.from_url(self.stack.env["REDIS_URL"])
        prefix = self.stack.env["REDIS_KEY_PREFIX"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            waiting = sum(int(client.llen(prefix + q)) for q in QUEUES.split(","))
            running = int(client.hlen(prefix + "unacked"))
            if waiting == 0 and running == 0:
                self.quiet(still=still, timeout=max(10.0, deadline - time.monotonic()))
                if not client.hlen(prefix + "unacked"):
                    return
            time.sleep(0.25)
        raise TimeoutError("the queues did not drain")

    def calls(self) -> tuple[dict[str, int], dict[str, int]]:
        """(X-Cart, Acumatica) ``by_path`` request counts so far."""
        return (
            self.xcart.stats()["requests"]["by_path"],
            self.acumatica.stats()["requests"]["by_path"],
        )
