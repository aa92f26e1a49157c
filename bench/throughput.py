"""Figures 1 and 2: end-to-end throughput against the bare baseline, and API economy.

One stack, sandbox latency 0. Buyers are known first (a warm-up batch links them), then each
measured batch is fresh checkouts by those buyers, handed out by the orders poll (``--orders-path
cursor``, the default: the scheduled cursor poll, as in production; ``resync``: ``poll(since=)``,
which also looks each batch of 40 up in Acumatica) and timed from the trigger to the last
payment linked in the ledger.
"""

from __future__ import annotations

import json
import time
from datetime import datetime
from statistics import median
from typing import Any

from bench.bare import Bare
from bench.engine import Driver
from bench.measure import api_calls, call_pattern, diff, load
from bench.stack import Stack


def start_orders_poll(driver: Driver, since: datetime, path: str) -> None:
    """Hand the batch out as production does: ``cursor`` is the scheduled poll (its window made
    to start at ``since``); ``resync`` is ``poll(since=...)``, which looks every batch of 40
    orders up in Acumatica first."""
    if path == "resync":
        driver.send("tasks.orders.poll", since=since.isoformat())
        return
    from sync_workers.flows.orders.changes import poll_settings
    from sync_workers.ledger import CursorStore

    overlap, _settle = poll_settings()
    state = {"position": (since + overlap).isoformat(), "seen": {}}
    CursorStore().set("orders", "xcart_to_acumatica", json.dumps(state))
    driver.send("tasks.orders.poll")


def redis_commands(port: int) -> dict[str, int]:
    """Calls per command so far on the stack's Redis (``INFO commandstats``): the broker's,
    the locks', the limits' and the ledger caches' round trips alike."""
    import redis

    client = redis.Redis(port=port)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(row["calls"]) for name, row in stats.items()}


def per_order(after: dict[str, int], before: dict[str, int], orders: int) -> dict[str, float]:
    """``after - before`` per order, by command, most frequent first (commands under 0.05 per
    order left out), with the total."""
    counts = {name: after[name] - before.get(name, 0) for name in after}
    rates = {name: round(n / orders, 2) for name, n in counts.items() if orders and n > 0}
    shown = dict(sorted(((k, v) for k, v in rates.items() if v >= 0.05), key=lambda kv: -kv[1]))
    return {"total": round(sum(counts.values()) / orders, 2) if orders else 0.0, **shown}


def pipeline_batch(
    driver: Driver,
    *,
    orders: int,
    buyers: int,
    workers: int,
    concurrency: int,
    timeout: float,
    path: str = "cursor",
) -> dict[str, Any]:
    stack = driver.stack
    for index in range(workers):
        stack.start_worker(index, concurrency)
    driver.wait_workers(workers)
    since = driver.fresh_second()
    driver.place(orders, buyers=buyers, offset=driver.placed)
    before_payments = driver.ledger.linked("payments")
    driver.quiet(still=1.0)
    xcart_before, acu_before = driver.calls()
    redis_before = redis_commands(stack.redis_port)
    load_before = load()
    started = time.monotonic()
    start_orders_poll(driver, since, path)
    target = before_payments + orders
    while driver.ledger.linked("payments") < target and time.monotonic() - started < timeout:
        time.sleep(0.1)
    elapsed = time.monotonic() - started
    done = driver.ledger.linked("payments") - before_payments
    load_after = load()
    driver.quiet(still=1.5)
    xcart_after, acu_after = driver.calls()
    redis_after = redis_commands(stack.redis_port)
    stack.stop_workers()
    xcart_calls, acu_calls = diff(xcart_after, xcart_before), diff(acu_after, acu_before)
    return {
        "path": path,
        "workers": workers,
        "concurrency": concurrency,
        "orders": orders,
        "completed": done,
        "seconds": round(elapsed, 2),
        "orders_per_second": round(done / elapsed, 2),
        "load_before": load_before,
        "load_after": load_after,
        "xcart_calls": api_calls(xcart_calls),
        "acumatica_calls": api_calls(acu_calls),
        "xcart_pattern": dict(call_pattern(xcart_calls)),
        "acumatica_pattern": dict(call_pattern(acu_calls)),
        "redis_commands_per_order": per_order(redis_after, redis_before, done),
    }


