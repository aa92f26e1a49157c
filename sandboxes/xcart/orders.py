"""Order records: listing with X-Cart's filters, rendering, statuses, history, tracking, stock."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from werkzeug.datastructures import MultiDict

from sandboxes.xcart.context import Sandbox
from sandboxes.xcart.dates import parse_filter_date
from sandboxes.xcart.http import ApiError, bad_request
from sandboxes.xcart.reference import (
    PAYMENT_STATUSES,
    SHIPPING_STATUSES,
    STOCK_RETURNING_PAYMENT,
    Status,
)
from sandboxes.xcart.serializers import order_json

DATE_OPERATORS = {"after": ">=", "before": "<=", "strictly_after": ">", "strictly_before": "<"}
_DATE_PARAM = re.compile(r"^(date|lastRenewDate)\[(after|before|strictly_after|strictly_before)\]$")
_SORT_PARAM = re.compile(r"^order\[(date|lastRenewDate)\]$")
_SORT_COLUMNS = {"date": "date", "lastRenewDate": "renew"}


def get_order(sb: Sandbox, order_id: int) -> dict[str, Any] | None:
    return sb.store.get_doc("orders", order_id)


def render(sb: Sandbox, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Orders as the API returns them (one query fetches all their tracking numbers)."""
    if not rows:
        return []
    ids = [row["id"] for row in rows]
    marks = ",".join("?" * len(ids))
    tracking: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for t in sb.store.query(f"SELECT * FROM tracking WHERE order_id IN ({marks}) ORDER BY id", ids):
        tracking[t["order_id"]].append(t)
    switches = sb.settings.switches
    return [order_json(row, tracking[row["id"]], switches) for row in rows]


def render_one(sb: Sandbox, order_id: int) -> dict[str, Any]:
    row = get_order(sb, order_id)
    if row is None:
        raise ApiError(404, "Not Found")
    return render(sb, [row])[0]


def _codes(args: MultiDict[str, str], name: str) -> list[str]:
    values: list[str] = []
    for key in args:
        if key == name or key.startswith(f"{name}["):
            values.extend(args.getlist(key))
    return values


