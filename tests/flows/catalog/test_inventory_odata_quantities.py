"""Inventory quantities from the INSiteStatus DAC (``poll.changes: INSiteStatus``): a stock
change reaches X-Cart with no contract-API request from the inventory flow, summed over the
template's warehouses exactly as ``InventorySummaryInquiry`` is."""

from __future__ import annotations

import shutil

import pytest
import requests
import yaml

import tasks.inventory
from sync_workers.flows.runner import run_inline
from sync_workers.mapping import templates

ODATA = "GET /t/Company/api/odata/dac/"
CONTRACT = "/entity/Default/"


@pytest.fixture
def template(tmp_path):
    """The bundled templates; ``template(**settings)`` rewrites inventory.yaml's top level and
    ``template(poll={...})`` its ``poll`` section."""
    folder = tmp_path / "templates"
    shutil.copytree(templates.BUNDLED_DIR, folder)
    templates.use_templates_dir(folder)

    def edit(poll: dict | None = None, **settings) -> None:
        path = folder / "inventory.yaml"
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data.update(settings)
        data["poll"] = {**data["poll"], **(poll or {})}
        path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        templates.clear_cache()

    yield edit
    templates.use_templates_dir(None)


def calls(sandboxes) -> dict[str, int]:
    url = sandboxes["acumatica"].url
    return requests.get(f"{url}/_sandbox/stats", timeout=10).json()["requests"]["by_path"]


def reset_stats(sandboxes) -> None:
    url = sandboxes["acumatica"].url
    requests.post(f"{url}/_sandbox/stats/reset", json={}, timeout=10).raise_for_status()


def contract(by_path: dict[str, int]) -> dict[str, int]:
    return {p: n for p, n in by_path.items() if CONTRACT in p}


def inquiry(erp, sku: str) -> list[dict]:
    """The item's ``InventorySummaryInquiry`` rows (the driver's own read, before counting)."""
    answer = erp.api.put("InventorySummaryInquiry", {"InventoryID": sku}, expand=["Results"])
    return list(answer["Results"])


def expected(erp, sku: str, field: str, warehouses: tuple[str, ...]) -> float:
    return sum(r[field] for r in inquiry(erp, sku) if r["WarehouseID"].upper() in warehouses)


def book_sales_order(erp, sku: str, warehouse: str, qty: float) -> None:
    """An open sales order line: ``QtyAvailable`` drops, ``QtyAvailableForShipment`` does not."""
    erp.api.put(
        "SalesOrder",
        {
            "OrderType": "SO",
            "CustomerID": "XCGUEST",
            "Details": [{"InventoryID": sku, "OrderQty": qty, "WarehouseID": warehouse}],
        },
    )


def test_stock_change_reaches_the_store_without_a_contract_api_request(
    sandboxes, erp, store, clean_ledger, template
) -> None:
    sku = "AA-0021"
    products = store.products()
    tasks.inventory.poll()  # the first poll: the cursor starts (a full comparison)
    erp.adjust([(sku, "RETAIL", 4), (sku, "WHOLESALE", 2)])
    tasks.inventory.poll()  # both warehouses' rows are now handled by the cursor
    erp.adjust([(sku, "RETAIL", 3)])  # only the RETAIL row changes
    rows = inquiry(erp, sku)
    assert all(r["QtyAvailable"] > 0 for r in rows) and len(rows) == 2  # both count
    want = expected(erp, sku, "QtyAvailable", ("WHOLESALE", "RETAIL"))
    reset_stats(sandboxes)

    found = tasks.inventory.poll()

    assert found["changed"] == [sku]
    assert store.amount(products[sku]["id"]) == want
    by_path = calls(sandboxes)
    assert contract(by_path) == {}
    # the change query, and the item's rows in every warehouse (RETAIL had not changed alone)
    assert by_path == {f"{ODATA}INSiteStatus": 2}

    reset_stats(sandboxes)
    assert tasks.inventory.poll()["changed"] == []
    assert calls(sandboxes) == {f"{ODATA}INSiteStatus": 1}  # idle: one request


