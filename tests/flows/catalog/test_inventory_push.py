"""Inventory through a real worker: push notifications, coalescing and the poll safety net."""

from __future__ import annotations

import threading
import time

import pytest

import tasks.inventory
from sync_workers.flows import inventory
from sync_workers.locks import busy_wait
from tests.flows.catalog.conftest import wait_for


@pytest.fixture
def celery_worker_pool() -> str:
    """Production workers run at least two processes; the default test pool ("solo") runs one
    task at a time, so 30 flushes and their triggers queued behind each other."""
    return "threads"


@pytest.fixture
def celery_worker_parameters() -> dict:
    from sync_workers.celery import QUEUES

    return {
        "perform_ping_check": False,
        "queues": QUEUES,
        "shutdown_timeout": 15,
        "concurrency": 4,
    }


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


def test_released_stock_changes_reach_xcart_with_push_and_no_poll(
    erp, store, push_receiver, clean_ledger, celery_worker
) -> None:
    products = store.products()
    inventory.store_index().current()
    skus = [f"AA-{n:04d}" for n in range(1, 31)]
    targets = {products[s]["id"]: products[s]["amount"] + 3 for s in skus}
    started: dict[int, float] = {}
    result: dict[str, dict] = {}
    watcher = threading.Thread(
        target=lambda: result.update(reached=watch_until(store, targets, started, 60))
    )
    watcher.start()
    for sku in skus:
        started[products[sku]["id"]] = time.monotonic()
        erp.adjust([(sku, "WHOLESALE", 3)])
        time.sleep(0.1)
    watcher.join()

    # How fast is `make bench`'s to say (stock push latency); here: every change arrives.
    assert sorted(result["reached"]) == sorted(targets)


def test_flush_finding_the_sku_busy_is_retried_and_writes_once_the_lock_is_free(
    erp, store, clean_ledger, celery_worker, redis_client
) -> None:
    """A flush killed with its worker holds the SKU's lock until it times out; the next flush
    for that SKU fails on the busy lock, the base task retries it, and it writes once the lock
    is free, with no dead letter."""
    from sync_workers.flows.runner import start
    from sync_workers.ledger import history
    from sync_workers.redis_client import prefixed
    from sync_workers.task import get_dlq

    products = store.products()
    inventory.store_index().current()
    sku = "AA-0007"
    wanted = products[sku]["amount"] + 4
    held = redis_client.lock(prefixed("lock", "inventory", sku), timeout=60)
    assert held.acquire(blocking=False)
    erp.adjust([(sku, "WHOLESALE", 4)])
    start("inventory", sku)

    def retried() -> list[dict]:
        runs = history.runs_of("inventory", "acumatica_to_xcart", sku)
        return [r for r in runs if r["outcome"] == "retry"]

    [first, *_] = wait_for(retried, timeout=10)
    assert first["steps"] == "locate,read"
    assert first["error_class"] == "TransientError"
    assert store.amount(products[sku]["id"]) == products[sku]["amount"]
    held.release()

    wait_for(lambda: store.amount(products[sku]["id"]) == wanted, timeout=20)
    assert list(get_dlq().iter_entries(status="open")) == []


def test_busy_sku_retries_outlast_a_lock_left_by_a_killed_flush() -> None:
    """With the default retry settings, a flush that finds the SKU's lock taken at the moment a
    flush died holding it still has a retry left once that lock has expired, even when every
    backoff delay is the shortest the jitter allows (half its nominal length)."""
    from sync_workers.task import backoff_delay

    class Shortest:
        def uniform(self, low: float, high: float) -> float:
            return low

    lock_timeout, retry_max, base, cap = 330.0, 8, 2.0, 300.0
    jitter_only = sum(backoff_delay(n, base, cap, rng=Shortest()) for n in range(retry_max))
    assert jitter_only < lock_timeout  # why the busy error asks for a longer wait

    held = 0.0  # the lock's age when a retry runs; its holder died at once
    for retry in range(retry_max):
        if held >= lock_timeout:
            break
        backoff = backoff_delay(retry, base, cap, rng=Shortest())
        asked = min(busy_wait(lock_timeout - held, lock_timeout), cap)
        held += max(backoff, asked)
    assert held >= lock_timeout, f"retries exhausted {lock_timeout - held:.0f}s before expiry"


def test_without_push_a_change_reaches_xcart_with_the_next_polls(
    erp, store, clean_ledger, celery_worker
) -> None:
    interval = 2.0
    products = store.products()
    inventory.store_index().current()
    assert inventory.changed_skus() == []  # what each poll does: read both sides, compare
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
        reached = watch_until(store, targets, started, 60)
    finally:
        stop.set()
        ticker.join()

    # How fast is `make bench`'s to say; here: the polls bring every change over.
    assert sorted(reached) == sorted(targets)


def notification(rows_in: list[dict], rows_out: list[dict], note_id: str) -> dict:
    return {
        "Inserted": rows_in,
        "Deleted": rows_out,
        "Query": "ItemAvailability",
        "CompanyId": "Company",
        "Id": note_id,
        "TimeStamp": 639313551233929344,
    }


def row(sku: str, available: float) -> dict:
    return {
        "InventoryID": sku,
        "WarehouseID": "WHOLESALE",
        "QtyOnHand": available,
        "QtyAvailable": available,
    }


