"""What store staff do in the X-Cart admin, simulated: cancel, refund, edit an order.

Each writes the order row, so ``update_date`` moves, and records a history event.
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


def refund(sb: Sandbox, order_id: int, body: dict[str, Any]) -> dict[str, Any]:
    """A refund backend transaction; full refunds set ``R`` (stock back), partial ones ``PP``."""
    with sb.store.tx():
        row = _order(sb, order_id)
        total = Decimal(str(row["total"]))
        amount_raw = body.get("amount", row["total"])
        if (
            isinstance(amount_raw, bool)
            or not isinstance(amount_raw, int | float)
            or not (0 < amount_raw <= row["total"])
        ):
            raise CheckoutError("amount", f"must be a number > 0 and <= {row['total']}")
        amount = money(Decimal(str(amount_raw)))
        txns = sb.store.query(
            "SELECT * FROM transactions WHERE order_id = ? ORDER BY id", (order_id,)
        )
        if txns:
            txn = txns[0]
            txn.setdefault("backend_transactions", []).append(
                {
                    "id": sb.store.next_value("backend_transaction"),
                    "type": "refund" if amount == total else "refundPart",
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
        row["pay"] = "R" if amount == total else "PP"
        if row["pay"] == "R":
            orders.return_stock(sb, row)
        orders.save(sb, row)
        orders.add_history(
            sb,
            order_id,
            "CHANGE PAYMENT STATUS ORDER",
            f"Refund of {amount} {row['currency']}; payment status {old} to {row['pay']}",
        )
    rendered = orders.render_one(sb, order_id)
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
