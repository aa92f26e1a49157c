"""Payments, prepayments and refunds (AR302000): applied to sales orders, released, voided.

* A payment or prepayment may be reserved for sales orders (``OrdersToApply``), in full or in
  part; its ``AvailableBalance`` is what neither the orders nor refunds hold. Applications to
  orders stay editable after release (the Sales Orders tab of a released payment can still
  link or unlink orders); the amount and the customer do not.
* A refund (``Type: Refund``) pays money back against released documents of its customer that
  still have a balance (``DocumentsToApply``: a payment, prepayment or credit memo, by code or
  label); its applications hold that balance from the moment it is saved.
* ``ReleasePayment`` moves Balanced to Open (a balance left) or Closed; ``VoidPayment`` voids.

The same rules check a payment created from a sales order's Payments tab
(:func:`payment_row_errors`), so that an order and its payment are created together or not at
all.
"""

from __future__ import annotations

from typing import Any

from .. import reference
from ..entities import parties
from ..store import Record
from ..values import money
from ..writes import add_error
from .base import ActionError, Graph, today_iso

CASH_ACCOUNT_BY_METHOD = {
    "CHECK": "10200WH",
    "CASH": "10100",
    "PAYPAL": "10300PP",
    "WIRE": "10200WH",
}
RELEASED = ("Open", "Closed", "Voided")
UNRELEASED = ("On Hold", "Balanced", "Pending Processing")
#: Document types a refund can be applied to.
REFUNDABLE = ("Payment", "Prepayment", "Credit Memo")
#: Fields of a released document that can no longer change.
LOCKED_WHEN_RELEASED = ("PaymentAmount", "CustomerID", "DocumentsToApply")


def cash_account_for(method: str) -> str:
    return CASH_ACCOUNT_BY_METHOD.get(method.upper(), "10200WH")


def doc_type_label(value: Any) -> str | None:
    """An AR document type from its code (``PPM``) or label (``Prepayment``), as a label."""
    text = str(value or "").strip()
    if text.upper() in parties.AR_DOC_TYPES:
        return parties.AR_DOC_TYPES[text.upper()]
    return next((t for t in parties.AR_DOC_TYPES.values() if t.lower() == text.lower()), None)