def bare_batch(driver: Driver, *, orders: int, buyers: int, threads: int) -> dict[str, Any]:
    customers = {source: key for source, key, *_ in driver.ledger.rows("customers") if key}
    bare = Bare(
        driver.stack.env["XCART_BASE_URL"], driver.stack.env["ACUMATICA_BASE_URL"], customers
    )
    try:
        since = driver.fresh_second()
        driver.place(orders, buyers=buyers, offset=driver.placed)
        driver.quiet(still=1.0)
        xcart_before, acu_before = driver.calls()
        load_before = load()
        count, elapsed = bare.run(since, threads)
        load_after = load()
        xcart_after, acu_after = driver.calls()
    finally:
        bare.close()
    return {
        "threads": threads,
        "orders": count,
        "seconds": round(elapsed, 2),
        "orders_per_second": round(count / elapsed, 2),
        "load_before": load_before,
        "load_after": load_after,
        "xcart_calls": api_calls(diff(xcart_after, xcart_before)),
        "acumatica_calls": api_calls(diff(acu_after, acu_before)),
    }


def summarize(pipeline: list[dict[str, Any]], bare: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per worker count: the median rate and the median, lowest and highest ratio to bare over
    the rounds (each ratio against the bare batch of the same round and concurrency)."""
    out = []
    for workers in sorted({run["workers"] for run in pipeline}):
        runs = [run for run in pipeline if run["workers"] == workers]
        threads = workers * runs[0]["concurrency"]
        ratios = [run["ratio_to_bare_same_concurrency"] for run in runs]
        out.append({
            "workers": workers,
            "concurrency": runs[0]["concurrency"],
            "rounds": len(runs),
            "orders_per_second": [run["orders_per_second"] for run in runs],
            "median_orders_per_second": median(run["orders_per_second"] for run in runs),
            "bare_threads": threads,
            "median_bare_orders_per_second": median(
                b["orders_per_second"] for b in bare if b["threads"] == threads
            ),
            "ratios": ratios,
            "median_ratio": median(ratios),
            "lowest_ratio": min(ratios),
            "highest_ratio": max(ratios),
        })  # fmt: skip
    return out


def run(
    *,
    orders: int,
    buyers: int,
    concurrency: int,
    worker_counts: tuple[int, ...],
    timeout: float,
    path: str = "cursor",
    rounds: int = 3,
) -> dict[str, Any]:
    """``rounds`` times: bare at each thread count, then the pipeline at each worker count. Each
    pipeline batch is set against the bare batch of its round; the verdict is the median of
    those ratios (batches of a few seconds each vary by ±25 % on a shared machine)."""
    with Stack(name="bench-throughput") as stack:
        stack.start_redis()
        stack.start_sandboxes()
        stack.migrate()
        stack.apply_env()
        driver = Driver(stack)
        driver.raise_stock()
        warm = pipeline_batch(
            driver, orders=buyers, buyers=buyers, workers=1, concurrency=concurrency,
            timeout=timeout,
        )  # fmt: skip
        result: dict[str, Any] = {"warm_up": warm, "pipeline": [], "bare": []}
        thread_counts = sorted({1, *(w * concurrency for w in worker_counts)})
        for round_ in range(1, rounds + 1):
            # Bare first: the pipeline then works on the bigger store (the conservative order),
            # and the bare orders, unknown to the ledger, are never in a poll's window.
            bare_by_threads = {}
            for threads in thread_counts:
                bare = bare_batch(driver, orders=orders, buyers=buyers, threads=threads)
                bare_by_threads[threads] = {**bare, "round": round_}
                result["bare"].append(bare_by_threads[threads])
            for workers in worker_counts:
                run_ = pipeline_batch(
                    driver,
                    orders=orders,
                    buyers=buyers,
                    workers=workers,
                    concurrency=concurrency,
                    timeout=timeout,
                    path=path,
                )
                same = bare_by_threads[workers * concurrency]["orders_per_second"]
                run_.update(
                    round=round_,
                    ratio_to_bare_same_concurrency=round(run_["orders_per_second"] / same, 3),
                    ratio_to_bare_sequential=round(
                        run_["orders_per_second"] / bare_by_threads[1]["orders_per_second"], 3
                    ),
                )
                result["pipeline"].append(run_)
        result["summary"] = summarize(result["pipeline"], result["bare"])
        first = result["pipeline"][0]
        result["economy"] = {
            "per_order": {
                "acumatica": round(first["acumatica_calls"] / max(first["completed"], 1), 3),
                "xcart": round(first["xcart_calls"] / max(first["completed"], 1), 3),
                "redis_commands": first["redis_commands_per_order"],
                "measured_over_orders": first["completed"],
                "path": path,
            },
        }
        return result
