"""Data access classes served by DAC-based OData: rows with raw database codes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .graphs.stock import availability
from .inquiries import EDM_BOOLEAN, EDM_DATETIME, EDM_DECIMAL, EDM_STRING, Row
from .store import Store

EDM_INT = "Edm.Int32"

_ORDER_CODES = {
    "Open": "N",
    "On Hold": "H",
    "Pending Approval": "P",
    "Rejected": "V",
    "Pending Processing": "E",
    "Awaiting Payment": "A",
    "Credit Hold": "R",
    "Completed": "C",
    "Canceled": "L",
    "Back Order": "B",
    "Shipping": "S",
    "Invoiced": "I",
    "Expired": "D",
}
_ITEM_CODES = {
    "Active": "AC",
    "No Sales": "NS",
    "No Purchases": "NP",
    "No Request": "NR",
    "Inactive": "IN",
    "Marked for Deletion": "DE",
}
_CUSTOMER_CODES = {
    "Active": "A",
    "On Hold": "H",
    "Credit Hold": "C",
    "Inactive": "I",
    "One-Time": "T",
}


@dataclass(frozen=True)
class Dac:
    name: str
    full_name: str
    columns: tuple[tuple[str, str], ...]
    rows: Callable[[Store], list[Row]]


def _so_orders(store: Store) -> list[Row]:
    ids = _baccounts(store)
    return [
        {
            "OrderType": o.get("OrderType"),
            "OrderNbr": o.get("OrderNbr"),
            "Status": _ORDER_CODES.get(o.get("Status") or "", "N"),
            "CustomerID": ids.get(str(o.get("CustomerID")).upper()),
            "CustomerOrderNbr": o.get("CustomerOrder"),
            "OrderDate": o.get("Date"),
            "CuryID": o.get("CurrencyID"),
            "CuryOrderTotal": o.get("OrderTotal"),
            "OrderQty": o.get("OrderedQty"),
            "Hold": o.get("Hold"),
            "LastModifiedDateTime": o.get("LastModified"),
        }
        for o in store.all("SalesOrder")
    ]


def _inventory_items(store: Store) -> list[Row]:
    return [
        {
            "InventoryCD": i.get("InventoryID"),
            "Descr": i.get("Description"),
            "ItemStatus": _ITEM_CODES.get(i.get("ItemStatus") or "", "AC"),
            "StkItem": True,
            "BasePrice": i.get("DefaultPrice"),
            "ItemClassCD": i.get("ItemClass"),
            "LastModifiedDateTime": i.get("LastModifiedDateTime"),
        }
        for i in store.all("StockItem")
    ]


def _site_status(store: Store) -> list[Row]:
    names = {
        str(i.get("InventoryID", "")).upper(): i.get("InventoryID") for i in store.all("StockItem")
    }
    return [
        {
            "InventoryCD": names.get(sku, sku),
            "SiteCD": wh,
            "QtyOnHand": q["on_hand"],
            "QtyAvail": q["available"],
            "QtyHardAvail": q["available_for_shipment"],
        }
        for (sku, wh), q in sorted(availability(store).items())
    ]


def _customers(store: Store) -> list[Row]:
    return [
        {
            "BAccountID": c.get("BAccountID"),
            "AcctCD": c.get("CustomerID"),
            "AcctName": c.get("CustomerName"),
            "CustomerClassID": c.get("CustomerClass"),
            "Status": _CUSTOMER_CODES.get(c.get("Status") or "", "A"),
            "LastModifiedDateTime": c.get("LastModifiedDateTime"),
        }
        for c in store.all("Customer")
    ]


_SHIPMENT_CODES = {
    "Open": "N",
    "On Hold": "H",
    "Confirmed": "F",
    "Completed": "C",
    "Canceled": "L",
    "Invoiced": "I",
    "Partially Invoiced": "Y",
    "Receipted": "R",
    "Auto-Generated": "A",
}
_PAYMENT_TYPES = {
    "Payment": "PMT",
    "Prepayment": "PPM",
    "Refund": "REF",
    "Credit Memo": "CRM",
    "Voided Payment": "RPM",
}
_PAYMENT_CODES = {
    "On Hold": "H",
    "Balanced": "B",
    "Voided": "V",
    "Open": "N",
    "Closed": "C",
    "Pending Processing": "W",
}


def _baccounts(store: Store) -> dict[str, Any]:
    return {str(c.get("CustomerID")).upper(): c.get("BAccountID") for c in store.all("Customer")}


def _shipments(store: Store) -> list[Row]:
    ids = _baccounts(store)
    return [
        {
            "ShipmentNbr": s.get("ShipmentNbr"),
            "ShipmentType": "I",
            "Status": _SHIPMENT_CODES.get(s.get("Status") or "", "N"),
            "CustomerID": ids.get(str(s.get("CustomerID")).upper()),
            "ShipDate": s.get("ShipmentDate"),
            "ShipVia": s.get("ShipVia"),
            "ShipmentQty": s.get("ShippedQty"),
            "LastModifiedDateTime": s.get("LastModifiedDateTime"),
        }
        for s in store.all("Shipment")
    ]


def _payments(store: Store) -> list[Row]:
    ids = _baccounts(store)
    return [
        {
            "DocType": _PAYMENT_TYPES.get(p.get("Type") or "", "PMT"),
            "RefNbr": p.get("ReferenceNbr"),
            "Status": _PAYMENT_CODES.get(p.get("Status") or "", "B"),
            "CustomerID": ids.get(str(p.get("CustomerID")).upper()),
            "PaymentMethodID": p.get("PaymentMethod"),
            "CuryOrigDocAmt": p.get("PaymentAmount"),
            "ExtRefNbr": p.get("PaymentRef"),
            "LastModifiedDateTime": p.get("LastModifiedDateTime"),
        }
        for p in store.all("Payment")
    ]


def _cols(spec: str, types: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple((n, types.get(n, EDM_STRING)) for n in spec.split())


DACS: dict[str, Dac] = {
    d.name: d
    for d in (
        Dac(
            "SOOrder",
            "PX_Objects_SO_SOOrder",
            _cols(
                "OrderType OrderNbr Status CustomerID CustomerOrderNbr OrderDate CuryID CuryOrderTotal OrderQty Hold"
                " LastModifiedDateTime",
                {
                    "CustomerID": EDM_INT,
                    "OrderDate": EDM_DATETIME,
                    "CuryOrderTotal": EDM_DECIMAL,
                    "OrderQty": EDM_DECIMAL,
                    "Hold": EDM_BOOLEAN,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _so_orders,
        ),
        Dac(
            "InventoryItem",
            "PX_Objects_IN_InventoryItem",
            _cols(
                "InventoryCD Descr ItemStatus StkItem BasePrice ItemClassCD LastModifiedDateTime",
                {
                    "StkItem": EDM_BOOLEAN,
                    "BasePrice": EDM_DECIMAL,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _inventory_items,
        ),
        Dac(
            "INSiteStatus",
            "PX_Objects_IN_INSiteStatus",
            _cols(
                "InventoryCD SiteCD QtyOnHand QtyAvail QtyHardAvail",
                {"QtyOnHand": EDM_DECIMAL, "QtyAvail": EDM_DECIMAL, "QtyHardAvail": EDM_DECIMAL},
            ),
            _site_status,
        ),
        Dac(
            "Customer",
            "PX_Objects_AR_Customer",
            _cols(
                "BAccountID AcctCD AcctName CustomerClassID Status LastModifiedDateTime",
                {"BAccountID": EDM_INT, "LastModifiedDateTime": EDM_DATETIME},
            ),
            _customers,
        ),
        Dac(
            "SOShipment",
            "PX_Objects_SO_SOShipment",
            _cols(
                "ShipmentNbr ShipmentType Status CustomerID ShipDate ShipVia ShipmentQty LastModifiedDateTime",
                {
                    "CustomerID": EDM_INT,
                    "ShipDate": EDM_DATETIME,
                    "ShipmentQty": EDM_DECIMAL,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _shipments,
        ),
        Dac(
            "ARPayment",
            "PX_Objects_AR_ARPayment",
            _cols(
                "DocType RefNbr Status CustomerID PaymentMethodID CuryOrigDocAmt ExtRefNbr LastModifiedDateTime",
                {
                    "CustomerID": EDM_INT,
                    "CuryOrigDocAmt": EDM_DECIMAL,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _payments,
        ),
    )
}
DAC_ALIASES = {
    **{d.name.lower(): d for d in DACS.values()},
    **{d.full_name.lower(): d for d in DACS.values()},
}
