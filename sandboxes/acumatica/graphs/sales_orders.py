"""Sales orders: defaults from the customer and items, line amounts, taxes, totals and status.

Status follows the simplified workflow of the reference (§3.8): Hold decides between On Hold
and Open while the order is neither shipping nor closed; shipments move it to Shipping, Back
Order or Completed; CancelSalesOrder and ReopenSalesOrder move it to Canceled and back (a
cancelled order's payment reservations are reset to zero).
Shipments[] is a read-only view kept up to date by the shipment graph (``link_shipments``).
A return order type (``reference.RETURN_ORDER_TYPES``, ``RC``) has receipt lines by default:
``SalesOrderCreateReceipt`` makes a receipt of them, whose confirmation puts the goods on hand.
Payments[] is the view the payment graph keeps (``link_payments``), and more: a row sent
without ``id`` in a PUT of the order creates that payment (or prepayment) applied to the order,
in the same transaction ("Create a Sales Order with a Credit Card Payment": if the payment
cannot be created, neither is the order); a row sent with its ``id`` changes what the payment
reserves for the order, or with ``delete`` cancels the reservation.

Currency: ``CurrencyID`` (the customer's, else the base currency) with ``CurrencyRate`` (base
amount = document amount x rate) sent by the client, else the tenant's rate of the
``CurrencyRateTypeID`` (SPOT) for the currency; ``ReciprocalRate`` is its inverse.
"""

from __future__ import annotations

from typing import Any

from .. import reference
from ..entities import sales
from ..store import Record
from ..values import money, now, qty
from ..writes import NEW, add_error, new_id, strip_marks
from .base import ActionError, Graph, content, ensure_child, today_iso
from .payments import PaymentGraph, cash_account_for, doc_type_label, payment_row_errors
from .stock import item_by_sku

#: Working mark of a client's PUT (not of a recomputation after another record changed).
CLIENT_PUT = "_client_put"
EDITABLE_STATUSES = ("Open", "On Hold", "Credit Hold", "Pending Approval", "Back Order", "Shipping")
HOLD_STATUSES = ("Open", "On Hold")


