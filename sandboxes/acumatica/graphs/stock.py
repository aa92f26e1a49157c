"""Stock items, quantities, the inventory summary inquiry and stock-changing documents.

Quantities per item and warehouse:

* on hand: ``StockItem.WarehouseDetails[].QtyOnHand``, changed only by released adjustments
  and receipts and by confirmed shipments;
* on shipments: quantities on shipments not yet confirmed;
* booked: open quantities of sales-order lines not yet on a shipment, for every order that is
  not Canceled or Completed (orders on hold included; quotes, type QT, excluded);
* available = on hand - booked - on shipments; available for shipment = on hand - on shipments.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .. import reference
from ..entities import inventory
from ..store import Record, Store
from ..values import money, now_iso, parse_datetime, qty
from ..writes import add_error, new_id
from .attributes import check_answers
from .base import ActionError, Graph, today_iso

CLOSED_ORDER_STATUSES = ("Canceled", "Completed", "Invoiced", "Rejected", "Expired")

Quantities = dict[tuple[str, str], dict[str, Any]]


def item_by_sku(store: Store, sku: str) -> Record | None:
    return store.find("StockItem", InventoryID=sku)


def availability(store: Store, skus: set[str] | None = None) -> Quantities:
    """Quantities keyed by (InventoryID, WarehouseID), SKUs upper-case.

    Each entry also has ``changed``: the latest change time of anything that moved the numbers.
    """
    wanted = {s.upper() for s in skus} if skus is not None else None
    out: Quantities = defaultdict(
        lambda: {"on_hand": 0.0, "booked": 0.0, "on_shipments": 0.0, "changed": ""}
    )
    with store.lock:
        for item in store.all("StockItem"):
            sku = str(item.get("InventoryID", "")).upper()
            if wanted is not None and sku not in wanted:
                continue
            for row in item.get("WarehouseDetails") or []:
                q = out[(sku, str(row.get("WarehouseID", "")).upper())]
                q["on_hand"] += row.get("QtyOnHand") or 0.0
                _touch(q, item.get("QtyLastModified") or item.get("LastModifiedDateTime"))
        for order in store.all("SalesOrder"):
            closed = order.get("Status") in CLOSED_ORDER_STATUSES or order.get("OrderType") == "QT"
            for line in order.get("Details") or []:
                sku = str(line.get("InventoryID", "")).upper()
                if wanted is not None and sku not in wanted:
                    continue
                q = out[(sku, str(line.get("WarehouseID", "")).upper())]
                _touch(q, order.get("LastModified"))
                open_qty = (line.get("OpenQty") or 0.0) - (line.get("QtyOnShipments") or 0.0)
                if open_qty > 0 and not closed and line.get("Operation") != "Receipt":
                    q["booked"] += open_qty
        for shipment in store.all("Shipment"):
            unconfirmed = shipment.get("Status") in ("Open", "On Hold")
            unconfirmed = unconfirmed and shipment.get("Operation") != "Receipt"
            for line in shipment.get("Details") or []:
                sku = str(line.get("InventoryID", "")).upper()
                if wanted is not None and sku not in wanted:
                    continue
                wh = str(line.get("WarehouseID") or shipment.get("WarehouseID") or "").upper()
                q = out[(sku, wh)]
                _touch(q, shipment.get("LastModifiedDateTime"))
                if unconfirmed:
                    q["on_shipments"] += line.get("ShippedQty") or 0.0
    for q in out.values():
        q["available"] = qty(q["on_hand"] - q["booked"] - q["on_shipments"])
        q["available_for_shipment"] = qty(q["on_hand"] - q["on_shipments"])
    return dict(out)


def _touch(quantities: dict[str, Any], stamp: str | None) -> None:
    """Keep the latest change time (ISO strings in UTC compare in time order)."""
    if stamp and stamp > quantities["changed"]:
        quantities["changed"] = stamp


def adjust_on_hand(store: Store, sku: str, warehouse: str, delta: float) -> None:
    """Change on-hand quantity (the stock item's LastModified is not touched, as in Acumatica)."""
    with store.transaction():
        item = item_by_sku(store, sku)
        if item is None:
            raise ActionError(f"'Inventory Item' {sku} cannot be found in the system.")
        rows = item.setdefault("WarehouseDetails", [])
        row = next(
            (r for r in rows if str(r.get("WarehouseID", "")).upper() == warehouse.upper()), None
        )
        if row is None:
            row = _warehouse_row(warehouse, is_default=not rows)
            rows.append(row)
        row["QtyOnHand"] = qty((row.get("QtyOnHand") or 0.0) + delta)
        item["QtyLastModified"] = now_iso()
        store.save("StockItem", item)


def _warehouse_row(warehouse: str, *, is_default: bool) -> Record:
    return {
        "id": new_id(),
        "WarehouseID": warehouse,
        "QtyOnHand": 0.0,
        "IsDefault": is_default,
        "Override": False,
        "PriceOverride": False,
        "Status": "Active",
    }


class StockItemGraph(Graph):
    defn = inventory.STOCK_ITEM

    def prepare(self, record: Record, old: Record | None) -> None:
        if not record.get("InventoryID"):
            add_error(record, "InventoryID", "'Inventory ID' cannot be empty.")
        record.setdefault("Description", record.get("InventoryID"))
        record["ItemClass"] = record.get("ItemClass") or "STOCKITEM"
        self.require_selector(
            record, "ItemClass", lambda v: reference.contains(reference.ITEM_CLASSES, v)
        )
        record["ItemStatus"] = record.get("ItemStatus") or "Active"
        record["ItemType"] = record.get("ItemType") or "Finished Good"
        record["ValuationMethod"] = record.get("ValuationMethod") or "Average"
        for uom in ("BaseUOM", "SalesUOM", "PurchaseUOM"):
            record[uom] = record.get(uom) or "EA"
        record["WeightUOM"] = record.get("WeightUOM") or "KG"
        record["DefaultPrice"] = money(record.get("DefaultPrice") or 0.0)
        record.setdefault("MSRP", 0.0)
        record.setdefault("AverageCost", 0.0)
        record.setdefault("LastCost", 0.0)
        record["DefaultWarehouseID"] = record.get("DefaultWarehouseID") or reference.WAREHOUSES[0]
        self.require_selector(
            record, "DefaultWarehouseID", lambda v: reference.contains(reference.WAREHOUSES, v)
        )
        rows = record.setdefault("WarehouseDetails", [])
        for row in rows:
            row.pop("_new", None)
            if not row.get("WarehouseID") or not reference.contains(
                reference.WAREHOUSES, row["WarehouseID"]
            ):
                add_error(row, "WarehouseID", "'Warehouse' cannot be found in the system.")
            row.setdefault("QtyOnHand", 0.0)
            row.setdefault("Status", "Active")
            row.setdefault("Override", False)
            row.setdefault("PriceOverride", False)
        default = str(record["DefaultWarehouseID"]).upper()
        if not any(str(r.get("WarehouseID", "")).upper() == default for r in rows):
            rows.append(_warehouse_row(record["DefaultWarehouseID"], is_default=True))
        for row in rows:
            row["IsDefault"] = str(row.get("WarehouseID", "")).upper() == default
        check_answers(self.store, record)


class InventorySummaryGraph(Graph):
    """Read with PUT: the body holds the filter, ``Results`` the rows."""

    defn = inventory.INVENTORY_SUMMARY_INQUIRY

    def inquire(self, filter_record: Record) -> Record:
        sku = filter_record.get("InventoryID")
        item = item_by_sku(self.store, str(sku)) if sku else None
        if sku and item is None:
            add_error(
                filter_record, "InventoryID", "'Inventory Item' cannot be found in the system."
            )
            return filter_record
        warehouse = filter_record.get("WarehouseID")
        if warehouse and not reference.contains(reference.WAREHOUSES, str(warehouse)):
            add_error(filter_record, "WarehouseID", "'Warehouse' cannot be found in the system.")
            return filter_record
        quantities = availability(self.store, {str(sku)} if sku else None)
        results: list[Record] = []
        for (item_sku, wh), q in sorted(quantities.items()):
            if warehouse and wh != str(warehouse).upper():
                continue
            stock = item if item is not None else item_by_sku(self.store, item_sku)
            if stock is None:
                continue
            cost = stock.get("AverageCost") or 0.0
            results.append(
                {
                    "id": new_id(),
                    "WarehouseID": _display_warehouse(wh),
                    "BaseUOM": stock.get("BaseUOM") or "EA",
                    "QtyOnHand": qty(q["on_hand"]),
                    "QtyAvailable": q["available"],
                    "QtyAvailableForShipment": q["available_for_shipment"],
                    "QtyNotAvailable": 0.0,
                    "EstimatedUnitCost": cost,
                    "EstimatedTotalCost": money(cost * q["on_hand"]),
                }
            )
        filter_record["Results"] = results
        return filter_record


class InventoryQuantityAvailableGraph(Graph):
    """Available quantity per item over all warehouses, changed since a date."""

    defn = inventory.INVENTORY_QUANTITY_AVAILABLE

    def inquire(self, filter_record: Record) -> Record:
        sku = filter_record.get("InventoryID")
        if sku and item_by_sku(self.store, str(sku)) is None:
            add_error(
                filter_record, "InventoryID", "'Inventory Item' cannot be found in the system."
            )
            return filter_record
        since = filter_record.get("LastModifiedDateTime")
        since_dt = parse_datetime(since) if since else None
        names = {
            str(i.get("InventoryID", "")).upper(): i.get("InventoryID")
            for i in self.store.all("StockItem")
        }
        totals: dict[str, dict[str, Any]] = {}
        for (item_sku, _wh), q in availability(self.store, {str(sku)} if sku else None).items():
            if item_sku not in names:
                continue
            entry = totals.setdefault(item_sku, {"qty": 0.0, "changed": ""})
            entry["qty"] += q["available"]
            entry["changed"] = max(entry["changed"], q["changed"])
        results: list[Record] = []
        for item_sku, entry in sorted(totals.items()):
            if since_dt and (not entry["changed"] or parse_datetime(entry["changed"]) < since_dt):
                continue
            results.append(
                {
                    "id": new_id(),
                    "InventoryID": names[item_sku],
                    "QtyAvailable": qty(entry["qty"]),
                    "LastModifiedDateTime": entry["changed"] or None,
                }
            )
        filter_record["Results"] = results
        return filter_record


def _display_warehouse(code: str) -> str:
    return next((w for w in reference.WAREHOUSES if w.upper() == code), code)


class _StockDocumentGraph(Graph):
    """Adjustments and receipts: lines of quantities, released to change on-hand stock."""

    def prepare(self, record: Record, old: Record | None) -> None:
        if old is not None and old.get("Status") == "Released" and _lines_changed(record, old):
            add_error(record, "", "The document has been released and cannot be changed.")
            return
        record["Date"] = record.get("Date") or today_iso()
        record["Hold"] = bool(record.get("Hold"))
        if record.get("Status") != "Released":
            record["Status"] = "On Hold" if record["Hold"] else "Balanced"
        total_qty = total_cost = 0.0
        for number, line in enumerate(record.setdefault("Details", []), 1):
            line.pop("_new", None)
            sku = line.get("InventoryID")
            item = item_by_sku(self.store, str(sku)) if sku else None
            if item is None:
                message = "cannot be empty." if not sku else "cannot be found in the system."
                add_error(line, "InventoryID", f"'Inventory Item' {message}")
                continue
            line["WarehouseID"] = line.get("WarehouseID") or item.get("DefaultWarehouseID")
            if not reference.contains(reference.WAREHOUSES, str(line["WarehouseID"])):
                add_error(line, "WarehouseID", "'Warehouse' cannot be found in the system.")
            line["UOM"] = line.get("UOM") or item.get("BaseUOM") or "EA"
            line["Qty"] = qty(line.get("Qty") or 0.0)
            self.line_costs(line, item, number)
            total_qty += line["Qty"]
            total_cost += line.get("ExtendedCost") or line.get("ExtCost") or 0.0
        record["TotalQty"] = qty(total_qty)
        record["TotalCost"] = money(total_cost)

    def line_costs(self, line: Record, item: Record, number: int) -> None:
        line["ExtendedCost"] = money(line.get("ExtendedCost") or 0.0)

    def release(self, record: Record, params: dict[str, Any]) -> None:
        if record.get("Status") == "On Hold":
            raise ActionError("The document is on hold and cannot be released.")
        if record.get("Status") == "Released":
            raise ActionError("The document has already been released.")
        with self.store.transaction():
            for line in record.get("Details") or []:
                adjust_on_hand(
                    self.store, str(line["InventoryID"]), str(line["WarehouseID"]), line["Qty"]
                )
            record["Status"] = "Released"
            self.refresh(record)


def _lines_changed(record: Record, old: Record) -> bool:
    strip = lambda rows: [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows or []]  # noqa: E731
    return strip(record.get("Details")) != strip(old.get("Details"))


class InventoryAdjustmentGraph(_StockDocumentGraph):
    defn = inventory.INVENTORY_ADJUSTMENT

    def actions(self) -> dict[str, Any]:
        return {"ReleaseAdjustment": self.release}


class InventoryReceiptGraph(_StockDocumentGraph):
    defn = inventory.INVENTORY_RECEIPT

    def line_costs(self, line: Record, item: Record, number: int) -> None:
        line["LineNumber"] = number
        line["UnitCost"] = money(line.get("UnitCost") or item.get("AverageCost") or 0.0)
        line["ExtCost"] = money(line["UnitCost"] * line["Qty"])
        if line["Qty"] <= 0:
            add_error(line, "Qty", "The quantity must be greater than zero.")

    def actions(self) -> dict[str, Any]:
        return {"ReleaseInventoryReceipt": self.release}
