"""Product attributes X-Cart -> StockItem custom fields through a real worker and both
sandboxes: a template's ``attributes.custom_fields`` sends an attribute's value in the PUT's
``custom`` block, and a read with ``$custom`` shows it on the stock item."""

from __future__ import annotations

import shutil

import pytest

import tasks.products  # noqa: F401  (registers the products chain's task)
from sync_workers.flows import products, runner
from sync_workers.mapping import templates
from sync_workers.mapping.templates import BUNDLED_DIR
from sync_workers.task import get_dlq
from tests.flows.catalog.conftest import wait_for


@pytest.fixture
def template(tmp_path):
    """Edit a copy of the bundled products template for one test."""
    folder = tmp_path / "templates"
    shutil.copytree(BUNDLED_DIR, folder)
    templates.use_templates_dir(folder)

    def edit(old: str, new: str) -> None:
        path = folder / "products.yaml"
        text = path.read_text(encoding="utf-8")
        assert old in text
        path.write_text(text.replace(old, new), encoding="utf-8")
        templates.clear_cache()

    yield edit
    templates.use_templates_dir(None)


@pytest.fixture
def primed(sandboxes, store, clean_ledger, redis_client):
    assert products.changed_skus() == []
    return sandboxes


def attributes_of(erp, sku: str) -> dict[str, str]:
    item = erp.api.get_by_keys("StockItem", sku, expand=["Attributes"])
    return {row["AttributeID"]: row["Value"] for row in item.get("Attributes") or ()}


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
