"""Products both ways through a real worker: system of record per field group, no echoes."""

from __future__ import annotations

import time

import pytest
import requests

import tasks.products
from sync_workers.flows import products
from sync_workers.flows.runner import run_inline
from sync_workers.mapping import templates
from tests.flows.catalog.conftest import wait_for


def nothing_left_to_sync() -> None:
    """The next poll would find nothing: both sides agree and the ledger knows it (the worker
    stores the hashes just after its last write, so allow it a moment)."""
    wait_for(lambda: products.changed_skus() == [], timeout=10, interval=0.1)


def store_scan_due(redis_client) -> None:
    """Make the next cursor poll scan the store (it does so at most every store_scan_seconds)."""
    from sync_workers.redis_client import get_redis

    get_redis().delete(products.store_scan_key())


def api_calls(sandboxes, store) -> dict[str, int]:
    stats = requests.get(f"{sandboxes['acumatica'].url}/_sandbox/stats", timeout=10).json()
    calls = {
        p: n
        for p, n in stats["requests"]["by_path"].items()
        if not p.startswith("POST /entity/auth")
    }
    return {**calls, **store.stats()}


def acumatica_puts(sandboxes) -> int:
    stats = requests.get(f"{sandboxes['acumatica'].url}/_sandbox/stats", timeout=10).json()
    by_path = stats["requests"]["by_path"]
    return sum(n for path, n in by_path.items() if path.startswith("PUT ") and "StockItem" in path)


def xcart_puts(store) -> int:
    return sum(n for path, n in store.stats().items() if path.startswith("PUT /api/products"))


@pytest.fixture
def primed(sandboxes, store, clean_ledger, redis_client):
    """The ledger after a first poll over the aligned seed catalogues."""
    assert products.changed_skus() == []
    store.reset_stats()
    requests.post(f"{sandboxes['acumatica'].url}/_sandbox/stats/reset", json={}, timeout=10)
    return sandboxes


def test_first_poll_over_aligned_catalogues_links_every_sku_and_writes_nothing(
    sandboxes, store, clean_ledger, redis_client
) -> None:
    assert products.changed_skus() == []
    memory = products.remembered()
    assert len(memory) >= 200
    assert {"AA-0001", "O'NEIL/42", "AA-CAFE"} <= set(memory)
    assert xcart_puts(store) == 0 and acumatica_puts(sandboxes) == 0


def test_acumatica_edit_reaches_xcart_once_and_does_not_echo(
    primed, erp, store, celery_worker
) -> None:
    product = store.products()["AA-QUOTE"]
    erp.api.put(
        "StockItem",
        {
            "InventoryID": "AA-QUOTE",
            "Description": 'Sailor\'s "Deluxe" knot board',
            "DefaultPrice": 39.9,
        },
    )
    tasks.products.poll.delay()

    wait_for(lambda: store.product(product["id"])["name"] == 'Sailor\'s "Deluxe" knot board')
    wait_for(lambda: store.product(product["id"])["price"] == 39.9)
    nothing_left_to_sync()
    assert xcart_puts(store) == 1
    assert acumatica_puts(primed) == 1  # the edit above, nothing written back


def test_store_edit_of_an_erp_owned_field_is_put_back_and_conflicts_go_to_the_owner(
    primed, erp, store, celery_worker, redis_client
) -> None:
    products_by_sku = store.products()
    lamp, mug = products_by_sku["AA-SOLDOUT"], products_by_sku["AA-LODZ"]
    store.update(lamp["id"], {"price": 1.0, "meta_title": "Lantern for the web"})
    store.update(mug["id"], {"name": "Mug from the store"})
    erp.api.put("StockItem", {"InventoryID": "AA-LODZ", "Description": "Mug from the ERP"})
    store_scan_due(redis_client)
    tasks.products.poll.delay()

    wait_for(lambda: store.product(lamp["id"])["price"] == lamp["price"])
    wait_for(lambda: store.product(mug["id"])["name"] == "Mug from the ERP")
    assert store.product(lamp["id"])["meta_title"] == "Lantern for the web"  # store-owned
    assert erp.api.get_by_keys("StockItem", "AA-LODZ")["Description"] == "Mug from the ERP"
    nothing_left_to_sync()


