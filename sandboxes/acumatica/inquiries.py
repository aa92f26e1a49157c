"""Generic inquiries: flat rows over the stored records.

They feed both OData (``/t/{tenant}/api/odata/gi/{name}``) and push notifications, whose rows
are GI rows, not contract records. Column names are the inquiry's own (flat, unwrapped, raw
values; dates as ISO strings).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from .graphs.stock import availability
from .store import Record, Store

Row = dict[str, Any]

EDM_STRING = "Edm.String"
EDM_DECIMAL = "Edm.Decimal"
EDM_DATETIME = "Edm.DateTimeOffset"
EDM_BOOLEAN = "Edm.Boolean"


@dataclass(frozen=True)
class Inquiry:
    name: str
    title: str
    columns: tuple[tuple[str, str], ...]
    # Entities whose changes can change the rows.
    sources: tuple[str, ...]
    # Rows of one stored record (record-based inquiries) ...
    record_rows: Callable[[Record], list[Row]] | None = None
    # ... or all rows for some stock-item keys (quantity inquiries).
    stock_rows: Callable[[Store, set[str] | None], list[Row]] | None = None
    key: tuple[str, ...] = ()

    def rows(self, store: Store) -> list[Row]:
        if self.stock_rows is not None:
            return self.stock_rows(store, None)
        entity = self.sources[0]
        out: list[Row] = []
        for record in store.all(entity):
            out.extend(self.record_rows(record) if self.record_rows else [])
        return out


def _order_rows(order: Record) -> list[Row]:
    return [
        {
            "OrderType": order.get("OrderType"),
            "OrderNbr": order.get("OrderNbr"),
            "Status": order.get("Status"),
            "CustomerID": order.get("CustomerID"),
            "CustomerOrder": order.get("CustomerOrder"),
            "Date": order.get("Date"),
            "CurrencyID": order.get("CurrencyID"),
            "OrderTotal": order.get("OrderTotal"),
            "OrderedQty": order.get("OrderedQty"),
            "LastModifiedDateTime": order.get("LastModified"),
        }
    ]


def _customer_rows(customer: Record) -> list[Row]:
    address = ((customer.get("MainContact") or {}).get("Address")) or {}
    return [
        {
            "CustomerID": customer.get("CustomerID"),
            "CustomerName": customer.get("CustomerName"),
            "CustomerClass": customer.get("CustomerClass"),
            "Status": customer.get("Status"),
            "Email": customer.get("Email"),
            "City": address.get("City"),
            "Country": address.get("Country"),
            "LastModifiedDateTime": customer.get("LastModifiedDateTime"),
        }
    ]


def _shipment_rows(shipment: Record) -> list[Row]:
    tracking = ",".join(
        p.get("TrackingNbr") or "" for p in shipment.get("Packages") or [] if p.get("TrackingNbr")
    )
    orders = shipment.get("Orders") or [{}]
    return [
        {
            "ShipmentNbr": shipment.get("ShipmentNbr"),
            "Status": shipment.get("Status"),
            "CustomerID": shipment.get("CustomerID"),
            "ShipmentDate": shipment.get("ShipmentDate"),
            "ShipVia": shipment.get("ShipVia"),
            "OrderType": order.get("OrderType"),
            "OrderNbr": order.get("OrderNbr"),
            "ShippedQty": shipment.get("ShippedQty"),
            "TrackingNbrs": tracking,
            "LastModifiedDateTime": shipment.get("LastModifiedDateTime"),
        }
        for order in orders
    ]


def _stock_item_rows(item: Record) -> list[Row]:
    return [
        {
            "InventoryID": item.get("InventoryID"),
            "Description": item.get("Description"),
            "ItemClass": item.get("ItemClass"),
            "ItemStatus": item.get("ItemStatus"),
            "DefaultPrice": item.get("DefaultPrice"),
            "LastModifiedDateTime": item.get("LastModifiedDateTime"),
        }
    ]


def _payment_rows(payment: Record) -> list[Row]:
    return [
        {
            "Type": payment.get("Type"),
            "ReferenceNbr": payment.get("ReferenceNbr"),
            "Status": payment.get("Status"),
            "CustomerID": payment.get("CustomerID"),
            "PaymentMethod": payment.get("PaymentMethod"),
            "PaymentAmount": payment.get("PaymentAmount"),
            "LastModifiedDateTime": payment.get("LastModifiedDateTime"),
        }
    ]


def _availability_rows(store: Store, skus: set[str] | None) -> list[Row]:
    names = {
        str(i.get("InventoryID", "")).upper(): i.get("InventoryID") for i in store.all("StockItem")
    }
    rows: list[Row] = []
    for (sku, wh), q in sorted(availability(store, skus).items()):
        if sku not in names:
            continue
        rows.append(
            {
                "InventoryID": names[sku],
                "WarehouseID": wh,
                "QtyOnHand": q["on_hand"],
                "QtyAvailable": q["available"],
                "QtyAvailableForShipment": q["available_for_shipment"],
            }
        )
    return rows


def _columns(spec: str, types: dict[str, str] | None = None) -> tuple[tuple[str, str], ...]:
    types = types or {}
    return tuple((name, types.get(name, EDM_STRING)) for name in spec.split())


_DT = {"LastModifiedDateTime": EDM_DATETIME, "Date": EDM_DATETIME, "ShipmentDate": EDM_DATETIME}

INQUIRIES: dict[str, Inquiry] = {
    i.name: i
    for i in (
        Inquiry(
            "ItemAvailability",
            "Item Availability",
            _columns(
                "InventoryID WarehouseID QtyOnHand QtyAvailable QtyAvailableForShipment",
                {k: EDM_DECIMAL for k in ("QtyOnHand", "QtyAvailable", "QtyAvailableForShipment")},
            ),
            ("StockItem", "SalesOrder", "Shipment"),
            stock_rows=_availability_rows,
            key=("InventoryID", "WarehouseID"),
        ),
        Inquiry(
            "SalesOrders",
            "Sales Orders",
            _columns(
                "OrderType OrderNbr Status CustomerID CustomerOrder Date CurrencyID OrderTotal OrderedQty"
                " LastModifiedDateTime",
                {**_DT, "OrderTotal": EDM_DECIMAL, "OrderedQty": EDM_DECIMAL},
            ),
            ("SalesOrder",),
            record_rows=_order_rows,
            key=("OrderType", "OrderNbr"),
        ),
        Inquiry(
            "Customers",
            "Customers",
            _columns(
                "CustomerID CustomerName CustomerClass Status Email City Country LastModifiedDateTime",
                _DT,
            ),
            ("Customer",),
            record_rows=_customer_rows,
            key=("CustomerID",),
        ),
        Inquiry(
            "Shipments",
            "Shipments",
            _columns(
                "ShipmentNbr Status CustomerID ShipmentDate ShipVia OrderType OrderNbr ShippedQty TrackingNbrs"
                " LastModifiedDateTime",
                {**_DT, "ShippedQty": EDM_DECIMAL},
            ),
            ("Shipment",),
            record_rows=_shipment_rows,
            key=("ShipmentNbr", "OrderNbr"),
        ),
        Inquiry(
            "StockItems",
            "Stock Items",
            _columns(
                "InventoryID Description ItemClass ItemStatus DefaultPrice LastModifiedDateTime",
                {**_DT, "DefaultPrice": EDM_DECIMAL},
            ),
            ("StockItem",),
            record_rows=_stock_item_rows,
            key=("InventoryID",),
        ),
        Inquiry(
            "Payments",
            "Payments",
            _columns(
                "Type ReferenceNbr Status CustomerID PaymentMethod PaymentAmount LastModifiedDateTime",
                {**_DT, "PaymentAmount": EDM_DECIMAL},
            ),
            ("Payment",),
            record_rows=_payment_rows,
            key=("Type", "ReferenceNbr"),
        ),
    )
}


def skus_in(records: Iterable[Record | None]) -> set[str]:
    """Stock-item keys touched by a set of changed records of any entity."""
    out: set[str] = set()
    for record in records:
        if not record:
            continue
        if record.get("InventoryID"):
            out.add(str(record["InventoryID"]).upper())
        for line in record.get("Details") or []:
            if line.get("InventoryID"):
                out.add(str(line["InventoryID"]).upper())
    return out
