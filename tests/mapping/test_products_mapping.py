"""Product mapping: views, ownership per field group, status values, new records."""

from __future__ import annotations

import pytest

from sync_workers.mapping import products as m
from sync_workers.mapping.templates import load_template

CFG = m.load_config()

STORE = {
    "sku": "AA-0001",
    "name": "Classic Mug #1",
    "description": "A mug.",
    "price": 10.3,
    "weight": 0.42,
    "enabled": True,
    "meta_title": "Mug",
    "amount": 12,
    "update_date": "2026-01-15T11:20:11-05:00",
}
ITEM = {
    "InventoryID": "AA-0001",
    "Description": "Classic Mug #1",
    "DefaultPrice": 10.30,
    "DimensionWeight": 0.42,
    "ItemStatus": "Active",
    "LastModifiedDateTime": "2026-01-15T16:20:11+00:00",
}


def config(**changes) -> m.ProductsConfig:
    template = load_template("products")
    template.update(changes)
    return m.config_from(template)


def test_bundled_template_is_valid() -> None:
    assert m.validate_template(load_template("products")) == []
    owners = {g.name: g.owner for g in CFG.groups}
    assert owners["name"] == owners["price"] == owners["status"] == "acumatica"
    assert owners["web"] == "xcart"


def test_aligned_records_need_no_write() -> None:
    assert not m.patches(STORE, ITEM, CFG)


def test_stock_and_update_date_do_not_change_the_store_hash() -> None:
    moved = {**STORE, "amount": 3, "update_date": "2026-02-01T00:00:00-05:00"}
    assert m.view_hash(m.xcart_view(moved, CFG)) == m.view_hash(m.xcart_view(STORE, CFG))


def test_erp_owned_fields_overwrite_the_store() -> None:
    store = {**STORE, "name": "Edited in the store", "price": 1.0}
    item = {**ITEM, "ItemStatus": "Inactive"}
    todo = m.patches(store, item, CFG)
    assert todo.xcart == {"name": "Classic Mug #1", "price": 10.3, "enabled": False}
    assert todo.acumatica == {}


def test_store_owned_fields_go_to_acumatica_with_its_status_values() -> None:
    groups = load_template("products")["groups"]
    groups["price"]["owner"] = "xcart"
    groups["status"]["owner"] = "xcart"
    cfg = config(groups=groups)
    todo = m.patches({**STORE, "price": 12.345, "enabled": False}, ITEM, cfg)
    assert todo.acumatica == {"DefaultPrice": 12.35, "ItemStatus": "Inactive"}
    assert todo.xcart == {}


def test_field_acumatica_did_not_send_is_unknown_not_empty() -> None:
    assert "description" not in m.erp_view(ITEM, CFG)
    assert "description" not in m.patches({**STORE, "description": "Long text"}, ITEM, CFG).xcart


def test_variant_writes_own_price_flag_and_ignores_product_only_fields() -> None:
    variant = {"id": 4, "sku": "WEB-TEE-M", "price": 20.0, "default_price": True, "weight": 0.3}
    item = {**ITEM, "Description": "Tee M", "DefaultPrice": 22.5, "DimensionWeight": 0.3}
    todo = m.patches(variant, item, CFG, variant=True)
    assert todo.xcart == {"price": 22.5, "default_price": False}


def test_new_stock_item_takes_every_mapped_field_from_the_store() -> None:
    item = m.new_stock_item("WEB-NEW", {**STORE, "enabled": False}, CFG)
    assert item["InventoryID"] == "WEB-NEW"
    assert item["Description"] == "Classic Mug #1"
    assert item["DefaultPrice"] == 10.3
    assert item["ItemStatus"] == "Inactive"
    assert item["ItemClass"] == "STOCKITEM"


def test_new_store_product_takes_erp_values_and_status() -> None:
    product = m.new_store_product("AA-0001", {**ITEM, "ItemStatus": "Inactive"}, CFG)
    assert product == {
        "sku": "AA-0001",
        "name": "Classic Mug #1",
        "price": 10.3,
        "weight": 0.42,
        "enabled": False,
    }


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"groups": {}}, "groups"),
        (
            {"groups": {"name": {"owner": "erp", "fields": {"name": "Description"}}}},
            "groups.name.owner",
        ),
        (
            {"groups": {"name": {"owner": "xcart", "fields": {"name": "Bad Field"}}}},
            "groups.name.fields.name",
        ),
        ({"create_stock_items": "yes"}, "create_stock_items"),
    ],
)
def test_bad_template_values_are_named(change: dict, problem: str) -> None:
    template = {**load_template("products"), **change}
    assert any(p.startswith(problem) for p in m.validate_template(template))
    with pytest.raises(ValueError):
        m.config_from(template)