def list_orders(
    sb: Sandbox, args: MultiDict[str, str], page: int, size: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of placed orders and the total, with the filters and sorts of ``/api/orders``."""
    where: list[str] = []
    params: list[Any] = []
    for key in args:
        match = _DATE_PARAM.match(key)
        if not match:
            continue
        field, operator = match.groups()
        if field == "lastRenewDate" and not sb.settings.switches.last_renew_filter:
            continue
        value = parse_filter_date(args.get(key, ""))
        if value is None:
            continue  # X-Cart logs a notice and ignores an unparsable date
        column = "date" if field == "date" else "renew"
        where.append(f"{column} {DATE_OPERATORS[operator]} ?")
        params.append(value)
    for name, column in (("paymentStatus.code", "pay"), ("shippingStatus.code", "ship")):
        codes = _codes(args, name)
        if codes:
            where.append(f"{column} IN ({','.join('?' * len(codes))})")
            params.extend(codes)
    login = args.get("profile.login")
    if login:
        escaped = login.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append("login LIKE ? ESCAPE '\\'")
        params.append(f"%{escaped}%")
    order_by: list[str] = []
    for key in args:
        match = _SORT_PARAM.match(key)
        direction = args.get(key, "").lower()
        if match and direction in ("asc", "desc"):
            order_by.append(f"{_SORT_COLUMNS[match.group(1)]} {direction.upper()}")
    order_by.append("id ASC")
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    total = int(sb.store.scalar(f"SELECT COUNT(*) FROM orders {clause}", params))
    rows = sb.store.query(
        f"SELECT * FROM orders {clause} ORDER BY {', '.join(order_by)} LIMIT ? OFFSET ?",
        [*params, size, (page - 1) * size],
    )
    return rows, total


def add_history(sb: Sandbox, order_id: int, code: str, description: str, comment: str = "") -> None:
    sb.store.insert(
        "history",
        {"created": sb.now(), "code": code, "description": description, "comment": comment},
        order_id=order_id,
    )


def save(sb: Sandbox, row: Mapping[str, Any], *, touch: bool = True) -> None:
    """Write the order row back; ``touch`` moves ``update_date`` as Doctrine's PreUpdate does."""
    doc = {k: v for k, v in row.items() if k not in ("id", "date", "renew", "pay", "ship")}
    renew = sb.now() if touch else row["renew"]
    sb.store.put_doc("orders", row["id"], doc, renew=renew, pay=row["pay"], ship=row["ship"])


def adjust_stock(sb: Sandbox, item: Mapping[str, Any], delta: int) -> None:
    """Add ``delta`` to the stock the item was taken from (its variant or its product)."""
    variant_id = item.get("variant")
    if variant_id:
        variant = sb.store.get_doc("variants", variant_id)
        if variant is not None and not variant.get("default_amount", True):
            variant["amount"] = int(variant.get("amount", 0)) + delta
            sb.store.put_doc("variants", variant_id, variant)
            return
    product = sb.store.get_doc("products", item["product_id"])
    if product is not None and product.get("inventory_traceable", True):
        product["amount"] = int(product.get("amount", 0)) + delta
        sb.store.put_doc("products", product["id"], product)


def return_stock(sb: Sandbox, row: dict[str, Any]) -> None:
    if row.get("stock_returned") or not sb.settings.switches.return_stock_on_cancel:
        return
    for item in row.get("items", []):
        adjust_stock(sb, item, int(item["amount"]))
    row["stock_returned"] = True


STATUS_KINDS: dict[str, tuple[dict[str, Status], str, str, str]] = {
    # kind: (table, column, history code, wording of the bad-code error)
    "shipping": (SHIPPING_STATUSES, "ship", "CHANGE SHIPPING STATUS ORDER", "wrong"),
    "payment": (PAYMENT_STATUSES, "pay", "CHANGE PAYMENT STATUS ORDER", "invalid"),
}


def status_of(sb: Sandbox, order_id: int, kind: str) -> Status:
    table, column, _, _ = STATUS_KINDS[kind]
    row = get_order(sb, order_id)
    if row is None:
        raise bad_request(f"Order with ID {order_id} not found")
    return table[row[column]]


def set_status(sb: Sandbox, order_id: int, kind: str, code: Any, comment: str = "") -> Status:
    """Change the payment or shipping status as ``PUT /api/orders/{id}/<kind>_status`` does."""
    table, column, history_code, wording = STATUS_KINDS[kind]
    with sb.store.tx():
        row = get_order(sb, order_id)
        if row is None:
            raise bad_request(f"Order with ID {order_id} not found")
        if not isinstance(code, str) or code not in table:
            shown = code if isinstance(code, str) else ("" if code is None else code)
            raise bad_request(f"Status code '{shown}' is {wording}")
        old = table[row[column]]
        new = table[code]
        if old.code == new.code:
            return new
        row[column] = new.code
        if kind == "payment" and new.code in STOCK_RETURNING_PAYMENT:
            return_stock(sb, row)
        save(sb, row)
        add_history(
            sb,
            order_id,
            history_code,
            f"Order {kind} status changed from {old.name} to {new.name}",
            comment,
        )
    rendered = render_one(sb, order_id)
    sb.emit(
        "order.status_changed", {"order": rendered, "kind": kind, "from": old.code, "to": new.code}
    )
    sb.emit("order.updated", rendered)
    return new


def add_tracking(sb: Sandbox, order_id: int, value: Any) -> dict[str, Any]:
    if not isinstance(value, str) or not value.strip():
        raise bad_request('Field "value" is required')
    with sb.store.tx():
        row = get_order(sb, order_id)
        if row is None:
            raise ApiError(404, "Not Found")
        created = sb.now()
        tracking_id = sb.store.insert(
            "tracking", {"created": created, "value": value.strip()}, order_id=order_id
        )
        if sb.settings.switches.bump_update_date_on_tracking:
            save(sb, row)
    sb.emit("order.updated", render_one(sb, order_id))
    return {"id": tracking_id, "created": created, "value": value.strip()}
