"""Customers: class, status and the main contact, whose e-mail is also the top-level Email."""

from __future__ import annotations

from .. import reference
from ..entities import parties
from ..store import Record
from ..writes import add_error
from .base import Graph, ensure_child


class CustomerGraph(Graph):
    defn = parties.CUSTOMER

    def prepare(self, record: Record, old: Record | None) -> None:
        if not record.get("CustomerName"):
            add_error(record, "CustomerName", "'Customer Name' cannot be empty.")
        record["CustomerClass"] = record.get("CustomerClass") or "DEFAULT"
        self.require_selector(
            record, "CustomerClass", lambda v: reference.contains(reference.CUSTOMER_CLASSES, v)
        )
        record["Status"] = record.get("Status") or "Active"
        record["CustomerCategory"] = record.get("CustomerCategory") or "Individual"
        record["CurrencyID"] = record.get("CurrencyID") or reference.BASE_CURRENCY
        self.require_selector(
            record, "CurrencyID", lambda v: reference.contains(reference.CURRENCIES, v)
        )
        record["Terms"] = record.get("Terms") or "30D"
        self.require_selector(
            record, "ShipVia", lambda v: reference.contains(reference.SHIP_VIAS, v)
        )
        self.require_selector(
            record, "TaxZone", lambda v: reference.contains(reference.TAX_ZONES, v)
        )
        self.require_selector(
            record, "WarehouseID", lambda v: reference.contains(reference.WAREHOUSES, v)
        )
        record["ShippingRule"] = record.get("ShippingRule") or "Back Order Allowed"
        record.setdefault("CreditLimit", 0.0)
        record.setdefault("IsGuestCustomer", False)
        for flag in (
            "BillingContactOverride",
            "BillingAddressOverride",
            "ShippingContactOverride",
            "ShippingAddressOverride",
        ):
            record[flag] = bool(record.get(flag))
        if record.get("BAccountID") is None:
            record["BAccountID"] = int(self.store.next_number("BAccount", 1))
        contact = ensure_child(record, "MainContact")
        ensure_child(contact, "Address")
        if contact.get("ContactID") is None:
            contact["ContactID"] = int(self.store.next_number("Contact", 1))
        contact.setdefault("Active", True)
        contact["DisplayName"] = contact.get("DisplayName") or record.get("CustomerName")
        contact["CompanyName"] = contact.get("CompanyName") or record.get("CustomerName")
        self._sync_email(record, contact, old)
        for name in ("BillingContact", "ShippingContact"):
            override = record[name.replace("Contact", "ContactOverride")]
            if not override:
                record[name] = {
                    **contact,
                    "id": (record.get(name) or {}).get("id") or contact["id"],
                }

    @staticmethod
    def _sync_email(record: Record, contact: Record, old: Record | None) -> None:
        old_top = (old or {}).get("Email")
        old_contact = ((old or {}).get("MainContact") or {}).get("Email")
        if record.get("Email") != old_top:
            contact["Email"] = record.get("Email")
        elif contact.get("Email") != old_contact:
            record["Email"] = contact.get("Email")
        else:
            record["Email"] = record.get("Email") or contact.get("Email")
            contact["Email"] = record["Email"]

    def can_delete(self, record: Record) -> str | None:
        customer = str(record.get("CustomerID", "")).upper()
        for entity in ("SalesOrder", "Payment", "Shipment"):
            if any(
                str(r.get("CustomerID", "")).upper() == customer for r in self.store.all(entity)
            ):
                return "The customer cannot be deleted because it is referenced by documents."
        return None


def customer_by_id(graph: Graph, customer_id: str) -> Record | None:
    return graph.store.find("Customer", CustomerID=customer_id)