def test_store_owned_group_flows_to_acumatica_without_ping_pong(
    template, primed, erp, store, celery_worker, redis_client
) -> None:
    template("  price:\n    owner: acumatica", "  price:\n    owner: xcart")
    product = store.products()["AA-0042"]
    store.update(product["id"], {"price": 12.34})
    store_scan_due(redis_client)
    tasks.products.poll.delay()

    wait_for(lambda: erp.api.get_by_keys("StockItem", "AA-0042")["DefaultPrice"] == 12.34)
    nothing_left_to_sync()
    assert acumatica_puts(primed) == 1
    assert xcart_puts(store) == 1  # the edit above only


def test_new_store_product_creates_a_stock_item_only_when_configured(
    template, primed, erp, store, celery_worker, redis_client
) -> None:
    created = store.http.post(
        f"{store.url}/api/products",
        json={"sku": "WEB-NEW-1", "name": "Brand-new poster", "price": 19.5, "weight": 0.2},
        timeout=10,
    )
    assert created.status_code in (200, 201), created.text
    assert run_inline("products", "sync", "WEB-NEW-1")["skip"] == "no stock item"
    assert erp.api.get_by_keys("StockItem", "WEB-NEW-1", missing_ok=True) is None

    template("create_stock_items: false", "create_stock_items: true")
    store_scan_due(redis_client)
    tasks.products.poll.delay()
    item = wait_for(lambda: erp.api.get_by_keys("StockItem", "WEB-NEW-1", missing_ok=True))
    assert item["Description"] == "Brand-new poster"
    assert item["DefaultPrice"] == 19.5
    nothing_left_to_sync()


def test_store_webhook_echoing_our_own_write_is_ignored(primed, store, celery_worker) -> None:
    product = store.products()["AA-0100"]
    assert products.on_store_event(store.product(product["id"])) is None

    edited = store.update(product["id"], {"name": "Renamed in the store"})
    assert products.on_store_event(edited) == "AA-0100"
    tasks.products.realtime_on_webhook.delay(event="product.updated", data=edited)
    wait_for(lambda: store.product(product["id"])["name"] == product["name"])


def test_pushed_stock_item_edit_reaches_xcart_without_a_poll(
    primed, erp, store, products_push_receiver, celery_worker
) -> None:
    product = store.products()["AA-CAFE"]
    erp.api.put("StockItem", {"InventoryID": "AA-CAFE", "Description": "Café crème 500 g"})

    wait_for(lambda: store.product(product["id"])["name"] == "Café crème 500 g", timeout=10)
    nothing_left_to_sync()
    assert xcart_puts(store) == 1


def test_variant_price_and_weight_follow_their_stock_item(
    primed, erp, store, celery_worker
) -> None:
    tee = store.products()["WEB-TEE"]
    variants = store.http.get(f"{store.url}/api/products/{tee['id']}/variants", timeout=10).json()
    large = next(v for v in variants if v["sku"] == "WEB-TEE-L")
    erp.api.put(
        "StockItem",
        {
            "InventoryID": "WEB-TEE-L",
            "Description": "Tee, large",
            "DefaultPrice": 27.5,
            "DimensionWeight": 0.35,
        },
    )
    tasks.products.poll.delay()

    def variant() -> dict:
        path = f"{store.url}/api/products/{tee['id']}/variants/{large['id']}"
        return store.http.get(path, timeout=10).json()

    wait_for(lambda: variant()["price"] == 27.5)
    assert variant()["default_price"] is False
    assert variant()["weight"] == 0.35
    assert store.product(tee["id"])["name"] == tee["name"]  # the product keeps its own name
    nothing_left_to_sync()


def test_store_edit_arrives_by_signed_webhook_and_our_correction_does_not_echo(
    primed, store, celery_worker, worker_activity
) -> None:
    import os

    from sandboxes.common.server import serve_in_thread
    from sync_workers.settings import load_settings
    from sync_workers.webhooks import create_app

    secret = "store-module-secret-of-32-chars-or-more"
    receiver = serve_in_thread(
        create_app(load_settings({**os.environ, "WEBHOOK_XCART_SECRET": secret}))
    )
    xcart = store.url
    product = store.products()["AA-0123"]
    try:
        store.http.post(f"{xcart}/_sandbox/config", json={"webhooks_enabled": True}, timeout=10)
        store.http.post(
            f"{xcart}/_sandbox/webhooks",
            json={
                "url": f"{receiver.url}/webhooks/xcart",
                "events": ["product.updated"],
                "secret": secret,
            },
            timeout=10,
        ).raise_for_status()
        store.update(product["id"], {"name": "Renamed by a merchant"})

        wait_for(lambda: store.product(product["id"])["name"] == product["name"], timeout=10)
        deliveries = lambda: store.http.get(  # noqa: E731
            f"{xcart}/_sandbox/webhooks/deliveries", timeout=10
        ).json()
        wait_for(lambda: len(deliveries()) == 2 and all(d["delivered"] for d in deliveries()))
        worker_activity.idle()  # the run for our correction's webhook has finished too
    finally:
        store.http.post(f"{xcart}/_sandbox/config", json={"webhooks_enabled": False}, timeout=10)
        receiver.stop()

    assert xcart_puts(store) == 2  # the merchant's edit and our correction, nothing more
    nothing_left_to_sync()


