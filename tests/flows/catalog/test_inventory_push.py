"""Inventory through a real worker: push notifications, coalescing and the poll safety net."""

from __future__ import annotations

import threading
import time

import tasks.inventory
from sync_workers.flows import inventory
from tests.flows.catalog.conftest import percentile


def watch_until(store, targets: dict[int, int], started: dict[int, float], timeout: float) -> dict:
    """Poll X-Cart until each product shows its target amount; seconds from its change."""
    reached: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(reached) < len(targets) and time.monotonic() < deadline:
        for pid, wanted in targets.items():
            if pid in started and pid not in reached and store.amount(pid) == wanted:
                reached[pid] = time.monotonic() - started[pid]
        time.sleep(0.01)
    return reached


def test_released_stock_change_reaches_xcart_within_two_seconds_at_p95_with_push(
    erp, store, push_receiver, clean_ledger, celery_worker
) -> None:
    products = store.products()
    inventory.store_index()
    skus = [f"AA-{n:04d}" for n in range(1, 31)]
    targets = {products[s]["id"]: products[s]["amount"] + 3 for s in skus}
    started: dict[int, float] = {}
    result: dict[str, dict] = {}
    watcher = threading.Thread(
        target=lambda: result.update(reached=watch_until(store, targets, started, 30))
    )
    watcher.start()
    for sku in skus:
        started[products[sku]["id"]] = time.monotonic()
        erp.adjust([(sku, "WHOLESALE", 3)])
        time.sleep(0.1)
    watcher.join()

    latencies = list(result["reached"].values())
    p50, p95 = percentile(latencies, 0.5), percentile(latencies, 0.95)
    print(f"\npush latency over {len(latencies)} changes: p50 {p50:.3f}s p95 {p95:.3f}s")
    assert len(latencies) == len(skus)
    assert p95 <= 2.0


def test_without_push_a_change_reaches_xcart_within_one_poll_interval(
    erp, store, clean_ledger, celery_worker
) -> None:
    interval = 2.0
    products = store.products()
    inventory.store_index()
    stop = threading.Event()

    def beat() -> None:
        while not stop.is_set():
            tasks.inventory.poll.delay()
            stop.wait(interval)

    skus = [f"AA-{n:04d}" for n in range(40, 46)]
    targets = {products[s]["id"]: products[s]["amount"] - 2 for s in skus}
    started: dict[int, float] = {}
    ticker = threading.Thread(target=beat)
    ticker.start()
    try:
        time.sleep(interval)  # the first poll has recorded what it pushed
        for sku in skus:
            started[products[sku]["id"]] = time.monotonic()
            erp.adjust([(sku, "RETAIL", -2)])
            time.sleep(interval / len(skus))
        reached = watch_until(store, targets, started, 15)
    finally:
        stop.set()
        ticker.join()

    latencies = list(reached.values())
    print(
        f"\npoll latency (interval {interval}s) over {len(latencies)} changes:"
        f" p50 {percentile(latencies, 0.5):.3f}s p95 {percentile(latencies, 0.95):.3f}s"
        f" max {max(latencies):.3f}s"
    )
    assert len(latencies) == len(skus)
    assert max(latencies) <= interval + 1.5
