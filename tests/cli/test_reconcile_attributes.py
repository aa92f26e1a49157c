"""``reconcile products`` and ``resync products --dry-run`` compare product attributes: a stock
item's attribute row or custom field changed in Acumatica is named with both values, and
``--repair`` runs the SKU's chain so the sandbox holds the store's value again; an attribute
the template cannot map is drift a resync cannot fix."""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests

import tasks.products  # noqa: F401  (registers the products chain's task)
from sync_workers.flows import runner
from tests.flows.catalog.conftest import attributes_of, wait_for
from tests.flows.catalog.conftest import erp as erp  # fixtures
from tests.flows.catalog.conftest import store as store
from tests.flows.catalog.conftest import template as template
from tests.flows.catalog.test_product_attributes import add_store_value


def drift_of(cli: Any, sku: str) -> list[dict]:
    answer = cli("reconcile", "products", "--json").json
    assert "drift" in answer, answer
    return [d for d in answer["drift"] if d["source_id"] == sku]


def until_gone(cli: Any, sku: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while drift_of(cli, sku):
        assert time.monotonic() < deadline, drift_of(cli, sku)
        time.sleep(0.5)


def add_text_value(store: Any, product_id: int, attribute: str, value: str) -> None:
    """A store clerk fills a global text attribute in for one product."""
    http, url = store.http, store.url
    found = http.get(f"{url}/api/attributes_text", timeout=10).json()
    match = next(a for a in found if a["name"] == attribute)
    path = f"{url}/api/products/{product_id}/attributes_text/{match['id']}/values"
    answer = http.post(path, json={"value": value}, timeout=10)
    assert answer.status_code == 201, answer.text


def custom_value(erp: Any, sku: str, field: str) -> Any:
    url = erp.api.url("StockItem", sku)
    answer = erp.api.request("GET", url, params={"$custom": field}).json()
    view, name = field.split(".")
    return (((answer.get("custom") or {}).get(view) or {}).get(name) or {}).get("value")


@pytest.fixture
def aligned(sandboxes, clean_ledger, redis_client):
    return sandboxes


def test_an_attribute_changed_in_acumatica_is_shown_and_repaired(
    cli, aligned, erp, store, celery_worker
) -> None:
    product = store.products()["AA-0001"]
    add_store_value(store, product["id"], "Color", "Red")
    runner.run_inline("products", "sync", "AA-0001")
    assert attributes_of(erp, "AA-0001") == {"COLOR": "RED"}
    assert drift_of(cli, "AA-0001") == []

    erp.api.put(
        "StockItem",
        {"InventoryID": "AA-0001", "Attributes": [{"AttributeID": "COLOR", "Value": "BLUE"}]},
    )
    acumatica = aligned["acumatica"].url
    requests.post(f"{acumatica}/_sandbox/stats/reset", json={}, timeout=10)

    found = cli("reconcile", "products", "--json")
    human = cli("reconcile", "products")
    plan = cli("resync", "products", "--id", "AA-0001", "--dry-run", "--json")

    assert found.exit_code == 1 and human.exit_code == 1
    [drift] = [d for d in found.json["drift"] if d["source_id"] == "AA-0001"]
    assert drift["kind"] == "mismatch"
    assert drift["details"] == {"Attributes[COLOR]": {"now": "BLUE", "expected": "RED"}}
    assert "products AA-0001: Attributes[COLOR]: 'BLUE' -> 'RED'" in human.output
    [planned] = plan.json["changes"]
    assert planned["action"] == "update" and planned["direction"] == "xcart_to_acumatica"
    assert planned["changes"] == [
        {"field": "Attributes[COLOR]", "current": "BLUE", "proposed": "RED"}
    ]
    # the comparisons read the stock items in pages (attributes expanded) and the mapped
    # definitions once per run: no call per SKU
    stats = requests.get(f"{acumatica}/_sandbox/stats", timeout=10).json()["requests"]["by_path"]
    reads = {p: n for p, n in stats.items() if p.startswith("GET /entity/")}
    assert not [p for p in reads if "/StockItem/" in p], reads
    assert reads.get("GET /entity/Default/24.200.001/AttributeDefinition") == 3, reads

    repaired = cli("reconcile", "products", "--repair", "--json")

    assert repaired.json["repair"]["enqueued"][0]["ids"] == ["AA-0001"]
    assert repaired.json["repair"]["manual"] == []
    wait_for(lambda: attributes_of(erp, "AA-0001") == {"COLOR": "RED"}, timeout=30)
    until_gone(cli, "AA-0001")


def test_a_custom_field_changed_in_acumatica_is_shown_and_repaired(
    cli, aligned, template, erp, store, celery_worker
) -> None:
    template("    Material: MATERIAL\n", "")
    template("  custom_fields: {}", "  custom_fields:\n    Material: ItemSettings.UsrMaterial")
    product = store.products()["AA-0002"]
    add_text_value(store, product["id"], "Material", "Linen")
    runner.run_inline("products", "sync", "AA-0002")
    assert custom_value(erp, "AA-0002", "ItemSettings.UsrMaterial") == "Linen"
    assert drift_of(cli, "AA-0002") == [], drift_of(cli, "AA-0002")[0]["details"]

    erp.api.put(
        "StockItem",
        {
            "InventoryID": "AA-0002",
            "custom": {
                "ItemSettings": {"UsrMaterial": {"type": "CustomStringField", "value": "Wool"}}
            },
        },
    )

    [drift] = drift_of(cli, "AA-0002")
    assert drift["details"] == {
        "custom.ItemSettings.UsrMaterial": {"now": "Wool", "expected": "Linen"}
    }

    repaired = cli("reconcile", "products", "--repair", "--json")

    assert repaired.json["repair"]["enqueued"][0]["ids"] == ["AA-0002"]
    wait_for(
        lambda: custom_value(erp, "AA-0002", "ItemSettings.UsrMaterial") == "Linen", timeout=30
    )
    until_gone(cli, "AA-0002")


def test_an_unmapped_attribute_is_drift_for_a_person(cli, aligned, erp, store) -> None:
    """AA-0003 gets a product-specific text attribute the template does not map (``unmapped:
    dead_letter``): a resync would stop it, so repair names it instead of resyncing."""
    product = store.products()["AA-0003"]
    http, url = store.http, store.url
    own = http.post(
        f"{url}/api/products/{product['id']}/attributes_text", json={"name": "Finish"}, timeout=10
    ).json()
    path = f"{url}/api/products/{product['id']}/attributes_text/{own['id']}/values"
    assert http.post(path, json={"value": "Matte"}, timeout=10).status_code == 201

    [drift] = drift_of(cli, "AA-0003")
    assert drift["details"]["repairable"] is False
    assert "'Finish'" in drift["details"]["reason"]
    plan = cli("resync", "products", "--id", "AA-0003", "--dry-run", "--json").json
    [planned] = plan["changes"]
    assert planned["action"] == "skip" and "'Finish'" in planned["reason"]

    repaired = cli("reconcile", "products", "--repair", "--json").json["repair"]

    assert repaired["enqueued"] == []
    assert [m["source_id"] for m in repaired["manual"]] == ["AA-0003"]
    assert attributes_of(erp, "AA-0003") == {}