class SalesOrderGraph(Graph):
    defn = sales.SALES_ORDER

    def default_key(self, key: str, body: dict[str, Any]) -> Any:
        return "SO" if key == "OrderType" else None

    def always_numbered(self) -> str | None:
        return "OrderNbr"

    def prepare(self, record: Record, old: Record | None) -> None:
        record["OrderType"] = str(record.get("OrderType") or "SO").upper()
        if not reference.contains(reference.ORDER_TYPES, record["OrderType"]):
            add_error(record, "OrderType", "'Order Type' cannot be found in the system.")
        customer = self._customer(record)
        record["Date"] = record.get("Date") or today_iso()
        record["RequestedOn"] = record.get("RequestedOn") or record["Date"]
        record["EffectiveDate"] = record.get("EffectiveDate") or record["Date"]
        record["CurrencyID"] = (
            record.get("CurrencyID") or (customer or {}).get("CurrencyID") or "USD"
        )
        self.require_selector(
            record, "CurrencyID", lambda v: reference.contains(reference.CURRENCIES, v)
        )
        self._currency_rate(record)
        record["Branch"] = record.get("Branch") or "MAIN"
        record["LocationID"] = record.get("LocationID") or "MAIN"
        self.require_selector(
            record, "PaymentMethod", lambda v: reference.contains(reference.PAYMENT_METHODS, v)
        )
        self.require_selector(
            record, "CashAccount", lambda v: reference.contains(reference.CASH_ACCOUNTS, v)
        )
        record["ShipVia"] = record.get("ShipVia") or (customer or {}).get("ShipVia")
        self.require_selector(
            record, "ShipVia", lambda v: reference.contains(reference.SHIP_VIAS, v)
        )
        self.require_selector(
            record, "PreferredWarehouseID", lambda v: reference.contains(reference.WAREHOUSES, v)
        )
        record["Hold"] = bool(record.get("Hold"))
        record["Approved"] = True
        record["CreditHold"] = False
        record["IsTaxValid"] = True
        record["WillCall"] = bool(record.get("WillCall"))
        for flag in (
            "ShipToAddressOverride",
            "ShipToContactOverride",
            "BillToAddressOverride",
            "BillToContactOverride",
        ):
            record[flag] = bool(record.get(flag))
        self._addresses(record, customer)
        self._lines(record, customer)
        self._taxes(record)
        self._totals(record)
        self._payment_rows(record, customer, old)
        self._status(record, old)

    def validate_put(self, record: Record, old: Record | None) -> None:
        record[CLIENT_PUT] = True
        if old is not None and old.get("Status") not in EDITABLE_STATUSES and _changed(record, old):
            add_error(
                record, "", f"The order has the {old.get('Status')} status and cannot be changed."
            )

    def _currency_rate(self, record: Record) -> None:
        record["BaseCurrencyID"] = reference.BASE_CURRENCY
        record["CurrencyRateTypeID"] = record.get("CurrencyRateTypeID") or (
            reference.CURRENCY_RATE_TYPE
        )
        if str(record["CurrencyRateTypeID"]).upper() != reference.CURRENCY_RATE_TYPE:
            add_error(
                record, "CurrencyRateTypeID", "'Currency Rate Type' cannot be found in the system."
            )
        currency = str(record.get("CurrencyID") or "").upper()
        if currency == reference.BASE_CURRENCY:
            record["CurrencyRate"] = 1.0
        elif record.get("CurrencyRate") is not None:
            if record["CurrencyRate"] <= 0:
                add_error(record, "CurrencyRate", "'Currency Rate' must be greater than 0.")
        else:
            record["CurrencyRate"] = reference.CURRENCY_RATES.get(currency, 1.0)
        rate = record.get("CurrencyRate") or 0.0
        record["ReciprocalRate"] = round(1 / rate, 8) if rate > 0 else 0.0

    def _payment_rows(self, record: Record, customer: Record | None, old: Record | None) -> None:
        """Check the Payments rows a client sent: new ones (created with the order by
        ``save``) and changed reservations of existing ones; errors stay on the rows."""
        old_rows = {r.get("id"): r for r in (old or {}).get("Payments") or []}
        total = record.get("OrderTotal") or 0.0
        applied = 0.0
        for row in record.get("Payments") or []:
            if not row.get(NEW):
                previous = old_rows.get(row.get("id"))
                amount = row.get("AppliedToOrder")
                if (
                    previous is not None
                    and amount is not None
                    and (amount < 0 or amount > (previous.get("PaymentAmount") or 0.0))
                ):
                    add_error(
                        row,
                        "AppliedToOrder",
                        "The applied amount cannot exceed the payment amount.",
                    )
                if row.get("Status") != "Voided":
                    applied += row.get("AppliedToOrder") or 0.0
                continue
            if old is not None and old.get("Status") not in ("Open", "On Hold"):
                add_error(
                    row, "DocType", "Payments can be added only to orders that are open or on hold."
                )
            row["DocType"] = doc_type_label(row.get("DocType") or "Payment") or row.get("DocType")
            if row["DocType"] not in sales.PAYMENT_DOC_TYPES:
                add_error(row, "DocType", f"DocType: '{row['DocType']}' is not a valid value.")
            for name, message in payment_row_errors(row).items():
                add_error(row, name, message)
            if row.get("PaymentMethod"):
                row["CashAccount"] = row.get("CashAccount") or cash_account_for(
                    str(row["PaymentMethod"])
                )
            row["PaymentAmount"] = money(row.get("PaymentAmount") or 0.0)
            if row.get("AppliedToOrder") is None:
                row["AppliedToOrder"] = money(max(min(row["PaymentAmount"], total - applied), 0))
            row["AppliedToOrder"] = money(row["AppliedToOrder"])
            if row["AppliedToOrder"] < 0:
                add_error(row, "AppliedToOrder", "The applied amount cannot be negative.")
            elif row["AppliedToOrder"] > row["PaymentAmount"]:
                add_error(
                    row,
                    "AppliedToOrder",
                    "The amount applied to the order exceeds the payment amount.",
                )
            applied += row["AppliedToOrder"]
            row["Currency"] = record.get("CurrencyID")
            if customer is None:
                add_error(row, "DocType", "The payment cannot be created without a customer.")
        if applied > total + 0.005 and any(r.get(NEW) for r in record.get("Payments") or []):
            add_error(
                record,
                "",
                "The total amount applied to the order exceeds the order total.",
            )

    def save(self, record: Record, old: Record | None) -> Record:
        """Store the order; then, for a client's PUT, create the payments of its new Payments
        rows and apply its changes to existing ones, in the same transaction, and answer the
        order as it then stands."""
        client = bool(record.pop(CLIENT_PUT, False))
        rows = record.get("Payments") or []
        new_rows = [r for r in rows if r.get(NEW)]
        record["Payments"] = [r for r in rows if not r.get(NEW)]
        changes: list[tuple[str, float | None]] = []
        if client and old is not None:
            kept = {r.get("id"): r for r in record["Payments"]}
            for previous in old.get("Payments") or []:
                now_row = kept.get(previous.get("id"))
                if now_row is None:
                    changes.append((str(previous.get("NoteID")), None))
                elif money(now_row.get("AppliedToOrder") or 0.0) != money(
                    previous.get("AppliedToOrder") or 0.0
                ):
                    changes.append((str(previous.get("NoteID")), now_row.get("AppliedToOrder")))
            record["Payments"] = list(old.get("Payments") or [])  # the payments' own view
        saved = super().save(record, old)
        if not new_rows and not changes:
            return saved
        payments = PaymentGraph(self.env)
        for payment_id, amount in changes:
            payment = payments.by_id(payment_id)
            if payment is not None:
                payments.set_order_application(payment, saved, amount)
        for row in new_rows:
            self._create_payment(payments, saved, strip_marks(row))
        stored = self.store.find(
            "SalesOrder", OrderType=saved["OrderType"], OrderNbr=saved["OrderNbr"]
        )
        if stored is not None:
            saved.clear()
            saved.update(stored)
        return saved

    def _create_payment(self, payments: PaymentGraph, order: Record, row: Record) -> None:
        body: dict[str, Any] = {
            "Type": row.get("DocType") or "Payment",
            "CustomerID": order.get("CustomerID"),
            "Branch": order.get("Branch"),
            "CurrencyID": order.get("CurrencyID"),
            "OrdersToApply": [
                {
                    "OrderType": order["OrderType"],
                    "OrderNbr": order["OrderNbr"],
                    "AppliedToOrder": row.get("AppliedToOrder"),
                }
            ],
        }
        for name in (
            "PaymentMethod",
            "CashAccount",
            "PaymentRef",
            "ExternalRef",
            "Description",
            "PaymentAmount",
            "ApplicationDate",
            "Hold",
        ):
            if row.get(name) is not None:
                body[name] = row[name]
        if row.get("CreditCardTransactionInfo"):
            body["CreditCardTransactionInfo"] = [
                {k: v for k, v in tran.items() if k != "id"}
                for tran in row["CreditCardTransactionInfo"]
            ]
        from ..entities import parties
        from ..writes import has_errors, merge

        payment = payments.new_record(body)
        merge(parties.PAYMENT, payment, body)
        payments.prepare(payment, None)
        if has_errors(payment):  # the order's own checks mirror these: not expected
            raise RuntimeError(f"payment of order {order['OrderNbr']} is invalid: {payment}")
        payments.save(payment, None)

    def _customer(self, record: Record) -> Record | None:
        customer_id = record.get("CustomerID")
        if not customer_id:
            add_error(record, "CustomerID", "'Customer' cannot be empty.")
            return None
        customer = self.store.find("Customer", CustomerID=customer_id)
        if customer is None:
            add_error(record, "CustomerID", "'Customer' cannot be found in the system.")
            return None
        record["CustomerID"] = customer["CustomerID"]
        return customer

    def _addresses(self, record: Record, customer: Record | None) -> None:
        contact = (customer or {}).get("MainContact") or {}
        address = contact.get("Address") or {}
        for prefix in ("BillTo", "ShipTo"):
            addr = ensure_child(record, f"{prefix}Address")
            if (
                not record[f"{prefix}AddressOverride"]
                and self.env.settings.copy_addresses_without_override
            ):
                for name in (
                    "AddressLine1",
                    "AddressLine2",
                    "City",
                    "State",
                    "PostalCode",
                    "Country",
                ):
                    addr[name] = address.get(name)
            addr.setdefault("Validated", False)
            doc_contact = ensure_child(record, f"{prefix}Contact")
            if (
                not record[f"{prefix}ContactOverride"]
                and self.env.settings.copy_addresses_without_override
            ):
                doc_contact["Attention"] = contact.get("Attention")
                doc_contact["BusinessName"] = (customer or {}).get("CustomerName")
                doc_contact["Email"] = contact.get("Email")
                doc_contact["Phone1"] = contact.get("Phone1")
            record[f"{prefix}AddressValidated"] = False

    def _lines(self, record: Record, customer: Record | None) -> None:
        lines = record.setdefault("Details", [])
        # Line numbers come from a counter on the order that never goes back (LineCntr).
        next_nbr = (
            max([record.get("LineCntr") or 0] + [line.get("LineNbr") or 0 for line in lines]) + 1
        )
        stamp = now().strftime("%m/%d/%Y %H:%M:%S")
        for line in lines:
            is_new = bool(line.pop("_new", False))
            sku = line.get("InventoryID")
            item = item_by_sku(self.store, str(sku)) if sku else None
            if item is None:
                message = "cannot be empty." if not sku else "cannot be found in the system."
                add_error(line, "InventoryID", f"'Inventory Item' {message}")
                continue
            line["InventoryID"] = item["InventoryID"]
            if is_new or line.get("LineNbr") is None:
                line["LineNbr"] = next_nbr
                next_nbr += 1
            line["WarehouseID"] = (
                line.get("WarehouseID")
                or record.get("PreferredWarehouseID")
                or (customer or {}).get("WarehouseID")
                or item.get("DefaultWarehouseID")
            )
            if not reference.contains(reference.WAREHOUSES, str(line["WarehouseID"])):
                add_error(line, "WarehouseID", "'Warehouse' cannot be found in the system.")
            line["UOM"] = line.get("UOM") or item.get("SalesUOM") or "EA"
            line["LineType"] = line.get("LineType") or "Goods for Inventory"
            line["Operation"] = line.get("Operation") or default_operation(record)
            line["LineDescription"] = line.get("LineDescription") or item.get("Description")
            if line.get("UnitPrice") is None:
                line["UnitPrice"] = item.get("DefaultPrice") or 0.0
            line["OrderQty"] = qty(line.get("OrderQty") or 0.0)
            if line["OrderQty"] < 0:
                add_error(line, "OrderQty", "The quantity cannot be negative.")
            line["ExtendedPrice"] = money(line["OrderQty"] * line["UnitPrice"])
            if line.get("DiscountPercent") and not line.get("DiscountAmount"):
                line["DiscountAmount"] = money(
                    line["ExtendedPrice"] * line["DiscountPercent"] / 100
                )
            line["DiscountAmount"] = money(line.get("DiscountAmount") or 0.0)
            line["DiscountPercent"] = line.get("DiscountPercent") or 0.0
            line["Amount"] = money(line["ExtendedPrice"] - line["DiscountAmount"])
            line["DiscountedUnitPrice"] = (
                money(line["Amount"] / line["OrderQty"]) if line["OrderQty"] else line["UnitPrice"]
            )
            line["ManualPrice"] = bool(line.get("ManualPrice"))
            line["ManualDiscount"] = bool(line.get("ManualDiscount"))
            line["FreeItem"] = bool(line.get("FreeItem"))
            shipped = line.get("ShippedQtyTotal") or 0.0
            line["OpenQty"] = qty(max(line["OrderQty"] - shipped, 0.0))
            line.setdefault("QtyOnShipments", 0.0)
            line["Completed"] = line["OrderQty"] > 0 and line["OpenQty"] <= 0
            line["UnbilledAmount"] = line["Amount"]
            line["Weight"] = item.get("DimensionWeight") or 0.0
            line["LastModifiedDate"] = stamp
            line["NoteID"] = line["id"]
        record["LineCntr"] = next_nbr - 1

    def _taxes(self, record: Record) -> None:
        line_total = sum(line.get("Amount") or 0.0 for line in record.get("Details") or [])
        for number, tax in enumerate(record.setdefault("TaxDetails", []), 1):
            tax.pop("_new", None)
            tax_id = str(tax.get("TaxID") or "")
            rate = next(
                (r for t, r in reference.TAXES.items() if t.upper() == tax_id.upper()), None
            )
            if rate is None:
                add_error(tax, "TaxID", "'Tax' cannot be found in the system.")
                continue
            tax["TaxRate"] = tax.get("TaxRate") if tax.get("TaxRate") is not None else rate
            tax["TaxableAmount"] = money(
                tax.get("TaxableAmount") if tax.get("TaxableAmount") is not None else line_total
            )
            if tax.get("TaxAmount") is None:
                tax["TaxAmount"] = money(tax["TaxableAmount"] * tax["TaxRate"] / 100)
            tax["TaxType"] = "Sales"
            tax["OrderType"] = record.get("OrderType")
            tax["OrderNbr"] = record.get("OrderNbr")
            tax["LineNbr"] = number
            tax["RecordID"] = number

    def _totals(self, record: Record) -> None:
        lines = [line for line in record.get("Details") or [] if line.get("Amount") is not None]
        totals = ensure_child(record, "Totals")
        line_total = money(sum(line["Amount"] for line in lines))
        tax_total = money(sum(t.get("TaxAmount") or 0.0 for t in record.get("TaxDetails") or []))
        freight = money(totals.get("Freight") or 0.0)
        premium = money(totals.get("PremiumFreight") or 0.0)
        applied = sum(
            p.get("AppliedToOrder") or 0.0
            for p in record.get("Payments") or []
            if p.get("Status") != "Voided"
        )
        order_total = money(line_total + tax_total + freight + premium)
        totals.update(
            {
                "LineTotalAmount": line_total,
                "DiscountTotal": 0.0,
                "MiscTotalAmount": 0.0,
                "TaxTotal": tax_total,
                "Freight": freight,
                "PremiumFreight": premium,
                "FreightCost": 0.0,
                "OverrideFreightAmount": bool(totals.get("OverrideFreightAmount")),
                "UnbilledAmount": order_total,
                "UnbilledQty": qty(sum(line["OpenQty"] for line in lines)),
                "UnpaidBalance": money(max(order_total - applied, 0.0)),
                "OrderWeight": qty(
                    sum(line["OrderQty"] * line.get("Weight", 0.0) for line in lines)
                ),
            }
        )
        record["OrderTotal"] = order_total
        record["TaxTotal"] = tax_total
        record["OrderedQty"] = qty(sum(line["OrderQty"] for line in lines))
        record["ControlTotal"] = record.get("ControlTotal") or order_total
        record["VATExemptTotal"] = 0.0
        record["VATTaxableTotal"] = 0.0

    def _status(self, record: Record, old: Record | None) -> None:
        status = record.get("Status") if old is not None else None
        if status is None or status in HOLD_STATUSES:
            record["Status"] = "On Hold" if record["Hold"] else "Open"

    # --- links kept by other graphs -------------------------------------------------------

    def link_shipments(self, order: Record, shipments: list[Record]) -> None:
        """Recompute shipped quantities, Shipments[] and the status from the order's shipments."""
        key = (order["OrderType"], order["OrderNbr"])
        on_shipments: dict[int, float] = {}
        shipped: dict[int, float] = {}
        rows: list[Record] = []
        old_rows = {r.get("ShipmentNbr"): r for r in order.get("Shipments") or []}
        for shipment in shipments:
            mine = [
                d
                for d in shipment.get("Details") or []
                if (d.get("OrderType"), d.get("OrderNbr")) == key
            ]
            if not mine:
                continue
            confirmed = shipment.get("Status") in ("Confirmed", "Completed", "Invoiced")
            for d in mine:
                target = shipped if confirmed else on_shipments
                nbr = d.get("OrderLineNbr") or 0
                target[nbr] = target.get(nbr, 0.0) + (d.get("ShippedQty") or 0.0)
            previous = old_rows.get(shipment["ShipmentNbr"]) or {}
            rows.append(
                {
                    "id": previous.get("id") or new_id(),
                    "ShipmentNbr": shipment["ShipmentNbr"],
                    "ShipmentType": shipment.get("Type") or "Shipment",
                    "ShipmentDate": shipment.get("ShipmentDate"),
                    "Status": shipment.get("Status"),
                    "ShippedQty": qty(sum(d.get("ShippedQty") or 0.0 for d in mine)),
                    "ShippedWeight": 0.0,
                    "ShippedVolume": 0.0,
                    "InventoryDocType": (
                        ("Receipt" if shipment.get("Operation") == "Receipt" else "Issue")
                        if confirmed
                        else None
                    ),
                    "LastModifiedDateTime": shipment.get("LastModifiedDateTime"),
                }
            )
        for line in order.get("Details") or []:
            nbr = line.get("LineNbr") or 0
            line["ShippedQtyTotal"] = qty(shipped.get(nbr, 0.0))
            line["QtyOnShipments"] = qty(on_shipments.get(nbr, 0.0))
            line["OpenQty"] = qty(max((line.get("OrderQty") or 0.0) - line["ShippedQtyTotal"], 0.0))
        order["Shipments"] = rows
        if order.get("Status") == "Canceled":
            return
        lines = order.get("Details") or []
        all_shipped = bool(lines) and all(line["OpenQty"] <= 0 for line in lines)
        if all_shipped and not on_shipments:
            order["Status"] = "Completed"
        elif on_shipments:
            order["Status"] = "Shipping"
        elif shipped:
            order["Status"] = "Back Order"
        elif order.get("Status") in ("Shipping", "Back Order", "Completed"):
            order["Status"] = "On Hold" if order.get("Hold") else "Open"

    def link_payments(self, order: Record, payments: list[Record]) -> None:
        key = (order["OrderType"], order["OrderNbr"])
        old_rows = {
            (r.get("DocType"), r.get("ReferenceNbr")): r for r in order.get("Payments") or []
        }
        rows: list[Record] = []
        for payment in payments:
            if payment.get("Status") == "Voided":
                continue
            for application in payment.get("OrdersToApply") or []:
                if (application.get("OrderType"), application.get("OrderNbr")) != key:
                    continue
                previous = old_rows.get((payment["Type"], payment["ReferenceNbr"])) or {}
                rows.append(
                    {
                        "id": previous.get("id") or new_id(),
                        "DocType": payment["Type"],
                        "ReferenceNbr": payment["ReferenceNbr"],
                        "PaymentMethod": payment.get("PaymentMethod"),
                        "CashAccount": payment.get("CashAccount"),
                        "PaymentRef": payment.get("PaymentRef"),
                        "Status": payment.get("Status"),
                        "Hold": payment.get("Hold"),
                        "Currency": payment.get("CurrencyID"),
                        "PaymentAmount": payment.get("PaymentAmount"),
                        "AppliedToOrder": application.get("AppliedToOrder"),
                        "Balance": payment.get("AvailableBalance"),
                        "TransferredtoInvoice": 0.0,
                        "ApplicationDate": payment.get("ApplicationDate"),
                        "LastModifiedDateTime": payment.get("LastModifiedDateTime"),
                        "NoteID": payment.get("id"),
                    }
                )
        order["Payments"] = rows

    def can_delete(self, record: Record) -> str | None:
        if record.get("Shipments") or record.get("Payments"):
            return "The order cannot be deleted because it has shipments or payments."
        if record.get("Status") in ("Completed", "Invoiced"):
            return f"An order with the {record.get('Status')} status cannot be deleted."
        return None

    # --- actions ---------------------------------------------------------------------------

    def actions(self) -> dict[str, Any]:
        return {
            "CancelSalesOrder": self.cancel,
            "ReopenSalesOrder": self.reopen,
            "OpenSalesOrder": self.reopen,
            "SalesOrderCreateShipment": self.create_shipment,
            "SalesOrderCreateReceipt": self.create_receipt,
        }

    def cancel(self, order: Record, params: dict[str, Any]) -> None:
        if order.get("Status") not in (
            "Open",
            "On Hold",
            "Credit Hold",
            "Back Order",
            "Pending Approval",
        ):
            raise ActionError(f"An order with the {order.get('Status')} status cannot be canceled.")
        order["Status"] = "Canceled"
        self.refresh(order)
        PaymentGraph(self.env).reset_order_applications(order["OrderType"], order["OrderNbr"])

    def reopen(self, order: Record, params: dict[str, Any]) -> None:
        if order.get("Status") not in ("Canceled", "On Hold", "Open"):
            raise ActionError(f"An order with the {order.get('Status')} status cannot be reopened.")
        order["Status"] = "Open"
        order["Hold"] = False
        self.refresh(order)

    def create_shipment(self, order: Record, params: dict[str, Any]) -> None:
        from .shipments import ShipmentGraph

        ShipmentGraph(self.env).create_from_order(order, params)

    def create_receipt(self, order: Record, params: dict[str, Any]) -> None:
        """A receipt (a shipment of type Receipt) of the order's open Receipt lines: the goods
        a return order takes back; confirming it puts them on hand."""
        from .shipments import ShipmentGraph

        ShipmentGraph(self.env).create_from_order(order, params, receipt=True)


def default_operation(order: Record) -> str:
    """A line's operation when none is sent: Receipt on a return order type, else Issue."""
    returns = reference.RETURN_ORDER_TYPES
    return "Receipt" if reference.contains(returns, str(order.get("OrderType"))) else "Issue"


def _changed(record: Record, old: Record) -> bool:
    return bool(content(record) != content(old))
