"""Figure 3: licence use. The Acumatica sandbox at 120 requests/minute, 200 ms latency, 2 seats;
2 workers at concurrency 4 with the engine configured to the same caps; enough orders queued
to keep the engine busy for the whole measuring window. Counts come from the sandbox.

Then the same window with the Acumatica-side change polls (shipments, customers, products,
inventory, payments) sent every ``POLL_EVERY`` seconds beside the order writes, once per poll
source (:data:`VARIANTS`): ``rest`` (the contract API), ``odata`` (the DAC-based OData
service, counted in the engine's per-minute window) and ``odata_outside_rate_limit``
(``ACUMATICA_ODATA_IN_RATE_LIMIT=false``, with the sandbox's licence leaving Basic-auth OData out
of its API request queue: the reading under which that setting is safe)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from bench.engine import Driver
from bench.measure import load
from bench.sandbox import Acumatica
from bench.stack import Stack

RPM = 120
SEATS = 2
LATENCY_MS = 200
#: Seconds between two rounds of the Acumatica-side change polls.
POLL_EVERY = 10.0
#: The flows whose poll reads Acumatica's changes, and their Celery poll tasks.
POLLED = ("shipments", "customers", "products", "inventory", "payments")
#: Name -> (poll source, ACUMATICA_ODATA_IN_RATE_LIMIT, the sandbox's licence odata_in_api_queue).
VARIANTS: dict[str, tuple[str, bool, bool]] = {
    "rest": ("rest", True, True),
    "odata": ("odata", True, True),
    "odata_outside_rate_limit": ("odata", False, False),
}


def run(
    *,
    minutes: float,
    workers: int = 2,
    concurrency: int = 4,
    ramp: float = 10.0,
    keep: bool = False,
    variants: Iterable[str] | None = None,
    alone: bool = True,
) -> dict:
    """The order writes alone (unless not ``alone``), then :data:`VARIANTS` (``with_polls``;
    ``variants``: only those) beside the same writes."""
    figures: dict[str, Any] = {}
    if alone:
        figures = _window(minutes=minutes, workers=workers, concurrency=concurrency, ramp=ramp,
                          keep=keep)  # fmt: skip
    figures["with_polls"] = {}
    for name in variants or VARIANTS:
        variant = VARIANTS[name]
        window = _window(minutes=minutes, workers=workers, concurrency=concurrency,
                         ramp=max(ramp, 2 * POLL_EVERY), keep=keep, variant=variant)  # fmt: skip
        figures["with_polls"][name] = _summary(window)
    figures["with_polls_every_seconds"] = POLL_EVERY
    return figures


def _summary(figures: dict) -> dict:
    minutes = figures["window_seconds"] / 60
    return {
        "orders_per_minute": round(figures["orders_synced_in_window"] / minutes, 1),
        "contract_api_requests_per_minute": round(figures["contract_api_requests"] / minutes, 1),
        "odata_requests_per_minute": round(figures["odata_requests"] / minutes, 1),
        **{key: figures[key] for key in (
            "orders_synced_in_window", "window_seconds", "achieved_requests_per_minute",
            "acumatica_calls_per_order_known_buyer", "declined_429", "peak_sessions",
            "login_limit_errors", "odata_in_rate_limit", "odata_in_api_queue", "poll_source",
            "calls_in_window",
        )},
    }  # fmt: skip


def _templates(target: Path, source: str) -> Path:
    """The bundled templates with every Acumatica-side poll reading from ``source``."""
    from sync_workers.mapping import templates

    target.mkdir(parents=True, exist_ok=True)
    for path in templates.BUNDLED_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        if path.stem in ("shipments", "customers", "products", "payments"):
            data.setdefault("poll", {})["source"] = source
        elif path.stem == "inventory":
            changes = "INSiteStatus" if source == "odata" else "InventoryQuantityAvailable"
            data.setdefault("poll", {})["changes"] = changes
        (target / path.name).write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")
    return target


def _poll_beside(driver: Driver, stop: threading.Event) -> None:
    while not stop.wait(POLL_EVERY):
        for flow in POLLED:
            driver.send(f"tasks.{flow}.poll")


def _window(
    *,
    minutes: float,
    workers: int,
    concurrency: int,
    ramp: float,
    keep: bool,
    variant: tuple[str, bool, bool] | None = None,
) -> dict[str, Any]:
    env = {
        "ACUMATICA_MAX_SESSIONS": str(SEATS),
        "ACUMATICA_REQUESTS_PER_MINUTE": str(RPM),
        "ACUMATICA_MAX_CONCURRENT": str(workers * concurrency),
        "ACUMATICA_READ_TIMEOUT": "120",
    }
    source, in_rate_limit, in_api_queue = variant or ("rest", True, True)
    env["ACUMATICA_ODATA_IN_RATE_LIMIT"] = "true" if in_rate_limit else "false"
    stop = threading.Event()
    poller: threading.Thread | None = None
    with Stack(name="bench-licence", extra_env=env, keep=keep) as stack:
        if variant is not None:
            folder = _templates(stack.root / "templates", source)
            stack.env["MAPPING_TEMPLATES_DIR"] = str(folder)
        stack.start_redis()
        stack.start_sandboxes()
        stack.migrate()
        stack.apply_env()
        driver = Driver(stack)
        driver.raise_stock()
        driver.acumatica.post(
            "licence",
            {"max_sessions": SEATS, "requests_per_minute": RPM, "odata_in_api_queue": in_api_queue},
        )
        driver.acumatica.faults({"latency_ms": {"*": LATENCY_MS}})
        # About one Acumatica call per order (its payment goes in the sales order's PUT, and
        # the resync's look-up is shared by 40): queue more than the window can take.
        orders = int(RPM * (minutes + ramp / 60) * 1.5) + 40
        since = driver.fresh_second()
        driver.place(orders, buyers=20)
        for index in range(workers):
            stack.start_worker(index, concurrency)
        driver.wait_workers(workers)
        driver.acumatica.reset_stats()
        load_before = load()
        driver.send("tasks.orders.poll", since=since.isoformat())
        if variant is not None:  # the first polls (cursors start, full comparisons) in the ramp
            for flow in POLLED:
                driver.send(f"tasks.{flow}.poll")
            poller = threading.Thread(target=_poll_beside, args=(driver, stop), daemon=True)
            poller.start()
        time.sleep(ramp)
        start_stats = driver.acumatica.stats()
        orders_at_start = driver.ledger.linked("orders")
        started = time.monotonic()
        time.sleep(minutes * 60)
        end_stats = driver.acumatica.stats()
        orders_in_window = driver.ledger.linked("orders") - orders_at_start
        elapsed = time.monotonic() - started
        stop.set()
        if poller is not None:
            poller.join()
        load_after = load()
        still_queued = orders - driver.ledger.linked("payments")
        stack.stop_workers()
        final = driver.acumatica.stats()
        with Acumatica(stack.env["ACUMATICA_BASE_URL"]) as erp:
            numbers = [r.get("CustomerOrder") for r in erp.list("SalesOrder", "CustomerOrder")]
    from bench.measure import call_pattern, diff

    window_calls = diff(end_stats["requests"]["by_path"], start_stats["requests"]["by_path"])
    entity_calls = sum(n for k, n in window_calls.items() if "/entity/Default/" in k)
    customer_calls = sum(
        n for k, n in window_calls.items() if "/entity/Default/" in k and "/Customer" in k
    )
    achieved = (end_stats["requests"]["total"] - start_stats["requests"]["total"]) / (elapsed / 60)
    odata_calls = sum(n for k, n in window_calls.items() if "/api/odata/" in k)
    return {
        "poll_source": source if variant is not None else None,
        "odata_in_rate_limit": in_rate_limit,
        "odata_in_api_queue": in_api_queue,
        "contract_api_requests": entity_calls,
        "odata_requests": odata_calls,
        "sandbox": {"requests_per_minute": RPM, "max_sessions": SEATS, "latency_ms": LATENCY_MS},
        "workers": workers,
        "concurrency": concurrency,
        "window_seconds": round(elapsed, 1),
        "ramp_seconds": ramp,
        "orders_queued": orders,
        "orders_left_at_end": still_queued,
        "orders_completed_at_end": orders - still_queued,
        "calls_in_window": dict(call_pattern(window_calls)),
        "orders_synced_in_window": orders_in_window,
        # every order is paid; its buyer is one of 20, created in Acumatica by their first order
        "acumatica_calls_per_order": _per(entity_calls, orders_in_window),
        "acumatica_calls_per_order_known_buyer": _per(
            entity_calls - customer_calls, orders_in_window
        ),
        "sales_orders": len(numbers),
        "orders_with_more_than_one_sales_order": len(numbers) - len(set(numbers)),
        "achieved_requests_per_minute": round(achieved, 1),
        "licence_used": round(achieved / RPM, 3),
        "declined_429": final.get("declined_429"),
        "peak_sessions": final.get("peak_sessions"),
        "logins": final.get("logins"),
        "login_limit_errors": final.get("login_limit_errors"),
        "peak_concurrent_requests": final.get("peak_concurrent_requests"),
        "requests_per_minute_peak": final.get("requests_per_minute_peak"),
        "load_before": load_before,
        "load_after": load_after,
    }


def _per(calls: int, orders: int) -> float | None:
    return round(calls / orders, 3) if orders else None
