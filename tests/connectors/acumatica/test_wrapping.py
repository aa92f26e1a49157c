from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from sync_workers.connectors.acumatica.wrapping import is_value, unwrap, wrap


def test_wrap_turns_fields_links_and_details_into_wire_shape():
    plain = {
        "OrderType": "SO",
        "CustomerOrder": "O'NEIL/42",
        "Hold": False,
        "Date": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
        "OrderTotal": Decimal("19.90"),
        "Description": None,
        "ShipToAddress": {"City": "Zürich"},
        "Details": [{"InventoryID": "MUG", "OrderQty": 2}, {"id": "line-1", "delete": True}],
        "custom": {"Document": {"UsrX": {"type": "CustomStringField", "value": "x"}}},
    }
    assert wrap(plain) == {
        "OrderType": {"value": "SO"},
        "CustomerOrder": {"value": "O'NEIL/42"},
        "Hold": {"value": False},
        "Date": {"value": "2026-01-02T03:04:05+00:00"},
        "OrderTotal": {"value": 19.9},
        "Description": {"value": None},
        "ShipToAddress": {"City": {"value": "Zürich"}},
        "Details": [
            {"InventoryID": {"value": "MUG"}, "OrderQty": {"value": 2}},
            {"id": "line-1", "delete": True},
        ],
        "custom": plain["custom"],
    }


def test_unwrap_reads_values_nulls_links_and_details():
    wire = {
        "id": "0b8c",
        "rowNumber": 1,
        "note": {"value": ""},
        "CustomerOrder": {},
        "OrderNbr": {"value": "SO004512"},
        "Status": {"value": "Open", "error": "ignored here"},
        "ShipToAddress": {"id": "a1", "rowNumber": 1, "City": {"value": "Austin"}, "State": {}},
        "Details": [{"id": "d1", "rowNumber": 1, "OrderQty": {"value": 2.0}}],
        "custom": {},
        "_links": {"self": "/entity/Default/24.200.001/SalesOrder/0b8c"},
    }
    assert unwrap(wire) == {
        "id": "0b8c",
        "rowNumber": 1,
        "note": "",
        "CustomerOrder": None,
        "OrderNbr": "SO004512",
        "Status": "Open",
        "ShipToAddress": {"id": "a1", "rowNumber": 1, "City": "Austin", "State": None},
        "Details": [{"id": "d1", "rowNumber": 1, "OrderQty": 2.0}],
        "custom": {},
        "_links": wire["_links"],
    }


def test_unwrap_of_wrap_gives_the_plain_record_back():
    plain = {
        "CustomerID": "C-1",
        "MainContact": {"Email": "a@b.c", "Address": {"City": "X"}},
        "Details": [{"Qty": 1}],
        "Active": True,
    }
    assert unwrap(wrap(plain)) == plain


def test_value_wrapper_detection():
    assert is_value({}) and is_value({"value": 1}) and is_value({"value": 1, "error": "e"})
    assert not is_value({"City": {"value": "X"}})