def payment_row_errors(row: Record) -> dict[str, str]:
    """What the payment graph would refuse in a payment's own fields (method, cash account,
    amount, card processing); a sales order's Payments row is checked with it."""
    errors: dict[str, str] = {}
    method = row.get("PaymentMethod")
    if not method:
        errors["PaymentMethod"] = "'Payment Method' cannot be empty."
    elif not reference.contains(reference.PAYMENT_METHODS, str(method)):
        errors["PaymentMethod"] = "'Payment Method' cannot be found in the system."
    account = row.get("CashAccount")
    if account and not reference.contains(reference.CASH_ACCOUNTS, str(account)):
        errors["CashAccount"] = "'Cash Account' cannot be found in the system."
    if (row.get("PaymentAmount") or 0.0) < 0:
        errors["PaymentAmount"] = "'Payment Amount' cannot be negative."
    if row.get("Authorize") or row.get("Capture"):
        # The tenant's card method has no processing center: a card can be charged only
        # outside Acumatica (the transaction is then recorded, never processed here).
        center = row.get("ProcessingCenterID")
        if not center:
            errors["ProcessingCenterID"] = "'Proc. Center ID' cannot be empty."
        else:
            errors["ProcessingCenterID"] = "'Proc. Center ID' cannot be found in the system."
    return errors


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
            for name in LOCKED_WHEN_RELEASED:
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
        record["CashAccount"] = record.get("CashAccount") or cash_account_for(method)
        self.require_selector(
            record, "CashAccount", lambda v: reference.contains(reference.CASH_ACCOUNTS, v)
        )
        record["CurrencyID"] = record.get("CurrencyID") or reference.BASE_CURRENCY
        self.require_selector(
            record, "CurrencyID", lambda v: reference.contains(reference.CURRENCIES, v)
        )
        record["ApplicationDate"] = record.get("ApplicationDate") or today_iso()
        record["PaymentAmount"] = money(record.get("PaymentAmount") or 0.0)
        if record["PaymentAmount"] < 0:
            add_error(record, "PaymentAmount", "'Payment Amount' cannot be negative.")
        record["Hold"] = bool(record.get("Hold"))
        record["Branch"] = record.get("Branch") or "MAIN"
        record["IsCCPayment"] = method == "CREDITCARD"
        for row in record.setdefault("CreditCardTransactionInfo", []):
            row.pop("_new", None)
        if record["Type"] == "Refund":
            if record.get("OrdersToApply"):
                add_error(record, "OrdersToApply", "A refund cannot be applied to sales orders.")
            record["OrdersToApply"] = []
            applied_orders = 0.0
        else:
            applied_orders = self._order_applications(record, customer)
        applied_documents = self._document_applications(record, customer)
        refunded = 0.0 if record["Type"] == "Refund" else self.refunded(record)
        record["AppliedToOrders"] = money(applied_orders)
        record["AppliedToDocuments"] = money(applied_documents)
        record["AvailableBalance"] = money(
            record["PaymentAmount"] - applied_orders - applied_documents - refunded
        )
        if record["PaymentAmount"] - applied_orders < 0:
            add_error(
                record, "PaymentAmount", "The amount applied to orders exceeds the payment amount."
            )
        elif record["AvailableBalance"] < 0:
            add_error(
                record,
                "PaymentAmount",
                "The amount applied to documents exceeds the payment amount.",
            )
        if record.get("Status") in (None, "On Hold", "Balanced"):
            record["Status"] = "On Hold" if record["Hold"] else "Balanced"
        elif record.get("Status") in ("Open", "Closed"):
            record["Status"] = "Closed" if record["AvailableBalance"] <= 0 else "Open"

    def _order_applications(self, record: Record, customer: Record | None) -> float:
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
            if str(order.get("CurrencyID") or "").upper() != str(record["CurrencyID"]).upper():
                add_error(
                    application,
                    "OrderNbr",
                    "The currency of the order differs from the currency of the payment.",
                )
            if application.get("AppliedToOrder") is None:
                unpaid = _unpaid_excluding(order, record)
                application["AppliedToOrder"] = money(
                    max(min(unpaid, record["PaymentAmount"] - applied), 0.0)
                )
            application["AppliedToOrder"] = money(application["AppliedToOrder"])
            if application["AppliedToOrder"] < 0:
                add_error(application, "AppliedToOrder", "The applied amount cannot be negative.")
            applied += application["AppliedToOrder"]
        return applied

    def _document_applications(self, record: Record, customer: Record | None) -> float:
        """``DocumentsToApply``: a refund's payments, prepayments and credit memos; a payment's
        invoices and credit memos (this tenant has no AR invoices). The selector lists released
        documents of the customer that still have a balance."""
        allowed = REFUNDABLE if record["Type"] == "Refund" else ("Invoice", "Credit Memo")
        applied = 0.0
        for row in record.setdefault("DocumentsToApply", []):
            row.pop("_new", None)
            label = doc_type_label(row.get("DocType"))
            if label not in allowed:
                add_error(row, "DocType", f"DocType: '{row.get('DocType')}' is not a valid value.")
                continue
            row["DocType"] = label
            target = self.store.find("Payment", Type=label, ReferenceNbr=row.get("ReferenceNbr"))
            held = self._held_by(target, record) if target is not None else 0.0
            if (
                target is None
                or target.get("Status") == "Voided"
                or (target.get("Status") != "Open" and not held)
                or customer is None
                or str(target.get("CustomerID")).upper() != str(customer["CustomerID"]).upper()
            ):
                add_error(row, "ReferenceNbr", "'Reference Nbr.' cannot be found in the system.")
                continue
            row["ReferenceNbr"] = target["ReferenceNbr"]
            row["Description"] = target.get("Description")
            balance = money((target.get("AvailableBalance") or 0.0) + held)
            if row.get("AmountPaid") is None:
                row["AmountPaid"] = money(max(min(balance, record["PaymentAmount"] - applied), 0))
            row["AmountPaid"] = money(row["AmountPaid"])
            if row["AmountPaid"] <= 0:
                add_error(row, "AmountPaid", "The amount paid must be greater than zero.")
            elif row["AmountPaid"] > balance:
                add_error(
                    row,
                    "AmountPaid",
                    f"The amount paid cannot exceed the balance of the document ({balance:.2f}).",
                )
            row["CashDiscountTaken"] = 0.0
            row["BalanceWriteOff"] = 0.0
            applied += row["AmountPaid"]
        return applied

    def refunded(self, document: Record) -> float:
        """What refunds (not voided) hold of a payment's balance."""
        if not document.get("ReferenceNbr"):
            return 0.0
        refunds = self.store.referencing(
            "Payment",
            "DocumentsToApply",
            DocType=document.get("Type"),
            ReferenceNbr=document["ReferenceNbr"],
        )
        return money(
            sum(
                row.get("AmountPaid") or 0.0
                for refund in refunds
                if refund.get("Type") == "Refund" and refund.get("Status") != "Voided"
                for row in refund.get("DocumentsToApply") or []
                if row.get("DocType") == document.get("Type")
                and row.get("ReferenceNbr") == document["ReferenceNbr"]
            )
        )

    def _held_by(self, target: Record, refund: Record) -> float:
        """What this refund itself (as stored) already holds of ``target`` (a refund saved
        again must not count its own application twice)."""
        if not refund.get("id"):
            return 0.0
        stored = self.store.peek("Payment", refund["id"])
        if stored is None or stored.get("Status") == "Voided":
            return 0.0
        return money(
            sum(
                row.get("AmountPaid") or 0.0
                for row in stored.get("DocumentsToApply") or []
                if row.get("DocType") == target.get("Type")
                and row.get("ReferenceNbr") == target.get("ReferenceNbr")
            )
        )

    def after_save(self, old: Record | None, new: Record) -> None:
        if new.get("Type") == "Refund" or (old or {}).get("Type") == "Refund":
            self._refresh_refunded(old, new)
            return
        keys = {
            (a.get("OrderType"), a.get("OrderNbr"))
            for rec in (old, new)
            if rec
            for a in rec.get("OrdersToApply") or []
        }
        from .sales_orders import SalesOrderGraph

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

    def _refresh_refunded(self, old: Record | None, new: Record) -> None:
        """The documents a refund applies to: their balances and statuses follow it."""
        keys = {
            (row.get("DocType"), row.get("ReferenceNbr"))
            for rec in (old, new)
            if rec
            for row in rec.get("DocumentsToApply") or []
        }
        for doc_type, nbr in sorted(keys, key=str):
            target = self.store.find("Payment", Type=doc_type, ReferenceNbr=nbr)
            if target is not None and target.get("Type") != "Refund":
                self.refresh(target)

    def after_delete(self, record: Record) -> None:
        self.after_save(record, {**record, "OrdersToApply": [], "DocumentsToApply": []})

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

    def reset_order_applications(self, order_type: str, order_nbr: str) -> None:
        """A cancelled order releases what payments reserved for it: their applications to it
        are reset to zero (their balance becomes available again)."""
        for payment in self.store.referencing(
            "Payment", "OrdersToApply", OrderType=order_type, OrderNbr=order_nbr
        ):
            current = self.by_id(payment["id"])
            if current is None:
                continue
            changed = False
            for application in current.get("OrdersToApply") or []:
                if (application.get("OrderType"), application.get("OrderNbr")) == (
                    order_type,
                    order_nbr,
                ) and application.get("AppliedToOrder"):
                    application["AppliedToOrder"] = 0.0
                    changed = True
            if changed:
                self.refresh(current)

    def set_order_application(self, payment: Record, order: Record, amount: float | None) -> None:
        """Change (or, with ``None``, remove) what ``payment`` reserves for ``order``."""
        key = (order["OrderType"], order["OrderNbr"])
        rows = [
            a
            for a in payment.get("OrdersToApply") or []
            if (a.get("OrderType"), a.get("OrderNbr")) != key or amount is not None
        ]
        if amount is not None:
            for application in rows:
                if (application.get("OrderType"), application.get("OrderNbr")) == key:
                    application["AppliedToOrder"] = money(amount)
        payment["OrdersToApply"] = rows
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
