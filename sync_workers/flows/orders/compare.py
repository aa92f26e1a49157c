"""Field-level comparison of synced orders: what the mapping writes against the sales order.

An order is in sync when the fields an edit writes (``mapping.orders.edit_body``: the lines'
quantity, price and discount, the freight, the bill-to and ship-to addresses and contacts, the
ship via and the tax row) hold what ``mapping.orders.to_sales_order`` makes of the X-Cart order
now; a cancelled (or refunded, unshipped) X-Cart order is in sync when its sales order is
Canceled. Hold, note and description are the engine's or the reviewer's and are not compared.

Sales orders are read in batches (``OrderNbr`` in one ``$filter``, their details expanded), never
one call per order. Address and contact values are customer data: a difference names the field
and masks both values.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F, one_of
from sync_workers.connectors.http import query_string
from sync_workers.errors import PermanentError
from sync_workers.flows.orders.steps import EDITABLE_STATUSES, OPEN_STATUSES
from sync_workers.flows.shape import FieldChange
from sync_workers.mapping import orders as order_map
from sync_workers.redaction import MASK

#: Sales orders per batched read, and the longest URL-encoded ``$filter`` one may send.
READ_BATCH = 40
READ_MAX_FILTER = 1800
#: What a comparison reads of a sales order.
EXPAND = (
    "Details",
    "TaxDetails",
    "Totals",
    "BillToAddress",
    "BillToContact",
    "ShipToAddress",
    "ShipToContact",
)
_PARTIES = ("BillToAddress", "BillToContact", "ShipToAddress", "ShipToContact")
_LINE_FIELDS = ("OrderQty", "UnitPrice", "DiscountAmount")


def _filter(order_type: str, numbers: list[str]) -> Any:
    return (F("OrderType") == order_type) & one_of("OrderNbr", list(numbers))


def _batches(order_type: str, numbers: list[str]) -> Iterator[list[str]]:
    """Batches of at most ``READ_BATCH`` numbers whose encoded filter fits in a URL."""
    batch: list[str] = []
    for number in numbers:
        candidate = [*batch, number]
        encoded = query_string({"$filter": _filter(order_type, candidate).render()})
        if batch and (len(candidate) > READ_BATCH or len(encoded) > READ_MAX_FILTER):
            yield batch
            candidate = [number]
        batch = candidate
    if batch:
        yield batch


def read_sales_orders(keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """``{"<OrderType>/<OrderNbr>": sales order}`` for the keys Acumatica has (a key it does
    not have is absent), with what a comparison needs expanded; one call per batch."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for key in dict.fromkeys(keys):
        order_type, order_nbr = key.split("/", 1)
        by_type[order_type].append(order_nbr)
    found: dict[str, dict[str, Any]] = {}
    client = clients.acumatica()
    for order_type, numbers in by_type.items():
        for batch in _batches(order_type, numbers):
            rows = client.get_list(
                "SalesOrder", filter=_filter(order_type, batch), expand=list(EXPAND)
            )
            wanted = {n.strip().upper(): n for n in batch}
            for row in rows:
                number = wanted.get(str(row.get("OrderNbr") or "").strip().upper())
                if number is not None:
                    found[f"{order_type}/{number}"] = row
    return found


def _text(value: Any) -> str:
    """Acumatica compares text ignoring case and trailing blanks."""
    return "" if value is None else str(value).strip().casefold()


def _same(current: Any, wanted: Any) -> bool:
    if isinstance(wanted, bool) or isinstance(current, bool):
        return bool(current) == bool(wanted)
    if isinstance(wanted, int | float):
        try:
            return order_map.money(current) == order_map.money(wanted)
        except (ArithmeticError, TypeError, ValueError):
            return False
    return _text(current) == _text(wanted)


def _line_id(line: Mapping[str, Any]) -> str:
    return str(line.get("InventoryID") or "").strip().upper()


