"""Shipments: built from sales-order lines, packed with tracking numbers, confirmed.

Confirming a shipment issues its quantities from stock and advances the orders it ships.
"""

from __future__ import annotations

from typing import Any

from .. import reference
from ..entities import parties
from ..store import Record
from ..values import qty, to_store
from ..writes import add_error, new_id
from .base import ActionError, Graph, today_iso
from .sales_orders import SalesOrderGraph
from .stock import adjust_on_hand


class ShipmentGraph(Graph):
    defn = parties.SHIPMENT

    def always_numbered(self) -> str | None:
        return "ShipmentNbr"

    def prepare(self, record: Record, old: Record | None) -> None:
        record["Type"] = record.get("Type") or "Shipment"
        record["Operation"] = record.get("Operation") or (
            "Receipt" if record["Type"] == "Receipt" else "Issue"
        )
        customer_id = record.get("CustomerID")
        customer = self.store.find("Customer", CustomerID=customer_id) if customer_id else None
        if customer is None:
            message = "cannot be empty." if not customer_id else "cannot be found in the system."
            add_error(record, "CustomerID", f"'Customer' {message}")
        record["ShipmentDate"] = record.get("ShipmentDate") or today_iso()
        if record.get("Hold") is None:
            record["Hold"] = self.env.settings.hold_shipments_on_entry
        if record.get("Status") in (None, "Open", "On Hold"):
            record["Status"] = "On Hold" if record["Hold"] else "Open"
        self.require_selector(
            record, "ShipVia", lambda v: reference.contains(reference.SHIP_VIAS, v)
        )
        self._lines(record)
        if not record.get("WarehouseID"):
            add_error(record, "WarehouseID", "'Warehouse' cannot be empty.")
        elif not reference.contains(reference.WAREHOUSES, str(record["WarehouseID"])):
            add_error(record, "WarehouseID", "'Warehouse' cannot be found in the system.")
        packages = record.setdefault("Packages", [])
        for number, package in enumerate(packages, 1):
            package.pop("_new", None)
            package["LineNbr"] = number
            package["NoteID"] = package["id"]
            package["Confirmed"] = bool(package.get("Confirmed")) or record["Status"] == "Confirmed"
            package["Type"] = package.get("Type") or "Manual"
            package["BoxID"] = package.get("BoxID") or "BOX"
            package["UOM"] = package.get("UOM") or "KG"
            package["Weight"] = package.get("Weight") or 0.0
        record["PackageCount"] = len(packages)
        record["PackageWeight"] = qty(sum(p.get("Weight") or 0.0 for p in packages))
        record["ShippedQty"] = qty(
            sum(d.get("ShippedQty") or 0.0 for d in record.get("Details") or [])
        )
        record["ShippedWeight"] = record["PackageWeight"]
        record.setdefault("FreightPrice", 0.0)
        record.setdefault("FreightCost", 0.0)
        self._orders(record)

    def _lines(self, record: Record) -> None:
        """Expand ``{OrderType, OrderNbr}`` rows into the order's open lines; fill line fields."""
        expanded: list[Record] = []
        for line in record.setdefault("Details", []):
            is_new = line.pop("_new", False)
            order = self._order(line)
            if order is None:
                add_error(line, "OrderNbr", "'Order Nbr.' cannot be found in the system.")
                expanded.append(line)
                continue
            if (
                record.get("CustomerID")
                and str(order["CustomerID"]).upper() != str(record["CustomerID"]).upper()
            ):
                add_error(line, "OrderNbr", "The order belongs to another customer.")
            if is_new and not line.get("InventoryID"):
                expanded.extend(self._open_lines(record, order))
                continue
            source = next(
                (
                    d
                    for d in order.get("Details") or []
                    if d.get("LineNbr") == line.get("OrderLineNbr")
                    or (
                        line.get("OrderLineNbr") is None
                        and str(d.get("InventoryID")).upper()
                        == str(line.get("InventoryID")).upper()
                    )
                ),
                None,
            )
            if source is None:
                add_error(line, "InventoryID", "'Inventory Item' cannot be found in the order.")
                expanded.append(line)
                continue
            self._fill_line(line, source, record, order)
            expanded.append(line)
        for number, line in enumerate(expanded, 1):
            line["LineNbr"] = number
        record["Details"] = expanded

    def _order(self, line: Record) -> Record | None:
        order_nbr = line.get("OrderNbr")
        if not order_nbr:
            return None
        return self.store.find(
            "SalesOrder", OrderType=line.get("OrderType") or "SO", OrderNbr=order_nbr
        )

    def _open_lines(self, record: Record, order: Record) -> list[Record]:
        """The order's open lines of the shipment's operation (a receipt takes Receipt lines,
        a shipment Issue lines) from its warehouse."""
        lines: list[Record] = []
        operation = record.get("Operation") or "Issue"
        for source in order.get("Details") or []:
            if (source.get("Operation") or "Issue") != operation:
                continue
            if (
                record.get("WarehouseID")
                and str(source.get("WarehouseID")).upper() != str(record["WarehouseID"]).upper()
            ):
                continue
            available = (source.get("OpenQty") or 0.0) - (source.get("QtyOnShipments") or 0.0)
            if available <= 0:
                continue
            line: Record = {"id": new_id(), "ShippedQty": qty(available)}
            self._fill_line(line, source, record, order)
            lines.append(line)
        if not lines:
            empty = {"id": new_id(), "OrderType": order["OrderType"], "OrderNbr": order["OrderNbr"]}
            add_error(empty, "OrderNbr", "The order has no lines to ship from this warehouse.")
            lines.append(empty)
        return lines

    def _fill_line(self, line: Record, source: Record, record: Record, order: Record) -> None:
        line["OrderType"], line["OrderNbr"] = order["OrderType"], order["OrderNbr"]
        line["OrderLineNbr"] = source.get("LineNbr")
        line["InventoryID"] = source.get("InventoryID")
        line["WarehouseID"] = source.get("WarehouseID")
        line["UOM"] = source.get("UOM")
        line["OrderedQty"] = source.get("OrderQty")
        line["OpenQty"] = source.get("OpenQty")
        line["Description"] = line.get("Description") or source.get("LineDescription")
        if line.get("ShippedQty") is None:
            line["ShippedQty"] = qty(
                max((source.get("OpenQty") or 0.0) - (source.get("QtyOnShipments") or 0.0), 0.0)
            )
        record["WarehouseID"] = record.get("WarehouseID") or source.get("WarehouseID")

    def _orders(self, record: Record) -> None:
        orders: dict[tuple[str, str], float] = {}
        for line in record.get("Details") or []:
            if line.get("OrderNbr"):
                key = (line.get("OrderType") or "SO", line["OrderNbr"])
                orders[key] = orders.get(key, 0.0) + (line.get("ShippedQty") or 0.0)
        record["Orders"] = [
            {
                "id": new_id(),
                "OrderType": t,
                "OrderNbr": n,
                "ShipmentNbr": record.get("ShipmentNbr"),
                "ShipmentType": record.get("Type"),
                "ShippedQty": qty(q),
                "ShippedWeight": 0.0,
                "ShippedVolume": 0.0,
            }
            for (t, n), q in orders.items()
        ]

    def after_save(self, old: Record | None, new: Record) -> None:
        self._sync_orders(old, new)

    def after_delete(self, record: Record) -> None:
        self._sync_orders(record, None)

    def can_delete(self, record: Record) -> str | None:
        if record.get("Status") not in ("Open", "On Hold"):
            return f"A shipment with the {record.get('Status')} status cannot be deleted."
        return None

    def _sync_orders(self, old: Record | None, new: Record | None) -> None:
        keys = {
            (d.get("OrderType"), d.get("OrderNbr"))
            for rec in (old, new)
            if rec
            for d in rec.get("Details") or []
            if d.get("OrderNbr")
        }
        orders_graph = SalesOrderGraph(self.env)
        for order_type, order_nbr in sorted(keys, key=str):
            order = self.store.find("SalesOrder", OrderType=order_type, OrderNbr=order_nbr)
            if order is not None:
                shipments = self.store.referencing(
                    "Shipment", "Details", OrderType=order_type, OrderNbr=order_nbr
                )
                orders_graph.link_shipments(order, shipments)
                orders_graph.refresh(order)

    # --- actions ---------------------------------------------------------------------------

    def actions(self) -> dict[str, Any]:
        return {"ConfirmShipment": self.confirm, "CorrectShipment": self.correct}

    def create_from_order(
        self, order: Record, params: dict[str, Any], *, receipt: bool = False
    ) -> Record:
        if order.get("Status") not in ("Open", "Back Order", "Shipping"):
            raise ActionError(f"An order with the {order.get('Status')} status cannot be shipped.")
        warehouse = params.get("WarehouseID") or next(
            (d.get("WarehouseID") for d in order.get("Details") or []), None
        )
        date = params.get("ShipmentDate")
        record: Record = {
            "id": new_id(),
            "note": "",
            "ShipmentNbr": self.store.next_number("Shipment"),
            "CustomerID": order["CustomerID"],
            "WarehouseID": warehouse,
            "ShipmentDate": to_store(date, "DateTime") if date else None,
            "ShipVia": order.get("ShipVia"),
            "Type": "Receipt" if receipt else "Shipment",
            "Operation": "Receipt" if receipt else "Issue",
            "Hold": self.env.settings.hold_shipments_on_entry,
            "Details": [
                {
                    "id": new_id(),
                    "_new": True,
                    "OrderType": order["OrderType"],
                    "OrderNbr": order["OrderNbr"],
                }
            ],
        }
        self.prepare(record, None)
        errors = [e for d in record["Details"] for e in (d.get("_errors") or {}).values()]
        errors += list((record.get("_errors") or {}).values())
        if errors:
            raise ActionError(errors[0])
        return self.save(record, None)

    def confirm(self, shipment: Record, params: dict[str, Any]) -> None:
        if shipment.get("Status") == "On Hold":
            raise ActionError("The shipment is on hold and cannot be confirmed.")
        if shipment.get("Status") != "Open":
            raise ActionError(
                f"A shipment with the {shipment.get('Status')} status cannot be confirmed."
            )
        if not any((d.get("ShippedQty") or 0) > 0 for d in shipment.get("Details") or []):
            raise ActionError("The shipment has no shipped quantity.")
        sign = 1.0 if shipment.get("Operation") == "Receipt" else -1.0
        with self.store.transaction():
            for line in shipment.get("Details") or []:
                adjust_on_hand(
                    self.store,
                    str(line["InventoryID"]),
                    str(line["WarehouseID"]),
                    sign * (line.get("ShippedQty") or 0.0),
                )
            shipment["Status"] = "Confirmed"
            self.refresh(shipment)

    def correct(self, shipment: Record, params: dict[str, Any]) -> None:
        if shipment.get("Status") != "Confirmed":
            raise ActionError(
                f"A shipment with the {shipment.get('Status')} status cannot be corrected."
            )
        sign = -1.0 if shipment.get("Operation") == "Receipt" else 1.0
        with self.store.transaction():
            for line in shipment.get("Details") or []:
                adjust_on_hand(
                    self.store,
                    str(line["InventoryID"]),
                    str(line["WarehouseID"]),
                    sign * (line.get("ShippedQty") or 0.0),
                )
            shipment["Status"] = "Open"
            self.refresh(shipment)
