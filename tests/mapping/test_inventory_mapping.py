"""Inventory mapping: availability over warehouses, safety stock, unsynced orders, push rows."""

from __future__ import annotations

import pytest

from sync_workers.mapping import inventory as m
from sync_workers.mapping.templates import load_template


def cfg(**overrides) -> m.InventoryConfig:
    template = {"version": 1, "warehouses": ["WHOLESALE", "RETAIL"], **overrides}
    return m.config_from(template)


ROWS = [
    {"WarehouseID": "WHOLESALE", "QtyOnHand": 30.0, "QtyAvailable": 25.0},
    {"WarehouseID": "RETAIL", "QtyOnHand": 8.0, "QtyAvailable": 6.0},
    {"WarehouseID": "RETURNS", "QtyOnHand": 100.0, "QtyAvailable": 100.0},
]


def test_bundled_template_is_valid_and_loads() -> None:
    assert m.validate_template(load_template("inventory")) == []
    loaded = m.load_config()
    assert loaded.warehouses == ("WHOLESALE", "RETAIL")
    assert loaded.availability_field == "QtyAvailable"


def test_availability_sums_only_the_configured_warehouses() -> None:
    assert m.erp_available(ROWS, cfg()) == 31.0
    assert m.erp_available(ROWS, cfg(warehouses=["retail"])) == 6.0


def test_no_configured_warehouse_means_every_warehouse() -> None:
    assert m.erp_available(ROWS, cfg(warehouses=[])) == 131.0


def test_availability_field_can_be_on_hand() -> None:
    assert m.erp_available(ROWS, cfg(availability_field="QtyOnHand")) == 38.0


def test_store_amount_deducts_safety_and_unsynced_and_never_goes_negative() -> None:
    assert m.store_amount(31.0, 2, 4) == 25
    assert m.store_amount(3.0, 2, 4) == 0
    assert m.store_amount(5.7, 0, 0) == 5


def test_safety_stock_per_sku_overrides_the_default_case_blind() -> None:
    config = cfg(safety_stock={"default": 1, "per_sku": {"aa-0001": 5}})
    assert config.safety_stock("AA-0001") == 5
    assert config.safety_stock("AA-0002") == 1


def test_notification_names_skus_of_inserted_and_deleted_rows() -> None:
    notification = {
        "Inserted": [{"InventoryID": "aa-0001 ", "WarehouseID": "RETAIL", "QtyAvailable": 3}],
        "Deleted": [{"InventoryID": "O'NEIL/42", "WarehouseID": "RETAIL", "QtyAvailable": 4}],
    }
    assert m.skus_in_notification(notification, "InventoryID") == {"AA-0001", "O'NEIL/42"}


def test_half_of_a_split_pair_still_names_its_sku() -> None:
    deleted_only = {"Deleted": [{"InventoryID": "AA-0009", "QtyAvailable": 1}], "Inserted": []}
    assert m.skus_in_notification(deleted_only, "InventoryID") == {"AA-0009"}


def order(oid: int, status: str, *lines: tuple[str, int]) -> dict:
    return {
        "id": oid,
        "order_number": str(1000 + oid),
        "payment_status": {"code": status},
        "items": [{"sku": sku, "amount": amount} for sku, amount in lines],
    }


def test_unsynced_quantities_skip_synced_and_cancelled_orders() -> None:
    orders = [
        order(1, "P", ("AA-0001", 2), ("AA-0002", 1)),
        order(2, "Q", ("aa-0001", 3)),
        order(3, "P", ("AA-0001", 7)),  # synced by id
        order(4, "P", ("AA-0001", 11)),  # synced by number
        order(5, "C", ("AA-0001", 13)),  # cancelled: X-Cart put the stock back
    ]
    totals = m.unsynced_quantities(orders, {"3", "1004"}, cfg())
    assert totals == {"AA-0001": 5, "AA-0002": 1}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"warehouses": "WHOLESALE"}, "warehouses"),
        ({"availability_field": "Qty"}, "availability_field"),
        ({"safety_stock": {"default": -1}}, "safety_stock.default"),
        ({"safety_stock": {"per_sku": {"AA-0001": "five"}}}, "safety_stock.per_sku.AA-0001"),
        ({"coalesce_window_seconds": -0.1}, "coalesce_window_seconds"),
        ({"poll": {"source": "carrier-pigeon"}}, "poll.source"),
        ({"unsynced_orders": {"lookback_hours": -2}}, "unsynced_orders.lookback_hours"),
    ],
)
def test_bad_template_values_are_named(change: dict, problem: str) -> None:
    problems = m.validate_template({"version": 1, **change})
    assert any(p.startswith(problem) for p in problems), problems
    with pytest.raises(ValueError, match=problem.split(".")[0]):
        m.config_from({"version": 1, **change})
