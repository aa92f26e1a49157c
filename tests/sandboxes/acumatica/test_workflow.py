"""Documents and their statuses: orders, shipments, payments, stock documents, allocations."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from .client import Api, value


def summary(api: Api, sku: str, warehouse: str = "WHOLESALE") -> dict[str, float]:
    response = api.put(
        "InventorySummaryInquiry",
        {"InventoryID": {"value": sku}, "WarehouseID": {"value": warehouse}},
        **{"$expand": "Results"},
    )
    assert response.status_code == 200, response.text
    rows = response.json()["Results"]
    assert len(rows) == 1
    row = rows[0]
    return {k: value(row, k) for k in ("QtyOnHand", "QtyAvailable", "QtyAvailableForShipment")}


def order_keys(order: dict) -> dict:
    return {"OrderType": order["OrderType"], "OrderNbr": order["OrderNbr"]}


def test_hold_decides_between_on_hold_and_open(api: Api) -> None:
    held = api.order(Hold=True)
    assert value(held, "Status") == "On Hold"
    released = api.put("SalesOrder", {"id": held["id"], "Hold": {"value": False}}).json()
    assert value(released, "Status") == "Open"


def test_cancel_and_reopen_sales_order(api: Api) -> None:
    order = api.order()
    assert api.action("SalesOrder", "CancelSalesOrder", order_keys(order)).status_code == 204
    assert value(api.get(f"SalesOrder/{order['id']}").json(), "Status") == "Canceled"
    assert api.action("SalesOrder", "ReopenSalesOrder", {"id": order["id"]}).status_code == 204
    assert value(api.get(f"SalesOrder/{order['id']}").json(), "Status") == "Open"


def test_unknown_action_is_404(api: Api) -> None:
    order = api.order()
    assert api.action("SalesOrder", "FlyToTheMoon", {"id": order["id"]}).status_code == 404


def test_action_on_missing_record_is_no_entity(api: Api) -> None:
    response = api.action(
        "SalesOrder",
        "CancelSalesOrder",
        {"OrderType": {"value": "SO"}, "OrderNbr": {"value": "404404"}},
    )
    assert response.status_code == 500 and "No entity" in response.text


def test_refused_action_is_422_with_the_entity_and_error(api: Api) -> None:
    order = api.order()
    api.action("SalesOrder", "CancelSalesOrder", {"id": order["id"]})
    response = api.action("SalesOrder", "CancelSalesOrder", {"id": order["id"]})
    assert response.status_code == 422
    body = response.json()
    assert body["id"] == order["id"] and "cannot be canceled" in body["error"]


def test_totals_include_freight_and_taxes(api: Api) -> None:
    body = {
        "CustomerID": {"value": "NYRETAIL"},
        "CurrencyID": {"value": "USD"},
        "Details": [
            {
                "InventoryID": {"value": "AA-0001"},
                "OrderQty": {"value": 2},
                "UnitPrice": {"value": 10},
            }
        ],
        "Totals": {"Freight": {"value": 5.5}},
        "TaxDetails": [{"TaxID": {"value": "NYSTATE"}}],
    }
    order = api.put("SalesOrder", body, **{"$expand": "Totals,TaxDetails"}).json()
    assert value(order, "Totals", "LineTotalAmount") == 20.0
    assert value(order, "Totals", "Freight") == 5.5
    assert value(order["TaxDetails"][0], "TaxAmount") == 0.8
    assert value(order, "TaxTotal") == 0.8
    assert value(order, "OrderTotal") == 26.3


def test_addresses_copy_from_customer_unless_overridden(api: Api) -> None:
    body = {
        "CustomerID": {"value": "LUKASIEW"},
        "ShipToAddressOverride": {"value": True},
        "ShipToAddress": {"City": {"value": "Kraków"}, "Country": {"value": "PL"}},
        "BillToAddress": {"City": {"value": "Ignored"}},
        "Details": [],
    }
    order = api.put(
        "SalesOrder", body, **{"$expand": "ShipToAddress,BillToAddress,BillToContact"}
    ).json()
    assert value(order, "ShipToAddress", "City") == "Kraków"
    assert value(order, "BillToAddress", "City") == "Łódź"
    assert value(order, "BillToContact", "Email") == "zoe@example.pl"


def test_open_orders_reduce_available_and_cancel_releases(api: Api) -> None:
    before = summary(api, "AA-0005")
    order = api.order(lines=[("AA-0005", 3)])
    during = summary(api, "AA-0005")
    assert during["QtyOnHand"] == before["QtyOnHand"]
    assert during["QtyAvailable"] == before["QtyAvailable"] - 3
    assert during["QtyAvailableForShipment"] == before["QtyOnHand"]
    api.action("SalesOrder", "CancelSalesOrder", {"id": order["id"]})
    assert summary(api, "AA-0005")["QtyAvailable"] == before["QtyAvailable"]


def test_inventory_summary_lists_both_warehouses_and_get_list_fails(api: Api) -> None:
    response = api.put(
        "InventorySummaryInquiry", {"InventoryID": {"value": "AA-0001"}}, **{"$expand": "Results"}
    )
    warehouses = {value(r, "WarehouseID") for r in response.json()["Results"]}
    assert warehouses == {"WHOLESALE", "RETAIL"}
    assert (
        "Results"
        not in api.put("InventorySummaryInquiry", {"InventoryID": {"value": "AA-0001"}}).json()
    )
    failing = api.get("InventorySummaryInquiry")
    assert failing.status_code == 500 and "Optimization cannot be performed" in failing.text
    unknown = api.put(
        "InventorySummaryInquiry", {"InventoryID": {"value": "NOPE"}}, **{"$expand": "Results"}
    )
    assert unknown.status_code == 422


def test_released_adjustment_changes_on_hand(api: Api) -> None:
    before = summary(api, "AA-0007", "RETAIL")
    body = {
        "Hold": {"value": False},
        "Details": [
            {
                "InventoryID": {"value": "AA-0007"},
                "WarehouseID": {"value": "RETAIL"},
                "Qty": {"value": 4},
            }
        ],
    }
    adjustment = api.put("InventoryAdjustment", body).json()
    assert value(adjustment, "Status") == "Balanced"
    assert summary(api, "AA-0007", "RETAIL") == before
    keys = {"ReferenceNbr": adjustment["ReferenceNbr"]}
    assert api.action("InventoryAdjustment", "ReleaseAdjustment", keys).status_code == 204
    assert (
        value(api.get(f"InventoryAdjustment/{value(adjustment, 'ReferenceNbr')}").json(), "Status")
        == "Released"
    )
    assert summary(api, "AA-0007", "RETAIL")["QtyOnHand"] == before["QtyOnHand"] + 4
    assert api.action("InventoryAdjustment", "ReleaseAdjustment", keys).status_code == 422


def test_released_receipt_adds_stock(api: Api) -> None:
    before = summary(api, "AA-SOLDOUT")
    body = {
        "Details": [
            {
                "InventoryID": {"value": "AA-SOLDOUT"},
                "WarehouseID": {"value": "WHOLESALE"},
                "Qty": {"value": 10},
                "UnitCost": {"value": 20},
            }
        ]
    }
    receipt = api.put("InventoryReceipt", body, **{"$expand": "Details"}).json()
    assert value(receipt, "TotalCost") == 200.0
    assert (
        api.action("InventoryReceipt", "ReleaseInventoryReceipt", {"id": receipt["id"]}).status_code
        == 204
    )
    assert summary(api, "AA-SOLDOUT")["QtyOnHand"] == before["QtyOnHand"] + 10


def test_create_shipment_confirm_completes_order_and_issues_stock(api: Api) -> None:
    before = summary(api, "AA-0010")
    order = api.order(lines=[("AA-0010", 2)], ShipVia="UPS")
    response = api.action(
        "SalesOrder",
        "SalesOrderCreateShipment",
        order_keys(order),
        ShipmentDate="2026-11-27",
        WarehouseID="WHOLESALE",
    )
    assert response.status_code == 204
    expanded = api.get(f"SalesOrder/{order['id']}", **{"$expand": "Shipments,Details"}).json()
    assert value(expanded, "Status") == "Shipping"
    assert value(expanded["Details"][0], "QtyOnShipments") == 2.0
    shipment_nbr = value(expanded["Shipments"][0], "ShipmentNbr")
    shipment = api.get(f"Shipment/{shipment_nbr}", **{"$expand": "Details,Orders"}).json()
    assert value(shipment, "Status") == "Open"
    assert value(shipment["Details"][0], "ShippedQty") == 2.0
    assert value(shipment["Orders"][0], "OrderNbr") == value(order, "OrderNbr")
    assert summary(api, "AA-0010")["QtyAvailableForShipment"] == before["QtyOnHand"] - 2
    tracked = api.put(
        "Shipment",
        {
            "id": shipment["id"],
            "Packages": [{"TrackingNbr": {"value": "1Z999"}, "Weight": {"value": 1.5}}],
        },
        **{"$expand": "Packages"},
    ).json()
    package = tracked["Packages"][0]
    retracked = api.put(
        "Shipment",
        {
            "id": shipment["id"],
            "Packages": [{"id": package["id"], "TrackingNbr": {"value": "398305336619"}}],
        },
        **{"$expand": "Packages", "$select": "Packages/TrackingNbr"},
    ).json()
    assert [value(p, "TrackingNbr") for p in retracked["Packages"]] == ["398305336619"]
    assert (
        api.action(
            "Shipment", "ConfirmShipment", {"ShipmentNbr": {"value": shipment_nbr}}
        ).status_code
        == 204
    )
    assert value(api.get(f"Shipment/{shipment_nbr}").json(), "Status") == "Confirmed"
    assert value(api.get(f"SalesOrder/{order['id']}").json(), "Status") == "Completed"
    after = summary(api, "AA-0010")
    assert after["QtyOnHand"] == before["QtyOnHand"] - 2
    assert after["QtyAvailable"] == before["QtyAvailable"] - 2


def test_partial_shipment_leaves_back_order(api: Api) -> None:
    order = api.order(lines=[("AA-0011", 3)])
    body = {
        "CustomerID": {"value": "XCGUEST"},
        "WarehouseID": {"value": "WHOLESALE"},
        "Details": [{"OrderType": {"value": "SO"}, "OrderNbr": order["OrderNbr"]}],
    }
    shipment = api.put("Shipment", body, **{"$expand": "Details"}).json()
    assert len(shipment["Details"]) == 1
    line = shipment["Details"][0]
    api.put(
        "Shipment",
        {"id": shipment["id"], "Details": [{"id": line["id"], "ShippedQty": {"value": 1}}]},
    )
    assert api.action("Shipment", "ConfirmShipment", {"id": shipment["id"]}).status_code == 204
    reread = api.get(f"SalesOrder/{order['id']}", **{"$expand": "Details"}).json()
    assert value(reread, "Status") == "Back Order"
    assert value(reread["Details"][0], "OpenQty") == 2.0


def test_shipment_on_hold_cannot_be_confirmed(api: Api) -> None:
    api.control("POST", "/behaviour", {"hold_shipments_on_entry": True})
    order = api.order()
    api.action(
        "SalesOrder", "SalesOrderCreateShipment", {"id": order["id"]}, WarehouseID="WHOLESALE"
    )
    nbr = value(
        api.get(f"SalesOrder/{order['id']}", **{"$expand": "Shipments"}).json()["Shipments"][0],
        "ShipmentNbr",
    )
    assert value(api.get(f"Shipment/{nbr}").json(), "Status") == "On Hold"
    assert (
        api.action("Shipment", "ConfirmShipment", {"ShipmentNbr": {"value": nbr}}).status_code
        == 422
    )
    api.put("Shipment", {"ShipmentNbr": {"value": nbr}, "Hold": {"value": False}})
    assert (
        api.action("Shipment", "ConfirmShipment", {"ShipmentNbr": {"value": nbr}}).status_code
        == 204
    )


def test_payment_applied_to_order_and_released(api: Api) -> None:
    order = api.order(lines=[("AA-0001", 2)])
    total = value(order, "OrderTotal")
    body = {
        "Type": {"value": "Prepayment"},
        "CustomerID": {"value": "XCGUEST"},
        "PaymentMethod": {"value": "PAYPAL"},
        "CashAccount": {"value": "10300PP"},
        "PaymentAmount": {"value": total},
        "PaymentRef": {"value": "PP-123"},
        "OrdersToApply": [{"OrderType": {"value": "SO"}, "OrderNbr": order["OrderNbr"]}],
    }
    payment = api.put("Payment", body, **{"$expand": "OrdersToApply"}).json()
    assert value(payment, "Status") == "Balanced"
    assert value(payment["OrdersToApply"][0], "AppliedToOrder") == total
    assert value(payment, "AvailableBalance") == 0.0
    nbr = value(payment, "ReferenceNbr")
    assert api.get(f"Payment/Prepayment/{nbr}").status_code == 200
    keys = {"Type": {"value": "Prepayment"}, "ReferenceNbr": {"value": nbr}}
    assert api.action("Payment", "ReleasePayment", keys).status_code == 204
    assert value(api.get(f"Payment/Prepayment/{nbr}").json(), "Status") == "Closed"
    seen = api.get(f"SalesOrder/{order['id']}", **{"$expand": "Payments,Totals"}).json()
    row = seen["Payments"][0]
    assert value(row, "ReferenceNbr") == nbr and value(row, "AppliedToOrder") == total
    assert value(row, "DocType") == "Prepayment" and value(row, "Status") == "Closed"
    assert value(seen, "Totals", "UnpaidBalance") == 0.0


def test_payment_with_unknown_order_or_method_is_422(api: Api) -> None:
    body = {
        "CustomerID": {"value": "XCGUEST"},
        "PaymentMethod": {"value": "BITCOIN"},
        "PaymentAmount": {"value": 5},
        "OrdersToApply": [{"OrderType": {"value": "SO"}, "OrderNbr": {"value": "777777"}}],
    }
    response = api.put("Payment", body)
    assert response.status_code == 422
    echoed = response.json()
    assert "error" in echoed["PaymentMethod"]
    assert "error" in echoed["OrdersToApply"][0]["OrderNbr"]


def test_long_action_answers_202_and_status_url(api: Api) -> None:
    api.control(
        "POST", "/behaviour", {"long_actions": ["ReleasePayment"], "long_action_seconds": 0.3}
    )
    order = api.order()
    body = {
        "CustomerID": {"value": "XCGUEST"},
        "PaymentAmount": {"value": 10000},
        "OrdersToApply": [{"OrderNbr": order["OrderNbr"]}],
    }
    payment = api.put("Payment", body).json()
    response = api.action("Payment", "ReleasePayment", {"id": payment["id"]})
    assert response.status_code == 202
    location = response.headers["Location"]
    assert "/Payment/ReleasePayment/status/" in location
    assert api.http.get(api.url + location).status_code == 202
    deadline = time.monotonic() + 5
    while api.http.get(api.url + location).status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert api.http.get(api.url + location).status_code == 204
    assert value(api.get(f"Payment/{payment['id']}").json(), "Status") == "Open"


def test_inventory_quantity_available_lists_items_changed_since(api: Api) -> None:
    one = api.put(
        "InventoryQuantityAvailable",
        {"InventoryID": {"value": "AA-LODZ"}},
        **{"$expand": "Results"},
    ).json()
    assert [(value(r, "InventoryID"), value(r, "QtyAvailable")) for r in one["Results"]] == [
        ("AA-LODZ", 75.0)
    ]
    everything = api.put(
        "InventoryQuantityAvailable",
        {"LastModifiedDateTime": {"value": "6/7/2024"}},
        **{"$expand": "Results"},
    )
    assert len(everything.json()["Results"]) == 200
    time.sleep(0.01)
    marker = datetime.now(UTC).isoformat()
    time.sleep(0.01)
    api.order(lines=[("AA-0003", 1)])
    changed = api.put(
        "InventoryQuantityAvailable",
        {"LastModifiedDateTime": {"value": marker}},
        **{"$expand": "Results"},
    ).json()
    assert [value(r, "InventoryID") for r in changed["Results"]] == ["AA-0003"]


def test_order_with_a_hundred_and_twenty_lines(api: Api) -> None:
    lines = [(f"AA-{n:04d}", 1) for n in range(1, 121)]
    order = api.order(lines=lines)
    assert len(order["Details"]) == 120
    assert value(order, "OrderedQty") == 120.0
    expected = round(sum(value(line, "Amount") for line in order["Details"]), 2)
    assert value(order, "Totals", "LineTotalAmount") == expected
    assert [value(line, "LineNbr") for line in order["Details"]] == list(range(1, 121))