def _line_changes(current: list[Mapping[str, Any]], wanted: list[Mapping[str, Any]]) -> list:
    """The lines' differences, matched by InventoryID in order as ``line_changes`` does."""
    remaining = list(current)
    changes: list[FieldChange] = []
    for line in wanted:
        item = _line_id(line)
        match = next((c for c in remaining if _line_id(c) == item), None)
        if match is None:
            changes.append(FieldChange(f"Details[{item}]", None, {"OrderQty": line["OrderQty"]}))
            continue
        remaining.remove(match)
        for name in _LINE_FIELDS:
            if not _same(match.get(name), line.get(name)):
                changes.append(FieldChange(f"Details[{item}].{name}", match.get(name), line[name]))
    for line in remaining:
        changes.append(
            FieldChange(f"Details[{_line_id(line)}]", {"OrderQty": line.get("OrderQty")}, None)
        )
    return changes


def field_changes(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[FieldChange]:
    """What an edit would change in the ``current`` sales order to make it ``wanted`` (both as
    plain values; address and contact values masked)."""
    changes = _line_changes(current.get("Details") or [], wanted.get("Details") or [])
    freight = (wanted.get("Totals") or {}).get("Freight")
    have = (current.get("Totals") or {}).get("Freight")
    if freight is not None and not _same(have, freight):
        changes.append(FieldChange("Totals.Freight", have, freight))
    if "ShipVia" in wanted and not _same(current.get("ShipVia"), wanted["ShipVia"]):
        changes.append(FieldChange("ShipVia", current.get("ShipVia"), wanted["ShipVia"]))
    for party in _PARTIES:
        have_party = current.get(party) or {}
        for name, value in (wanted.get(party) or {}).items():
            if not _same(have_party.get(name), value):
                changes.append(FieldChange(f"{party}.{name}", MASK, MASK))
    wanted_taxes = wanted.get("TaxDetails") or []
    have_taxes = {_text(t.get("TaxID")): t for t in current.get("TaxDetails") or []}
    for row in wanted_taxes:
        tax = have_taxes.get(_text(row.get("TaxID")))
        if tax is None:
            changes.append(FieldChange(f"TaxDetails[{row.get('TaxID')}]", None, row.get("TaxID")))
            continue
        for name in ("TaxAmount", "TaxableAmount"):
            if name in row and not _same(tax.get(name), row[name]):
                changes.append(
                    FieldChange(f"TaxDetails[{row.get('TaxID')}].{name}", tax.get(name), row[name])
                )
    return changes


def compare(order: Mapping[str, Any], sales_order: Mapping[str, Any], tmpl: Mapping[str, Any]):
    """``(changes, editable, reason)``: what a resync of ``order`` would change in its
    ``sales_order``, whether a resync can change it, and why not when it cannot.

    Raises ``PermanentError`` when the mapping refuses the order (an unmapped value).
    """
    status = sales_order.get("Status")
    action = order_map.payment_action(order, tmpl)
    if action in ("cancel", "refund"):
        if status == "Canceled":
            return [], True, ""
        if status in OPEN_STATUSES:
            return [FieldChange("Status", status, "Canceled")], True, ""
        if action == "refund":  # shipped before the refund: kept, a return is Acumatica's
            return [], True, ""
        return (
            [FieldChange("Status", status, "Canceled")],
            False,
            f"sales order is {status}: cancel or return it in Acumatica",
        )
    wanted = order_map.to_sales_order(order, tmpl, customer_id=str(sales_order.get("CustomerID")))
    changes = field_changes(sales_order, wanted)
    if changes and status not in EDITABLE_STATUSES:
        return (
            changes,
            False,
            f"sales order is {status}: its lines and addresses can no longer be changed in "
            "Acumatica; fix by hand",
        )
    return changes, True, ""


def safe_compare(
    order: Mapping[str, Any], sales_order: Mapping[str, Any], tmpl: Mapping[str, Any]
) -> tuple[list[FieldChange], bool, str]:
    """:func:`compare`, with a mapping error as the reason (nothing a resync can fix)."""
    try:
        return compare(order, sales_order, tmpl)
    except PermanentError as exc:
        return [], False, str(exc)
