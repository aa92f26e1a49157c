"""Product attributes X-Cart -> StockItem custom fields through a real worker and both
sandboxes: a template's ``attributes.custom_fields`` sends an attribute's value in the PUT's
``custom`` block, and a read with ``$custom`` shows it on the stock item."""

from __future__ import annotations

import pytest

import tasks.products  # noqa: F401  (registers the products chain's task)
from sync_workers.flows import products, runner
from sync_workers.task import get_dlq
from tests.flows.catalog.conftest import attributes_of, wait_for


@pytest.fixture
def primed(sandboxes, store, clean_ledger, redis_client):
    assert products.changed_skus() == []
    return sandboxes


def custom_of(erp, sku: str, field: str) -> dict:
    """The stock item's custom field as the contract API returns it for ``$custom``."""
    url = erp.api.url("StockItem", sku)
    answer = erp.api.request("GET", url, params={"$custom": field})
    view, name = field.split(".")
    return ((answer.json().get("custom") or {}).get(view) or {}).get(name) or {}


def test_attribute_mapped_to_custom_field_is_written_there(
    template, primed, erp, store, celery_worker
) -> None:
    """WEB-TEE-L's global text attribute Material goes to ItemSettings.UsrMaterial instead of
    the Attributes detail; its Size still goes to the SIZE attribute."""
    template("    Material: MATERIAL\n", "")
    template("  custom_fields: {}", "  custom_fields:\n    Material: ItemSettings.UsrMaterial")
    erp.api.put("StockItem", {"InventoryID": "WEB-TEE-L", "Description": "Tee, large"})
    assert custom_of(erp, "WEB-TEE-L", "ItemSettings.UsrMaterial").get("value") is None

    runner.start("products", "WEB-TEE-L")
    wait_for(lambda: custom_of(erp, "WEB-TEE-L", "ItemSettings.UsrMaterial").get("value"))
    assert custom_of(erp, "WEB-TEE-L", "ItemSettings.UsrMaterial") == {
        "type": "CustomStringField",
        "value": "Cotton",
    }
    wait_for(lambda: attributes_of(erp, "WEB-TEE-L") == {"SIZE": "L"})
    assert not list(get_dlq().iter_entries(status="open", flow="products"))