def test_duplicate_stale_and_split_notifications_end_with_the_erp_value_in_one_write(
    erp, store, clean_ledger, celery_worker, worker_activity
) -> None:
    sku = "O'NEIL/42"
    product = store.products()[sku]
    erp.adjust([(sku, "WHOLESALE", 5)])  # no push subscription: the engine has not heard yet
    truth = erp.available(sku)
    store.reset_stats()

    stale = notification([row(sku, 1.0)], [], "tx-2")  # an older value, delivered late
    deleted_half = notification([], [row(sku, 12.0)], "tx-1")
    inserted_half = notification([row(sku, 17.0)], [], "tx-1")
    for body in (inserted_half, stale, deleted_half, inserted_half, stale):
        tasks.inventory.realtime_on_push.delay(notification=body)

    wait_for(lambda: store.amount(product["id"]) == truth, timeout=10)
    worker_activity.idle()  # every flush booked, coalesce window and all, has run
    assert store.amount(product["id"]) == truth
    puts = {p: n for p, n in store.stats().items() if p.startswith("PUT ")}
    assert puts == {f"PUT /api/products/{product['id']}": 1}


def test_burst_to_one_sku_makes_at_most_the_first_write_and_one_with_the_last_value(
    erp, store, push_receiver, clean_ledger, celery_worker, worker_activity
) -> None:
    sku = "AA-0007"
    product = store.products()[sku]
    inventory.store_index().current()
    store.reset_stats()
    for delta in (4, -1, 3, 2, -2, 5, 1, -3, 2, 1):
        erp.adjust([(sku, "RETAIL", delta)])
    truth = erp.available(sku)

    wait_for(lambda: store.amount(product["id"]) == truth, timeout=10)
    worker_activity.idle()  # every flush booked, coalesce window and all, has run
    assert truth == product["amount"] + 12
    assert store.stats().get(f"PUT /api/products/{product['id']}") in (1, 2)


def test_store_orders_not_yet_in_acumatica_are_deducted_until_synced(
    erp, store, push_receiver, clean_ledger, celery_worker
) -> None:
    from sync_workers.ledger import claim_record, mark_synced, session_scope

    sku = "AA-0011"
    product = store.products()[sku]
    placed = store.checkout([(sku, 4)])
    assert placed.status_code == 201, placed.text
    assert store.amount(product["id"]) == product["amount"] - 4

    erp.adjust([(sku, "WHOLESALE", 10)])
    # ERP knows nothing of the order: the store must still hold its 4 units back.
    wait_for(lambda: store.amount(product["id"]) == product["amount"] + 10 - 4, timeout=10)

    with session_scope() as session:
        record = claim_record(session, "orders", "xcart_to_acumatica", str(placed.json()["id"]))
        mark_synced(session, record, target_key="SO/000001")
    tasks.inventory.poll.delay()
    # Synced (and, in this test, never booked in the ERP): the 4 units count as sold there.
    wait_for(lambda: store.amount(product["id"]) == product["amount"] + 10, timeout=10)


def test_variant_sku_gets_its_own_stock_from_its_stock_item(
    erp, store, push_receiver, clean_ledger, celery_worker
) -> None:
    tee = store.products()["WEB-TEE"]
    variants = store.http.get(f"{store.url}/api/products/{tee['id']}/variants", timeout=10).json()
    medium = next(v for v in variants if v["sku"] == "WEB-TEE-M")
    erp.api.put("StockItem", {"InventoryID": "WEB-TEE-M", "Description": "Tee, medium"})
    erp.adjust([("WEB-TEE-M", "RETAIL", 7)])

    def variant() -> dict:
        path = f"{store.url}/api/products/{tee['id']}/variants/{medium['id']}"
        return store.http.get(path, timeout=10).json()

    wait_for(lambda: variant()["amount"] == 7, timeout=10)
    assert variant()["default_amount"] is False
    assert store.amount(tee["id"]) == tee["amount"]


def test_product_added_to_the_store_after_the_index_gets_its_stock(
    erp, store, push_receiver, clean_ledger, celery_worker
) -> None:
    inventory.store_index().current()
    created = store.http.post(
        f"{store.url}/api/products",
        json={"sku": "NEW-LAMP", "name": "New lamp", "price": 30.0, "amount": 0},
        timeout=10,
    ).json()
    erp.api.put("StockItem", {"InventoryID": "NEW-LAMP", "Description": "New lamp"})
    erp.adjust([("NEW-LAMP", "RETAIL", 4)])

    wait_for(lambda: store.amount(created["id"]) == 4, timeout=10)


def test_configured_warehouses_and_safety_stock_shape_the_amount_never_below_zero(
    erp, store, push_receiver, clean_ledger, celery_worker, tmp_path
) -> None:
    import shutil

    from sync_workers.mapping import templates

    folder = tmp_path / "templates"
    shutil.copytree(templates.BUNDLED_DIR, folder)
    path = folder / "inventory.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("warehouses: [WHOLESALE, RETAIL]", "warehouses: [RETAIL]")
    text = text.replace("  default: 0\n  per_sku: {}", "  default: 2\n  per_sku: {AA-0016: 500}")
    path.write_text(text, encoding="utf-8")
    templates.use_templates_dir(folder)
    try:
        products = store.products()
        erp.adjust([("AA-0015", "RETAIL", 1), ("AA-0016", "RETAIL", 1)])
        retail = {
            sku: sum(
                r["QtyAvailable"]
                for r in erp.api.put(
                    "InventorySummaryInquiry", {"InventoryID": sku}, expand=["Results"]
                )["Results"]
                if r["WarehouseID"] == "RETAIL"
            )
            for sku in ("AA-0015", "AA-0016")
        }
        wait_for(lambda: store.amount(products["AA-0015"]["id"]) == retail["AA-0015"] - 2)
        wait_for(lambda: store.amount(products["AA-0016"]["id"]) == 0)
    finally:
        templates.use_templates_dir(None)