@pytest.mark.parametrize("field", ["QtyAvailable", "QtyAvailableForShipment", "QtyOnHand"])
def test_availability_field_and_warehouses_map_onto_the_dac_columns(
    sandboxes, erp, store, clean_ledger, template, field
) -> None:
    sku = "AA-0015"
    template(availability_field=field, warehouses=["RETAIL"])
    products = store.products()
    tasks.inventory.poll()
    erp.adjust([(sku, "RETAIL", 6), (sku, "WHOLESALE", 9)])
    book_sales_order(erp, sku, "RETAIL", 2)
    retail = next(r for r in inquiry(erp, sku) if r["WarehouseID"] == "RETAIL")
    assert retail["QtyAvailable"] < retail["QtyAvailableForShipment"]  # the fields differ
    want = expected(erp, sku, field, ("RETAIL",))
    reset_stats(sandboxes)

    assert sku in tasks.inventory.poll()["changed"]

    assert store.amount(products[sku]["id"]) == want
    assert contract(calls(sandboxes)) == {}


def test_flush_without_a_current_hint_reads_insitestatus_not_the_inquiry(
    sandboxes, erp, store, clean_ledger, template
) -> None:
    sku = "AA-0012"
    products = store.products()
    erp.adjust([(sku, "RETAIL", 5)])
    want = expected(erp, sku, "QtyAvailable", ("WHOLESALE", "RETAIL"))
    reset_stats(sandboxes)

    # a push or a resync (no hint): the item's InventoryID, then its rows
    run_inline("inventory", "sync", sku)
    assert store.amount(products[sku]["id"]) == want
    assert calls(sandboxes) == {f"{ODATA}InventoryItem": 1, f"{ODATA}INSiteStatus": 1}
    # a task handed out by an older poll (a stale hint); the InventoryID is remembered
    erp.adjust([(sku, "RETAIL", 1)])
    reset_stats(sandboxes)
    run_inline("inventory", "sync", sku, erp_available=999.0, erp_version="an older poll")

    assert store.amount(products[sku]["id"]) == want + 1
    assert calls(sandboxes) == {f"{ODATA}INSiteStatus": 1}


def test_a_remembered_inventory_id_without_rows_is_looked_up_again(
    sandboxes, erp, store, clean_ledger, template, redis_client
) -> None:
    from sync_workers.redis_client import prefixed

    sku = "AA-0012"
    products = store.products()
    want = expected(erp, sku, "QtyAvailable", ("WHOLESALE", "RETAIL"))
    # an item deleted and created anew keeps its code, not its database identity
    redis_client.hset(prefixed("inventory", "item_ids"), sku, "12345")
    reset_stats(sandboxes)

    run_inline("inventory", "sync", sku)

    assert store.amount(products[sku]["id"]) == want
    assert calls(sandboxes) == {f"{ODATA}INSiteStatus": 2, f"{ODATA}InventoryItem": 1}
    assert redis_client.hget(prefixed("inventory", "item_ids"), sku) != "12345"


def test_change_query_through_the_contract_api_keeps_the_inquiry(
    sandboxes, erp, store, clean_ledger, template
) -> None:
    sku = "AA-0021"
    template(poll={"changes": "InventoryQuantityAvailable"})
    products = store.products()
    tasks.inventory.poll()
    erp.adjust([(sku, "RETAIL", 2)])
    want = expected(erp, sku, "QtyAvailable", ("WHOLESALE", "RETAIL"))
    reset_stats(sandboxes)

    assert sku in tasks.inventory.poll()["changed"]

    assert store.amount(products[sku]["id"]) == want
    by_path = calls(sandboxes)
    assert by_path.get("PUT /entity/Default/24.200.001/InventorySummaryInquiry") == 1
    assert not [p for p in by_path if p.startswith(ODATA)]
