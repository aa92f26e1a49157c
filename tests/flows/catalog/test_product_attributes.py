"""Product attributes X-Cart -> Acumatica through a real worker and both sandboxes: select,
checkbox and text values, global and product-specific, variants' own values; missing
definitions and values created only when the template allows, otherwise a dead letter that
names the attribute (and the value) the way the mapping assistant reads it."""

from __future__ import annotations

import pytest
import requests

import tasks.products  # noqa: F401  (registers the products chain's task)
from sync_workers.console.grouping import unmapped_values
from sync_workers.flows import products, runner
from sync_workers.task import get_dlq
from tests.flows.catalog.conftest import attributes_of, wait_for


@pytest.fixture
def primed(sandboxes, store, clean_ledger, redis_client):
    assert products.changed_skus() == []
    return sandboxes


def stock_item_puts(sandboxes) -> int:
    stats = requests.get(f"{sandboxes['acumatica'].url}/_sandbox/stats", timeout=10).json()
    return sum(
        n
        for path, n in stats["requests"]["by_path"].items()
        if path.startswith("PUT ") and path.endswith("/StockItem")
    )


def open_dead_letters() -> list:
    return list(get_dlq().iter_entries(status="open", flow="products"))


def add_store_value(store, product_id: int, attribute: str, value: str) -> None:
    """A store clerk adds a global select attribute's option and gives it to one product."""
    http, url = store.http, store.url
    found = [a for a in http.get(f"{url}/api/attributes_select", timeout=10).json()]
    match = next((a for a in found if a["name"] == attribute), None)
    if match is None:
        match = http.post(f"{url}/api/attributes_select", json={"name": attribute}, timeout=10)
        match = match.json()
    option = http.post(
        f"{url}/api/attributes_select/{match['id']}/options", json={"value": value}, timeout=10
    ).json()
    path = f"{url}/api/products/{product_id}/attributes_select/{match['id']}/values"
    answer = http.post(path, json={"option_id": option["id"]}, timeout=10)
    assert answer.status_code == 201, answer.text


def test_variant_values_reach_its_stock_item_once(primed, erp, store, celery_worker) -> None:
    """WEB-TEE-L: its own value of the product-specific select Size, and the global text
    Material of its product; a second run writes nothing."""
    erp.api.put("StockItem", {"InventoryID": "WEB-TEE-L", "Description": "Tee, large"})
    before = stock_item_puts(primed)

    runner.start("products", "WEB-TEE-L")
    wait_for(lambda: attributes_of(erp, "WEB-TEE-L") == {"SIZE": "L", "MATERIAL": "Cotton"})
    wait_for(lambda: products.remembered(["WEB-TEE-L"]).get("WEB-TEE-L"))
    assert stock_item_puts(primed) == before + 1  # one PUT: the attribute rows
    assert not open_dead_letters()

    store.reset_stats()
    result = runner.run_inline("products", "sync", "WEB-TEE-L")
    assert "task" not in result
    assert stock_item_puts(primed) == before + 1  # already there: nothing written
    reads = {p: n for p, n in store.stats().items() if "attributes_" in p}
    # 3 global lists, 3 lists of the product's own, one value read per attribute (3 global, 1 own)
    assert sum(reads.values()) == 10, reads


def test_unmapped_attribute_is_a_dead_letter_naming_the_field_and_nothing_is_written(
    primed, erp, store, celery_worker
) -> None:
    """WEB-MUG-RED carries the global checkbox "Dishwasher safe", which the template does
    not map: the record stops before any write, naming the attribute for the assistant."""
    erp.api.put(
        "StockItem", {"InventoryID": "WEB-MUG-RED", "Description": "Mug, red", "DefaultPrice": 1}
    )
    runner.start("products", "WEB-MUG-RED")

    [entry] = wait_for(lambda: open_dead_letters())
    assert entry.record_id == "WEB-MUG-RED" and entry.step == "attributes"
    assert entry.field_errors == {
        "attributes.Dishwasher safe": "unmapped product attribute 'Dishwasher safe'"
    }
    assert "'Dishwasher safe'" in entry.error_message and "True" in entry.error_message
    assert entry.error_details["attribute"] == "Dishwasher safe"
    assert unmapped_values(entry) == [("product attribute", "Dishwasher safe")]  # the assistant's
    assert entry.error_details["value"] == "True"
    assert attributes_of(erp, "WEB-MUG-RED") == {}
    assert erp.api.get_by_keys("StockItem", "WEB-MUG-RED")["DefaultPrice"] == 1  # not patched


def test_unmapped_attributes_can_be_skipped(template, primed, erp, store, celery_worker) -> None:
    template("  unmapped: dead_letter", "  unmapped: skip")
    erp.api.put("StockItem", {"InventoryID": "WEB-MUG-BLUE", "Description": "Mug, blue"})
    runner.start("products", "WEB-MUG-BLUE")
    wait_for(lambda: attributes_of(erp, "WEB-MUG-BLUE") == {"COLOR": "BLUE", "MATERIAL": "Ceramic"})
    assert not open_dead_letters()


def test_missing_value_is_a_dead_letter_until_the_template_allows_creating_it(
    template, primed, erp, store, celery_worker
) -> None:
    product = store.products()["AA-0001"]
    add_store_value(store, product["id"], "Color", "Light purple")
    runner.start("products", "AA-0001")

    [entry] = wait_for(lambda: open_dead_letters())
    assert entry.field_errors == {
        "attributes.Color": "unknown product attribute value 'Light purple' for COLOR"
    }
    assert attributes_of(erp, "AA-0001") == {}

    template("  create_missing: false", "  create_missing: true")
    runner.start("products", "AA-0001")
    wait_for(lambda: attributes_of(erp, "AA-0001") == {"COLOR": "LIGHTPURPL"})
    color = erp.api.get_by_keys("AttributeDefinition", "COLOR", expand=["Values"])
    assert {"ValueID": "LIGHTPURPL", "Description": "Light purple"}.items() <= next(
        v for v in color["Values"] if v["ValueID"] == "LIGHTPURPL"
    ).items()


def test_missing_definition_is_created_when_allowed(
    template, primed, erp, store, celery_worker
) -> None:
    template("    Material: MATERIAL\n", "    Material: MATERIAL\n    dishwasher SAFE: DISHWASH\n")
    template("  create_missing: false", "  create_missing: true")
    erp.api.put("StockItem", {"InventoryID": "WEB-MUG-RED", "Description": "Mug, red"})
    runner.start("products", "WEB-MUG-RED")

    wait_for(
        lambda: (
            attributes_of(erp, "WEB-MUG-RED")
            == {"COLOR": "RED", "DISHWASH": "True", "MATERIAL": "Ceramic"}
        )
    )
    created = erp.api.get_by_keys("AttributeDefinition", "DISHWASH")
    assert created["ControlType"] == "Checkbox" and created["Description"] == "Dishwasher safe"
    assert not open_dead_letters()
