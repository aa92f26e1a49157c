"""Payments and prepayments applied to sales orders, released and voided."""

from __future__ import annotations

from typing import Any

from .. import reference
from ..entities import parties
from ..store import Record
from ..values import money
from ..writes import add_error
from .base import ActionError, Graph, today_iso
from .sales_orders import SalesOrderGraph

CASH_ACCOUNT_BY_METHOD = {
    "CHECK": "10200WH",
    "CASH": "10100",
    "PAYPAL": "10300PP",
    "WIRE": "10200WH",
}
RELEASED = ("Open", "Closed", "Voided")


class PaymentGraph(Graph):
    defn = parties.PAYMENT

    def default_key(self, key: str, body: dict[str, Any]) -> Any:
        return "Payment" if key == "Type" else None

    def always_numbered(self) -> str | None:
        return "ReferenceNbr"

    def by_keys(self, values: list[str]) -> Record | None:
        if len(values) != 2:
            return None
        type_ = next(
            (t for t in parties.PAYMENT_TYPES if t.lower() == values[0].lower()), values[0]
        )
        return self.store.find("Payment", Type=type_, ReferenceNbr=values[1])

    def validate_put(self, record: Record, old: Record | None) -> None:
        if old is not None and old.get("Status") in RELEASED:
            for name in ("PaymentAmount", "CustomerID", "OrdersToApply"):
                if record.get(name) != old.get(name):
                    add_error(
                        record,
                        "",
                        f"The document has the {old['Status']} status and cannot be changed.",
                    )
                    return

    def prepare(self, record: Record, old: Record | None) -> None:
        record["Type"] = record.get("Type") or "Payment"
        customer_id = record.get("CustomerID")
        customer = self.store.find("Customer", CustomerID=customer_id) if customer_id else None
        if customer is None:
            message = "cannot be empty." if not customer_id else "cannot be found in the system."
            add_error(record, "CustomerID", f"'Customer' {message}")
        else:
            record["CustomerID"] = customer["CustomerID"]
        record["PaymentMethod"] = record.get("PaymentMethod") or "CHECK"
        self.require_selector(
            record, "PaymentMethod", lambda v: reference.contains(reference.PAYMENT_METHODS, v)
        )
        method = str(record["PaymentMethod"]).upper()
        record["CashAccount"] = record.get("CashAccount") or CASH_ACCOUNT_BY_METHOD.get(
            method, "10200WH"
        )
        self.require_selector(
            record, "CashAccount", lambda v: reference.contains(reference.CASH_ACCOUNTS, v)
        )
        record["CurrencyID"] = record.get("CurrencyID") or reference.BASE_CURRENCY
        self.require_selector(
            record, "CurrencyID", lambda v: reference.contains(reference.CURRENCIES, v)
        )
        record["ApplicationDate"] = record.get("ApplicationDate") or today_iso()
        record["PaymentAmount"] = money(record.get("PaymentAmount") or 0.0)
        record["Hold"] = bool(record.get("Hold"))
        record["Branch"] = record.get("Branch") or "MAIN"
        record["IsCCPayment"] = method == "CREDITCARD"
        applied = 0.0
        for application in record.setdefault("OrdersToApply", []):
            application.pop("_new", None)
            application["OrderType"] = str(application.get("OrderType") or "SO").upper()
            order = self.store.find(
                "SalesOrder",
                OrderType=application["OrderType"],
                OrderNbr=application.get("OrderNbr"),
            )
            if order is None:
                add_error(application, "OrderNbr", "'Order Nbr.' cannot be found in the system.")
                continue
            application["OrderNbr"] = order["OrderNbr"]
            if (
                customer is not None
                and str(order["CustomerID"]).upper() != str(customer["CustomerID"]).upper()
            ):
                add_error(application, "OrderNbr", "The order belongs to another customer.")
            if application.get("AppliedToOrder") is None:
                unpaid = _unpaid_excluding(order, record)
                application["AppliedToOrder"] = money(
                    max(min(unpaid, record["PaymentAmount"] - applied), 0.0)
                )
            application["AppliedToOrder"] = money(application["AppliedToOrder"])
            applied += application["AppliedToOrder"]
        record["AppliedToOrders"] = money(applied)
        record["AppliedToDocuments"] = 0.0
        record["AvailableBalance"] = money(record["PaymentAmount"] - applied)
        if record["AvailableBalance"] < 0:
            add_error(
                record, "PaymentAmount", "The amount applied to orders exceeds the payment amount."
            )
        if record.get("Status") in (None, "On Hold", "Balanced"):
            record["Status"] = "On Hold" if record["Hold"] else "Balanced"

    def after_save(self, old: Record | None, new: Record) -> None:
        keys = {
            (a.get("OrderType"), a.get("OrderNbr"))
            for rec in (old, new)
            if rec
            for a in rec.get("OrdersToApply") or []
        }
        graph = SalesOrderGraph(self.env)
        for order_type, order_nbr in sorted(keys, key=str):
            order = self.store.find("SalesOrder", OrderType=order_type, OrderNbr=order_nbr)
            if order is not None:
                # only the payments applied to this order (all of them: a write per payment
                # got slower as payments piled up)
                applied = self.store.referencing(
                    "Payment", "OrdersToApply", OrderType=order_type, OrderNbr=order_nbr
                )
                graph.link_payments(order, applied)
                graph.refresh(order)

    def after_delete(self, record: Record) -> None:
        self.after_save(record, {"OrdersToApply": []})

    def can_delete(self, record: Record) -> str | None:
        if record.get("Status") in RELEASED:
            return "A released payment cannot be deleted."
        return None

    def actions(self) -> dict[str, Any]:
        return {"ReleasePayment": self.release, "VoidPayment": self.void}

    def release(self, payment: Record, params: dict[str, Any]) -> None:
        if payment.get("Status") == "On Hold":
            raise ActionError("The document is on hold and cannot be released.")
        if payment.get("Status") != "Balanced":
            raise ActionError(
                f"A payment with the {payment.get('Status')} status cannot be released."
            )
        payment["Status"] = "Closed" if payment.get("AvailableBalance", 0.0) <= 0 else "Open"
        self.refresh(payment)

    def void(self, payment: Record, params: dict[str, Any]) -> None:
        if payment.get("Status") == "Voided":
            raise ActionError("The payment is already voided.")
        payment["Status"] = "Voided"
        self.refresh(payment)


def _unpaid_excluding(order: Record, payment: Record) -> float:
    total = order.get("OrderTotal") or 0.0
    paid = sum(
        row.get("AppliedToOrder") or 0.0
        for row in order.get("Payments") or []
        if row.get("Status") != "Voided"
        and (row.get("DocType"), row.get("ReferenceNbr"))
        != (payment.get("Type"), payment.get("ReferenceNbr"))
    )
    return money(total - paid)
