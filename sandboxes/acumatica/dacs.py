"""Data access classes served by DAC-based OData: rows with raw database codes."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from . import reference
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
class Navigation:
    """A navigation property: ``<Target>By<local field>`` links a row to the ``target`` DAC's
    row whose ``remote`` field equals its ``local`` one (User Guide, "DAC-Based OData")."""

    name: str
    target: str
    local: str
    remote: str


@dataclass(frozen=True)
class Dac:
    name: str
    full_name: str
    columns: tuple[tuple[str, str], ...]
    rows: Callable[[Store], list[Row]]
    navigation: tuple[Navigation, ...] = ()
    #: An index: the integer field ``index`` and the rows whose ``index`` is one of a set (what
    #: a ``$filter`` that pins that field to a few values reads instead of every row).
    index: str | None = None
    indexed_rows: Callable[[Store, set[int]], list[Row]] | None = None


def surrogate_id(code: str) -> int:
    """A stable integer for a record the store keys by its code: the DAC's ``InventoryID`` or
    ``SiteID`` (database identities, opaque to clients; only their stability matters)."""
    return zlib.crc32(code.strip().upper().encode("utf-8")) & 0x7FFFFFFF


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
            "InventoryID": surrogate_id(str(i.get("InventoryID") or "")),
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


def _site_status(store: Store, items: set[int] | None = None) -> list[Row]:
    """One row per item and warehouse, keyed by the two database identities; the codes are on
    the rows ``InventoryItemByInventoryID`` and ``INSiteBySiteID`` navigate to.
    ``LastModifiedDateTime``: the latest change of anything that moved the quantities.
    ``items``: only the rows of these ``InventoryID``s."""
    known = {str(i.get("InventoryID", "")).upper() for i in store.all("StockItem")}
    if items is not None:
        known = {sku for sku in known if surrogate_id(sku) in items}
        if not known:
            return []
    return [
        {
            "InventoryID": surrogate_id(sku),
            "SiteID": surrogate_id(wh),
            "QtyOnHand": q["on_hand"],
            "QtyAvail": q["available"],
            "QtyHardAvail": q["available_for_shipment"],
            "LastModifiedDateTime": q["changed"] or None,
        }
        for (sku, wh), q in sorted(
            availability(store, known if items is not None else None).items()
        )
        if sku in known
    ]


def _sites(store: Store) -> list[Row]:
    return [
        {"SiteID": surrogate_id(code), "SiteCD": code, "Descr": code, "Active": True}
        for code in reference.WAREHOUSES
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


def _order_types(store: Store) -> list[Row]:
    return [{"OrderType": code, "Descr": code, "Active": True} for code in reference.ORDER_TYPES]


def _branches(store: Store) -> list[Row]:
    return [
        {"BranchCD": code, "AcctName": name, "Active": True}
        for code, name in reference.BRANCHES.items()
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
                "InventoryID InventoryCD Descr ItemStatus StkItem BasePrice ItemClassCD"
                " LastModifiedDateTime",
                {
                    "InventoryID": EDM_INT,
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
                "InventoryID SiteID QtyOnHand QtyAvail QtyHardAvail LastModifiedDateTime",
                {
                    "InventoryID": EDM_INT,
                    "SiteID": EDM_INT,
                    "QtyOnHand": EDM_DECIMAL,
                    "QtyAvail": EDM_DECIMAL,
                    "QtyHardAvail": EDM_DECIMAL,
                    "LastModifiedDateTime": EDM_DATETIME,
                },
            ),
            _site_status,
            (
                Navigation(
                    "InventoryItemByInventoryID", "InventoryItem", "InventoryID", "InventoryID"
                ),
                Navigation("INSiteBySiteID", "INSite", "SiteID", "SiteID"),
            ),
            index="InventoryID",
            indexed_rows=_site_status,
        ),
        Dac(
            "INSite",
            "PX_Objects_IN_INSite",
            _cols("SiteID SiteCD Descr Active", {"SiteID": EDM_INT, "Active": EDM_BOOLEAN}),
            _sites,
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
        # Configuration the Default endpoint has no entity for (reference.py).
        Dac(
            "SOOrderType",
            "PX_Objects_SO_SOOrderType",
            _cols("OrderType Descr Active", {"Active": EDM_BOOLEAN}),
            _order_types,
        ),
        Dac(
            "Branch",
            "PX_Objects_GL_Branch",
            _cols("BranchCD AcctName Active", {"Active": EDM_BOOLEAN}),
            _branches,
        ),
    )
}
DAC_ALIASES = {
    **{d.name.lower(): d for d in DACS.values()},
    **{d.full_name.lower(): d for d in DACS.values()},
}
