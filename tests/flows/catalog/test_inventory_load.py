"""Inventory under load: a thousand stock changes, and checkouts racing stock updates."""

from __future__ import annotations

import itertools
import random
import threading
import time
from collections import defaultdict

import pytest

import tasks.inventory  # noqa: F401  (registers the tasks before the worker starts)
from sandboxes.common.catalog import seed_catalog
from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.flows import inventory
from sync_workers.flows.runner import run_inline
from tests.flows.catalog.conftest import Erp, wait_for


@pytest.fixture
def store_writes(monkeypatch):
    """Times of every stock write the engine makes, per product (the real call still runs)."""
    writes: dict[int, list[float]] = defaultdict(list)
    original = XCartClient.set_product_stock

    def recording(self, product_id, amount):
        writes[int(product_id)].append(time.monotonic())
        return original(self, product_id, amount)

    monkeypatch.setattr(XCartClient, "set_product_stock", recording)
    return writes


def run_threads(count: int, target) -> None:
    threads = [threading.Thread(target=target, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_thousand_changes_over_200_skus_make_one_write_per_sku_per_window_and_end_exact(
    erp, store, push_receiver, clean_ledger, celery_worker, store_writes, worker_activity
) -> None:
    catalog = seed_catalog()
    on_hand = {item.sku: item.qty_by_warehouse["RETAIL"] for item in catalog}
    rng = random.Random(11)
    changes = []
    for n in range(1000):
        sku = catalog[n % len(catalog)].sku if n < len(catalog) else rng.choice(catalog).sku
        delta = rng.choice((1, 2, 3, 4, -1, -2)) if on_hand[sku] >= 2 else rng.randint(1, 4)
        on_hand[sku] += delta
        changes.append((sku, delta))
    products = store.products()
    inventory.store_index().current()
    store.reset_stats()
    drivers, per_document = 2, 4  # four lines per released adjustment: 250 documents
    duration = 10.0
    documents = [changes[i : i + per_document] for i in range(0, len(changes), per_document)]
    started = time.monotonic()

    def drive(lane: int) -> None:
        clerk = Erp()
        mine = documents[lane::drivers]
        for i, lines in enumerate(mine):
            due = started + duration * i / len(mine)
            if due > time.monotonic():
                time.sleep(due - time.monotonic())
            clerk.adjust([(sku, "RETAIL", delta) for sku, delta in lines])
        clerk.close()

    run_threads(drivers, drive)
    spent = time.monotonic() - started
    truth = {sku: int(q) for sku, q in erp.availability().items() if sku in products}

    def settled() -> bool:
        amounts = {sku: p["amount"] for sku, p in store.products().items()}
        return all(amounts[sku] == q for sku, q in truth.items())

    wait_for(settled, timeout=30, interval=0.3)
    caught_up = time.monotonic() - started - spent
    worker_activity.idle()  # every flush booked, coalesce window and all, has run

    window = inventory.config().coalesce_window
    writes = {pid: times for pid, times in store_writes.items() if times}
    gaps = [b - a for times in writes.values() for a, b in itertools.pairwise(times)]
    puts = sum(n for path, n in store.stats().items() if path.startswith("PUT /api/products/"))
    changed = {sku for sku, _ in changes}
    print(
        f"\n{len(changes)} changes over {len(changed)} SKUs in {spent:.1f}s:"
        f" {puts} X-Cart writes, at most {max(len(t) for t in writes.values())} per SKU,"
        f" shortest gap between two writes to one SKU {min(gaps, default=0):.3f}s"
        f" (window {window}s); every SKU exact {caught_up:.1f}s after the last change"
    )
    assert settled()
    assert puts == sum(len(t) for t in writes.values())
    assert len(writes) <= len(changed) and puts < len(changes)
    assert all(gap >= window * 0.8 for gap in gaps), sorted(gaps)[:5]


def test_checkouts_racing_stock_updates_never_show_more_than_erp_minus_unsynced_orders(
    erp, store, push_receiver, clean_ledger, celery_worker
) -> None:
    skus = ["AA-0002", "AA-0003", "AA-0004", "AA-0005", "AA-0006", "AA-0008"]
    products = store.products()
    pids = {sku: products[sku]["id"] for sku in skus}
    erp_now = {sku: erp.available(sku) for sku in skus}
    erp_max = dict(erp_now)
    ordered: dict[str, int] = defaultdict(int)
    lock = threading.Lock()
    stop = threading.Event()
    seen: list[tuple[str, float, int, float]] = []
    inventory.store_index().current()

    def shop(lane: int) -> None:
        rng = random.Random(lane)
        while not stop.is_set():
            sku = rng.choice(skus)
            amount = rng.randint(1, 3)
            if store.checkout([(sku, amount)]).status_code == 201:
                with lock:
                    ordered[sku] += amount
            time.sleep(rng.uniform(0.0, 0.04))

    def restock(lane: int) -> None:
        rng = random.Random(100 + lane)
        clerk = Erp()
        while not stop.is_set():
            sku = rng.choice(skus)
            delta = rng.choice((2, 3, 5, -1, -2)) if erp_now[sku] >= 2 else 4
            with lock:
                erp_now[sku] += delta
                erp_max[sku] = max(erp_max[sku], erp_now[sku])
            clerk.adjust([(sku, "WHOLESALE", delta)])
            time.sleep(0.05)
        clerk.close()

    def sample(_: int) -> None:
        while not stop.is_set():
            for sku in skus:
                with lock:
                    bound = max(0, erp_max[sku] - ordered[sku])
                shown = store.amount(pids[sku])
                seen.append((sku, time.time(), shown, bound))

    workers = [
        threading.Thread(target=fn, args=(n,))
        for fn, n in ((shop, 0), (shop, 1), (restock, 0), (sample, 0))
    ]
    for thread in workers:
        thread.start()
    time.sleep(6)
    stop.set()
    for thread in workers:
        thread.join()

    def settled() -> bool:
        return all(
            store.amount(pids[sku]) == max(0, int(erp.available(sku)) - ordered[sku])
            for sku in skus
        )

    wait_for(settled, timeout=15, interval=0.3)
    longest = longest_excess(seen)
    excess = sum(1 for _, _, shown, bound in seen if shown > bound)
    print(
        f"\nrace: {sum(ordered.values())} units ordered, {len(seen)} samples,"
        f" {excess} showed more than ERP minus unsynced orders, longest for {longest:.3f}s"
    )
    assert sum(ordered.values()) > 20
    assert all(shown >= 0 for _, _, shown, _ in seen)
    # The API has no conditional write: a checkout landing between our last order read and
    # our write is overwritten until the flush's own check corrects it (milliseconds, longer
    # here where sandboxes, worker and shoppers share one interpreter). The bound only says it
    # is corrected while the shoppers still run (6 s): generous, for a loaded machine.
    assert longest < 3.0, [(s, round(t, 3), a, b) for s, t, a, b in seen if a > b]


def longest_excess(seen: list[tuple[str, float, int, float]]) -> float:
    """Longest time one SKU kept showing more than allowed, from first to last such sample."""
    longest = 0.0
    since: dict[str, float] = {}
    for sku, at, shown, bound in seen:
        if shown > bound:
            since.setdefault(sku, at)
            longest = max(longest, at - since[sku])
        else:
            since.pop(sku, None)
    return longest


def test_checkout_landing_between_order_read_and_stock_write_is_counted(
    erp, store, clean_ledger, redis_client, monkeypatch
) -> None:
    sku = "AA-0009"
    product = store.products()[sku]
    erp.adjust([(sku, "RETAIL", 5)])
    truth = int(erp.available(sku))
    original = XCartClient.set_product_stock
    slipped: list[int] = []

    def checkout_first(self, product_id, amount):
        if not slipped:  # a shopper buys 3 just before our first write lands
            answer = store.checkout([(sku, 3)])
            assert answer.status_code == 201, answer.text
            slipped.append(answer.json()["id"])
        return original(self, product_id, amount)

    monkeypatch.setattr(XCartClient, "set_product_stock", checkout_first)
    outcome = run_inline("inventory", "sync", sku)["summary"]

    assert slipped
    assert outcome["writes"] == 2 and outcome["unsynced"] == 3
    assert store.amount(product["id"]) == truth - 3
