"""Figure 3: licence use. The Acumatica sandbox at 120 requests/minute, 200 ms latency, 2 seats;
2 workers at concurrency 4 with the engine configured to the same caps; enough orders queued
to keep the engine busy for the whole measuring window. Counts come from the sandbox."""

from __future__ import annotations

import time

from bench.engine import Driver
from bench.measure import load
from bench.sandbox import Acumatica
from bench.stack import Stack

RPM = 120
SEATS = 2
LATENCY_MS = 200


def run(
    *,
    minutes: float,
    workers: int = 2,
    concurrency: int = 4,
    ramp: float = 10.0,
    keep: bool = False,
) -> dict:
    env = {
        "ACUMATICA_MAX_SESSIONS": str(SEATS),
        "ACUMATICA_REQUESTS_PER_MINUTE": str(RPM),
        "ACUMATICA_MAX_CONCURRENT": str(workers * concurrency),
        "ACUMATICA_READ_TIMEOUT": "120",
    }
    with Stack(name="bench-licence", extra_env=env, keep=keep) as stack:
        stack.start_redis()
        stack.start_sandboxes()
        stack.migrate()
        stack.apply_env()
        driver = Driver(stack)
        driver.raise_stock()
        driver.acumatica.post("licence", {"max_sessions": SEATS, "requests_per_minute": RPM})
        driver.acumatica.faults({"latency_ms": {"*": LATENCY_MS}})
        # About two Acumatica calls per order: queue more than the window can take.
        orders = int(RPM * (minutes + ramp / 60) * 0.75) + 40
        since = driver.fresh_second()
        driver.place(orders, buyers=20)
        for index in range(workers):
            stack.start_worker(index, concurrency)
        driver.wait_workers(workers)
        driver.acumatica.reset_stats()
        load_before = load()
        driver.send("tasks.orders.poll", since=since.isoformat())
        time.sleep(ramp)
        start_stats = driver.acumatica.stats()
        started = time.monotonic()
        time.sleep(minutes * 60)
        end_stats = driver.acumatica.stats()
        elapsed = time.monotonic() - started
        load_after = load()
        still_queued = orders - driver.ledger.linked("payments")
        stack.stop_workers()
        final = driver.acumatica.stats()
        with Acumatica(stack.env["ACUMATICA_BASE_URL"]) as erp:
            numbers = [r.get("CustomerOrder") for r in erp.list("SalesOrder", "CustomerOrder")]
    from bench.measure import call_pattern, diff

    window_calls = diff(end_stats["requests"]["by_path"], start_stats["requests"]["by_path"])
    achieved = (end_stats["requests"]["total"] - start_stats["requests"]["total"]) / (elapsed / 60)
    return {
        "sandbox": {"requests_per_minute": RPM, "max_sessions": SEATS, "latency_ms": LATENCY_MS},
        "workers": workers,
        "concurrency": concurrency,
        "window_seconds": round(elapsed, 1),
        "ramp_seconds": ramp,
        "orders_queued": orders,
        "orders_left_at_end": still_queued,
        "orders_completed_at_end": orders - still_queued,
        "calls_in_window": dict(call_pattern(window_calls)),
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
