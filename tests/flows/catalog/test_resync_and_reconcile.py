"""Dry-run plans and reconcile drift of both flows: they read, report, and write nothing."""

from __future__ import annotations

import requests

import tasks.inventory
from sync_workers.flows import inventory, products
from sync_workers.redis_client import get_redis
from sync_workers.settings import get_settings
from tests.flows.catalog.conftest import wait_for


def engine_keys() -> set[str]:
    prefix = get_settings().redis_key_prefix
    return {k for k in get_redis().scan_iter(match=f"{prefix}inventory:*")}


def test_inventory_drift_and_plan_report_a_store_edit_without_writing(
    erp, store, clean_ledger, redis_client
) -> None:
    product = store.products()["AA-0050"]
    store.update(product["id"], {"amount": product["amount"] + 9})
    store.reset_stats()

    found = inventory.drift()
    planned = inventory.plan(ids=["aa-0050", "AA-0051"])

    assert [(d.source_id, d.kind) for d in found] == [("AA-0050", "mismatch")]
    assert found[0].details["xcart_amount"] == product["amount"] + 9
    assert found[0].details["expected"] == product["amount"]
    assert [(p.source_id, p.action) for p in planned] == [("AA-0050", "update")]
    assert planned[0].changes[0].proposed == product["amount"]
    assert not any(path.startswith("PUT") for path in store.stats())
    assert engine_keys() == set()


def test_inventory_resync_of_listed_skus_puts_the_store_right(
    erp, store, clean_ledger, celery_worker
) -> None:
    product = store.products()["AA-0060"]
    store.update(product["id"], {"amount": 0})
    tasks.inventory.poll.delay(ids=["AA-0060"])
    wait_for(lambda: store.amount(product["id"]) == product["amount"], timeout=10)


def test_products_drift_and_plan_show_owner_values_without_writing(
    sandboxes, store, erp, clean_ledger, redis_client
) -> None:
    product = store.products()["AA-0070"]
    store.update(product["id"], {"name": "Renamed in the store"})
    store.reset_stats()
    acumatica = sandboxes["acumatica"].url
    requests.post(f"{acumatica}/_sandbox/stats/reset", json={}, timeout=10)

    found = products.drift()
    planned = products.plan(ids=["AA-0070"])

    assert [(d.source_id, d.kind) for d in found] == [("AA-0070", "mismatch")]
    assert found[0].details["name"]["expected"] == product["name"]
    assert [(p.source_id, p.action, p.direction) for p in planned] == [
        ("AA-0070", "update", "acumatica_to_xcart")
    ]
    assert planned[0].changes[0].field == "name"
    assert not any(path.startswith("PUT") for path in store.stats())
    stats = requests.get(f"{acumatica}/_sandbox/stats", timeout=10).json()
    assert not any(p.startswith("PUT") for p in stats["requests"]["by_path"])
    assert products.remembered() == {}
