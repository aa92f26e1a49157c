"""Return orders (type RC: RMA Order, default operation Receipt) and their receipts."""

from __future__ import annotations

from .client import Api, value
from .test_workflow import order_keys, summary


def shipped(api: Api, sku: str, quantity: int) -> dict:
    order = api.order(lines=[(sku, quantity)], ShipVia="UPS")
    api.action("SalesOrder", "SalesOrderCreateShipment", order_keys(order), WarehouseID="WHOLESALE")
    expanded = api.get(f"SalesOrder/{order['id']}", **{"$expand": "Shipments"}).json()
    nbr = value(expanded["Shipments"][0], "ShipmentNbr")
    assert api.action("Shipment", "ConfirmShipment", {"ShipmentNbr": {"value": nbr}}).ok
    return order


def return_order(api: Api, sku: str, quantity: int) -> dict:
    response = api.put(
        "SalesOrder",
        {
            "OrderType": {"value": "RC"},
            "CustomerID": {"value": "XCGUEST"},
            "CustomerOrder": {"value": "RET-1"},
            "Details": [
                {
                    "InventoryID": {"value": sku},
                    "OrderQty": {"value": quantity},
                    "WarehouseID": {"value": "WHOLESALE"},
                }
            ],
        },
        **{"$expand": "Details"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def test_a_return_order_receives_its_goods_back_on_hand(api: Api) -> None:
    shipped(api, "AA-0012", 3)
    before = summary(api, "AA-0012")
    made = return_order(api, "AA-0012", 2)
    assert value(made, "OrderType") == "RC" and value(made, "Status") == "Open"
    assert value(made["Details"][0], "Operation") == "Receipt"
    assert summary(api, "AA-0012") == before  # an open return books nothing

    refused = api.action("SalesOrder", "SalesOrderCreateShipment", order_keys(made))
    assert refused.status_code >= 400 and "no lines to ship" in refused.text
    received = api.action("SalesOrder", "SalesOrderCreateReceipt", order_keys(made))
    assert received.status_code == 204, received.text
    expanded = api.get(f"SalesOrder/{made['id']}", **{"$expand": "Shipments"}).json()
    [row] = expanded["Shipments"]
    assert value(row, "ShipmentType") == "Receipt"
    receipt = api.get(f"Shipment/{value(row, 'ShipmentNbr')}", **{"$expand": "Details"}).json()
    assert value(receipt, "Type") == "Receipt" and value(receipt, "Operation") == "Receipt"
    assert value(receipt["Details"][0], "ShippedQty") == 2.0
    assert summary(api, "AA-0012") == before  # not on hand before it is confirmed

    keys = {"ShipmentNbr": receipt["ShipmentNbr"]}
    assert api.action("Shipment", "ConfirmShipment", keys).status_code == 204
    after = summary(api, "AA-0012")
    assert after["QtyOnHand"] == before["QtyOnHand"] + 2
    assert after["QtyAvailable"] == before["QtyAvailable"] + 2
    assert value(api.get(f"SalesOrder/{made['id']}").json(), "Status") == "Completed"

    assert api.action("Shipment", "CorrectShipment", keys).status_code == 204
    assert summary(api, "AA-0012")["QtyOnHand"] == before["QtyOnHand"]


def test_a_sales_order_cannot_be_received(api: Api) -> None:
    order = api.order(lines=[("AA-0013", 1)])
    refused = api.action("SalesOrder", "SalesOrderCreateReceipt", order_keys(order))
    assert refused.status_code >= 400 and "no lines to ship" in refused.text
