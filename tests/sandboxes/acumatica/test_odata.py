"""OData reads: generic inquiries and DACs, $metadata, query options, auth, read-only."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import requests

from .client import Api

AUTH = ("admin", "sandbox")
NS = {
    "edmx": "http://docs.oasis-open.org/odata/ns/edmx",
    "edm": "http://docs.oasis-open.org/odata/ns/edm",
}


def gi(api: Api, name: str, **params: object) -> requests.Response:
    return requests.get(
        f"{api.url}/t/Company/api/odata/gi/{name}", params=params or None, auth=AUTH, timeout=10
    )


def test_service_root_lists_entity_sets(anon: Api) -> None:
    body = requests.get(f"{anon.url}/t/Company/api/odata/gi", auth=AUTH, timeout=10).json()
    names = {entry["name"] for entry in body["value"]}
    assert {"SalesOrders", "Customers", "ItemAvailability", "Shipments", "StockItems"} <= names
    assert all(entry["kind"] == "EntitySet" for entry in body["value"])


def test_metadata_is_edmx_with_a_default_container(anon: Api) -> None:
    for kind in ("gi", "dac"):
        response = requests.get(
            f"{anon.url}/t/Company/api/odata/{kind}/$metadata", auth=AUTH, timeout=10
        )
        assert response.status_code == 200 and "xml" in response.headers["Content-Type"]
        tree = ET.fromstring(response.content)
        container = tree.find(".//edm:EntityContainer[@Name='Default']", NS)
        assert container is not None and container.findall("edm:EntitySet", NS)


def test_gi_rows_are_flat_and_filterable(api: Api) -> None:
    api.order(CustomerOrder="XC-1")
    api.order(CustomerOrder="XC-2", Hold=True)
    body = gi(
        api,
        "SalesOrders",
        **{"$filter": "Status eq 'On Hold'", "$select": "OrderNbr,CustomerOrder"},
    ).json()
    assert body["@odata.context"].endswith("$metadata#SalesOrders")
    assert body["value"] == [{"OrderNbr": "000002", "CustomerOrder": "XC-2"}]


def test_gi_top_skip_orderby(anon: Api) -> None:
    rows = gi(
        anon,
        "StockItems",
        **{"$orderby": "InventoryID desc", "$top": 2, "$skip": 1, "$select": "InventoryID"},
    ).json()["value"]
    everything = sorted(
        (r["InventoryID"] for r in gi(anon, "StockItems").json()["value"]), reverse=True
    )
    assert [r["InventoryID"] for r in rows] == everything[1:3]


def test_gi_date_filter_with_bare_iso_literal(api: Api) -> None:
    api.order()
    assert (
        len(
            gi(
                api, "SalesOrders", **{"$filter": "LastModifiedDateTime gt 2020-01-01T00:00:00Z"}
            ).json()["value"]
        )
        == 1
    )


def test_item_availability_gi_shows_quantities(api: Api) -> None:
    api.order(lines=[("AA-LODZ", 5)])
    rows = gi(
        api,
        "ItemAvailability",
        **{"$filter": "InventoryID eq 'AA-LODZ' and WarehouseID eq 'WHOLESALE'"},
    ).json()["value"]
    assert rows == [
        {
            "InventoryID": "AA-LODZ",
            "WarehouseID": "WHOLESALE",
            "QtyOnHand": 60.0,
            "QtyAvailable": 55.0,
            "QtyAvailableForShipment": 60.0,
        }
    ]


def test_dac_rows_use_raw_codes_and_full_names(anon: Api) -> None:
    short = requests.get(
        f"{anon.url}/t/Company/api/odata/dac/InventoryItem",
        params={"$filter": "InventoryCD eq 'AA-0001'"},
        auth=AUTH,
        timeout=10,
    )
    full = requests.get(
        f"{anon.url}/t/Company/api/odata/dac/PX_Objects_IN_InventoryItem",
        params={"$filter": "InventoryCD eq 'AA-0001'"},
        auth=AUTH,
        timeout=10,
    )
    assert short.json()["value"] == full.json()["value"]
    assert short.json()["value"][0]["ItemStatus"] == "AC"
    customers = requests.get(
        f"{anon.url}/t/Company/api/odata/dac/Customer", auth=AUTH, timeout=10
    ).json()["value"]
    assert {c["Status"] for c in customers} == {"A"}


def test_dac_sales_orders_carry_status_codes(api: Api) -> None:
    api.order(Hold=True)
    rows = requests.get(f"{api.url}/t/Company/api/odata/dac/SOOrder", auth=AUTH, timeout=10).json()[
        "value"
    ]
    assert rows[0]["Status"] == "H"


def test_odata_is_read_only_and_unknown_or_hidden_names_fail(anon: Api) -> None:
    assert (
        requests.post(
            f"{anon.url}/t/Company/api/odata/gi/SalesOrders", json={}, auth=AUTH, timeout=10
        ).status_code
        == 405
    )
    assert gi(anon, "NoSuchInquiry").status_code == 404
    assert gi(anon, "ItemCostHistory").status_code == 403
    assert (
        requests.get(f"{anon.url}/t/Company/api/odata/gi/SalesOrders", timeout=10).status_code
        == 401
    )


def test_dac_shipments_and_payments(api: Api) -> None:
    order = api.order()
    api.action(
        "SalesOrder", "SalesOrderCreateShipment", {"id": order["id"]}, WarehouseID="WHOLESALE"
    )
    body = {
        "Type": {"value": "Prepayment"},
        "CustomerID": {"value": "XCGUEST"},
        "PaymentAmount": {"value": 3},
    }
    api.put("Payment", body)
    shipments = requests.get(
        f"{api.url}/t/Company/api/odata/dac/SOShipment", auth=AUTH, timeout=10
    ).json()["value"]
    assert [s["Status"] for s in shipments] == ["N"]
    payments = requests.get(
        f"{api.url}/t/Company/api/odata/dac/PX_Objects_AR_ARPayment", auth=AUTH, timeout=10
    ).json()["value"]
    assert [(p["DocType"], p["Status"], p["CuryOrigDocAmt"]) for p in payments] == [
        ("PPM", "B", 3.0)
    ]