def test_new_stock_item_creates_a_store_product_only_when_configured(
    template, primed, erp, store, celery_worker
) -> None:
    erp.api.put(
        "StockItem",
        {"InventoryID": "ERP-ONLY-1", "Description": "Warehouse-only widget", "DefaultPrice": 7.25},
    )
    assert products.changed_skus() == []
    assert "ERP-ONLY-1" not in store.products()

    template("create_store_products: false", "create_store_products: true")
    tasks.products.poll.delay(ids=["ERP-ONLY-1"])
    created = wait_for(lambda: store.products().get("ERP-ONLY-1"))
    assert created["name"] == "Warehouse-only widget"
    assert created["price"] == 7.25
    assert created["enabled"] is True  # ItemStatus Active
    wait_for(lambda: products.remembered().get("ERP-ONLY-1"))
    nothing_left_to_sync()


def test_idle_poll_reads_only_acumatica_until_the_store_scan_is_due(
    template, primed, erp, store, redis_client, celery_worker
) -> None:
    """X-Cart has no updated-since filter for products: the store is scanned at most every
    store_scan_seconds; a poll in between costs one call, and an Acumatica edit still arrives
    by reading only that SKU's store record."""
    # Idle means nothing changed since the cursor: no overlap re-reading the fresh seed items.
    template("  overlap_seconds: 120", "  overlap_seconds: 0")
    settle = templates.load_template("products")["poll"]["settle_seconds"]
    # the priming wrote the stock items a moment ago: once they have settled, one poll moves the
    # cursor past them all
    time.sleep(settle + 0.5)
    assert products.changed_skus() == []
    time.sleep(settle + 0.5)
    store.reset_stats()
    requests.post(f"{primed['acumatica'].url}/_sandbox/stats/reset", json={}, timeout=10)
    assert products.changed_skus() == []  # not due: the primed poll scanned just now
    # poll.source odata: one OData request, no contract-API request
    assert api_calls(primed, store) == {"GET /t/Company/api/odata/dac/InventoryItem": 1}

    product = store.products()["AA-0042"]
    store.update(product["id"], {"price": 99.5})  # a store edit waits for the scan...
    erp.api.put("StockItem", {"InventoryID": "AA-LODZ", "Description": "Mug, new text"})
    store.reset_stats()
    assert products.changed_skus() == ["AA-LODZ"]  # ...an ERP edit does not
    reads = store.stats()
    assert sum(reads.values()) == 1 and all("/api/products/" in p for p in reads)

    store_scan_due(redis_client)
    assert "AA-0042" in products.changed_skus()  # the scan sees the store edit


def test_chain_run_again_after_creating_a_store_product_does_not_create_it_twice(
    template, primed, erp, store
) -> None:
    erp.api.put(
        "StockItem",
        {"InventoryID": "ERP-ONLY-2", "Description": "Widget run twice", "DefaultPrice": 3.5},
    )
    template("create_store_products: false", "create_store_products: true")

    first = run_inline("products", "sync", "ERP-ONLY-2")
    again = run_inline("products", "sync", "ERP-ONLY-2")  # as a retry after the create would

    assert first["created"] == "xcart"
    assert "created" not in again and "task" not in again  # no second create, no failure
    assert again["target_key"] == first["target_key"]
    listed, page = [], 1
    while True:
        batch = store.http.get(
            f"{store.url}/api/products", params={"page": page, "itemsPerPage": 100}, timeout=10
        ).json()
        listed += [p for p in batch if p["sku"] == "ERP-ONLY-2"]
        if len(batch) < 100:
            break
        page += 1
    assert len(listed) == 1
