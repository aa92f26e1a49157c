from __future__ import annotations

from decimal import Decimal

from sandboxes.common.catalog import WAREHOUSES, catalog_by_sku, seed_catalog


def test_catalog_is_deterministic_and_about_200_unique_skus():
    first, second = seed_catalog(), seed_catalog()
    assert first == second
    assert 190 <= len(first) <= 210
    assert len({item.sku for item in first}) == len(first)
    assert first[0].sku == "AA-0001"


def test_catalog_holds_the_hard_values():
    items = catalog_by_sku()
    assert "O'NEIL/42" in items
    assert any("'" in i.name and '"' in i.name for i in items.values())
    assert items["AA-CAFE"].name == "Café crème 250 g"
    assert items["AA-LODZ"].name == "Łódź mug"
    assert any(i.price == Decimal("0.00") for i in items.values())


def test_every_item_has_stock_in_both_warehouses_and_two_decimal_prices():
    for item in seed_catalog():
        assert set(item.qty_by_warehouse) == set(WAREHOUSES)
        assert all(q >= 0 for q in item.qty_by_warehouse.values())
        assert item.price == item.price.quantize(Decimal("0.01"))
        assert item.price >= 0


def test_callers_cannot_change_the_next_catalogue():
    seed_catalog()[0].qty_by_warehouse["WHOLESALE"] = -99
    assert seed_catalog()[0].qty_by_warehouse["WHOLESALE"] >= 0
