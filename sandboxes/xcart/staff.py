"""What store staff do in the X-Cart admin, simulated: cancel, refund, edit an order.

X-Cart 5.5's REST API has no endpoint for these (orders are read-only); the sandbox offers them
under ``/_sandbox/orders/{id}/...`` as the admin's buttons. Each writes the order row, so
``update_date`` moves, and records a history event.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sandboxes.xcart import orders, profiles
from sandboxes.xcart.checkout import CheckoutError, money
from sandboxes.xcart.context import Sandbox
from sandboxes.xcart.http import ApiError
from sandboxes.xcart.serializers import address_json


def _order(sb: Sandbox, order_id: int) -> dict[str, Any]:
    row = orders.get_order(sb, order_id)
    if row is None:
        raise ApiError(404, f"Order with ID {order_id} not found")
    return row


def cancel(sb: Sandbox, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """Payment status ``C`` and stock back on the shelf (``incStock``)."""
    with sb.store.tx():
        row = _order(sb, order_id)
        old = row["pay"]
        row["pay"] = "C"
        orders.return_stock(sb, row)
        orders.save(sb, row)
        orders.add_history(
            sb,
            order_id,
            "CHANGE PAYMENT STATUS ORDER",
            f"Order payment status changed from {old} to C (cancelled by staff)",
            str(body.get("comment", "")),
        )
    rendered = orders.render_one(sb, order_id)
    sb.emit("order.status_changed", {"order": rendered, "kind": "payment", "from": old, "to": "C"})
    sb.emit("order.updated", rendered)
    return rendered


REFUNDABLE_TYPES = ("sale", "capture", "capturePart", "captureMulti")
REFUND_TYPES = ("refund", "refundPart", "refundMulti")


def refunded_so_far(txn: dict[str, Any]) -> Decimal:
    return sum(
        (
            Decimal(str(b["value"]))
            for b in txn.get("backend_transactions", [])
            if b.get("type") in REFUND_TYPES and b.get("status") == "S"
        ),
        Decimal(0),
    )


def refund(sb: Sandbox, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """The admin's Refund button on the order's payment transaction (X-Cart has no API for it):
    a ``refund`` backend transaction for the whole captured amount, or ``refundPart`` for part
    of what is left. The order's payment status becomes ``R`` once everything paid is refunded
    (stock back on the shelf, ``incStock``), else ``PP``; a cancelled order stays ``C`` until it
    is refunded in full. Only a captured transaction (``sale``/``capture``, status ``S``) can be
    refunded: an authorisation is voided instead."""
    with sb.store.tx():
        row = _order(sb, order_id)
        txns = sb.store.query(
            "SELECT * FROM transactions WHERE order_id = ? ORDER BY id", (order_id,)
        )
        captured = [t for t in txns if t.get("type") in REFUNDABLE_TYPES and t.get("status") == "S"]
        if not captured:
            raise CheckoutError("transaction", "the order has no captured payment to refund")
        txn = captured[0]
        paid = Decimal(str(txn["value"]))
        left = money(paid - refunded_so_far(txn))
        amount_raw = body.get("amount", float(left))
        if (
            isinstance(amount_raw, bool)
            or not isinstance(amount_raw, int | float)
            or not (0 < Decimal(str(amount_raw)) <= left)
        ):
            raise CheckoutError("amount", f"must be a number > 0 and <= {left}")
        amount = money(Decimal(str(amount_raw)))
        whole = amount == paid
        txn.setdefault("backend_transactions", []).append(
            {
                "id": sb.store.next_value("backend_transaction"),
                "type": "refund" if whole else "refundPart",
                "date": sb.now(),
                "status": "S",
                "value": float(amount),
                "data": [
                    {
                        "id": 1,
                        "name": "refundId",
                        "label": "Refund id",
                        "value": uuid.uuid4().hex[:10].upper(),
                        "access_level": "A",
                    }
                ],
            }
        )
        sb.store.put_doc("transactions", txn["id"], txn)
        old = row["pay"]
        everything = refunded_so_far(txn) >= paid
        if everything:
            row["pay"] = "R"
        elif old != "C":
            row["pay"] = "PP"
        if row["pay"] == "R":
            orders.return_stock(sb, row)
        orders.save(sb, row)
        orders.add_history(
            sb,
            order_id,
            "CHANGE PAYMENT STATUS ORDER",
            f"Refund of {amount} {row['currency']}; payment status {old} to {row['pay']}",
            str(body.get("comment", "")),
        )
    rendered = orders.render_one(sb, order_id)
    if old != row["pay"]:
        sb.emit(
            "order.status_changed",
            {"order": rendered, "kind": "payment", "from": old, "to": row["pay"]},
        )
    sb.emit("order.updated", rendered)
    return rendered


def edit(sb: Sandbox, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """A staff edit: ``notes``, ``admin_notes``, a partial ``shipping_address`` or
    ``billing_address`` (``state_code`` accepted), and ``items`` amounts by SKU (0 removes).
    Totals are recomputed from the stored unit prices; the tax and discount stay as placed."""
    with sb.store.tx():
        row = _order(sb, order_id)
        for key in ("notes", "admin_notes"):
            if key in body:
                if not isinstance(body[key], str):
                    raise CheckoutError(key, "must be a string")
                row[key] = body[key]
        for key in ("billing_address", "shipping_address"):
            if key in body:
                _edit_address(sb, row, key, body[key])
        if "items" in body:
            _edit_items(sb, row, body["items"])
        orders.save(sb, row)
        orders.add_history(
            sb, order_id, "ORDER EDITED", "Order edited by staff", str(body.get("comment", ""))
        )
    rendered = orders.render_one(sb, order_id)
    sb.emit("order.updated", rendered)
    return rendered


def _edit_address(sb: Sandbox, row: dict[str, Any], key: str, changes: Any) -> None:
    if not isinstance(changes, dict):
        raise CheckoutError(key, "must be an object")
    current = row[key]
    try:
        merged = profiles.build_address(current, profiles.resolve_state_code(changes, key))
    except CheckoutError:
        raise
    except ApiError as exc:
        raise CheckoutError(key, exc.detail) from exc
    merged["id"] = current["id"]
    sb.store.put_doc("addresses", current["id"], merged)
    for other in ("billing_address", "shipping_address"):
        if row[other] and row[other]["id"] == current["id"]:
            row[other] = address_json(merged)


def _edit_items(sb: Sandbox, row: dict[str, Any], changes: Any) -> None:
    if not isinstance(changes, list):
        raise CheckoutError("items", "must be a list of {sku, amount}")
    by_sku = {item["sku"]: item for item in row["items"]}
    for index, change in enumerate(changes):
        sku = change.get("sku") if isinstance(change, dict) else None
        if sku not in by_sku:
            raise CheckoutError(f"items[{index}].sku", f"no line with SKU '{sku}' in the order")
        amount = change.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 0:
            raise CheckoutError(f"items[{index}].amount", "must be a whole number >= 0")
        item = by_sku[sku]
        orders.adjust_stock(sb, item, item["amount"] - amount)
        item["amount"] = amount
        item["update"] = sb.now()
        item["discounted_subtotal"] = float(money(Decimal(str(item["price"])) * amount))
    row["items"] = [item for item in row["items"] if item["amount"] > 0]
    subtotal = sum(
        (money(Decimal(str(i["price"])) * i["amount"]) for i in row["items"]), Decimal(0)
    )
    extras = sum((Decimal(str(s["value"])) for s in row["surcharges"]), Decimal(0))
    row["sub_total"] = float(subtotal)
    row["total"] = float(subtotal + extras)
