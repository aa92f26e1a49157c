"""JSON fidelity: value wrappers, system fields, field order, $expand, $select, dates."""

from __future__ import annotations

import re

from .client import Api, value

ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?\+00:00$")


def test_values_are_wrapped_and_null_is_an_empty_object(api: Api) -> None:
    order = api.order()
    assert order["CustomerOrder"] == {}
    assert order["OrderType"] == {"value": "SO"}
    assert order["Hold"] == {"value": False}


def test_system_fields_and_links(api: Api) -> None:
    order = api.order()
    keys = list(order)
    assert keys[:3] == ["id", "rowNumber", "note"]
    assert keys[-2:] == ["custom", "_links"]
    assert order["note"] == {"value": ""} and order["custom"] == {}
    assert order["_links"]["self"] == f"/entity/Default/24.200.001/SalesOrder/{order['id']}"
    assert order["_links"]["files:put"].endswith("/{filename}")
    line = order["Details"][0]
    assert line["rowNumber"] == 1 and "files:put" in line["_links"] and "self" not in line["_links"]


def test_fields_are_sorted_alphabetically_ignoring_case(api: Api) -> None:
    customer = api.get("Customer/XCGUEST").json()
    fields = [k for k in customer if k not in ("id", "rowNumber", "note", "custom", "_links")]
    assert fields == sorted(fields, key=str.lower)
    assert fields.index(
        "ShippingZoneID" if "ShippingZoneID" in fields else "ShippingTerms"
    ) < fields.index("ShipVia")


def test_linked_and_detail_entities_only_when_expanded(api: Api) -> None:
    plain = api.get("Customer/XCGUEST").json()
    assert "MainContact" not in plain
    expanded = api.get("Customer/XCGUEST", **{"$expand": "MainContact/Address"}).json()
    assert value(expanded, "MainContact", "Address", "City") == "Austin"
    assert expanded["MainContact"]["rowNumber"] == 1 and "id" in expanded["MainContact"]


def test_select_trims_fields_at_every_level(api: Api) -> None:
    api.order()
    rows = api.get(
        "SalesOrder", **{"$select": "OrderNbr,Details/OrderQty", "$expand": "Details"}
    ).json()
    row = rows[0]
    assert {k for k in row if not k.startswith("_")} == {
        "id",
        "rowNumber",
        "note",
        "OrderNbr",
        "Details",
        "custom",
    }
    assert {k for k in row["Details"][0] if k[0].isupper()} == {"OrderQty"}


def test_dates_are_iso_with_offset_and_date_only_is_midnight(api: Api) -> None:
    order = api.order(Date="2026-03-02")
    assert value(order, "Date") == "2026-03-02T00:00:00+00:00"
    assert ISO.match(value(order, "LastModified"))


def test_dates_in_other_formats_and_offsets_are_normalised(api: Api) -> None:
    order = api.order(RequestedOn="2026-03-02T10:00:00+03:00")
    assert value(order, "RequestedOn") == "2026-03-02T07:00:00+00:00"
    us = api.order(RequestedOn="6/7/2024")
    assert value(us, "RequestedOn") == "2024-06-07T00:00:00+00:00"


def test_numbers_sent_as_strings_are_accepted(api: Api) -> None:
    order = api.order(lines=[("AA-0001", "3")])
    assert value(order["Details"][0], "OrderQty") == 3.0


def test_non_ascii_and_quotes_round_trip(api: Api) -> None:
    item = api.get("StockItem/AA-CAFE").json()
    assert value(item, "Description") == "Café crème 250 g"
    quoted = api.get("StockItem", **{"$filter": "InventoryID eq 'AA-QUOTE'"}).json()[0]
    assert value(quoted, "Description") == 'Sailor\'s "Classic" knot board'


def test_ad_hoc_schema_is_a_template_record(api: Api) -> None:
    schema = api.get("SalesOrder/$adHocSchema").json()
    assert schema["OrderNbr"] == {} and schema["custom"] == {}
    assert isinstance(schema["Details"], list) and schema["Details"][0]["InventoryID"] == {}
