"""The shopper simulator: places an order the way X-Cart's checkout would.

Everything happens in one store transaction, so concurrent checkouts never sell stock that is
not there and a refused checkout leaves no trace.
"""

from __future__ import annotations

import re
import uuid
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sandboxes.xcart import orders, profiles
from sandboxes.xcart.context import Sandbox
from sandboxes.xcart.http import ApiError
from sandboxes.xcart.reference import (
    COUPONS,
    SHIPPING_METHODS,
    STATES,
    SUPPORTED_CURRENCIES,
    TAX_RATES,
    PaymentMethod,
    find_payment_method,
)
from sandboxes.xcart.serializers import profile_json

CENT = Decimal("0.01")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SHIPPING_CLASS = "XLite\\Logic\\Order\\Modifier\\Shipping"
TAX_CLASS = "CDev\\SalesTax\\Logic\\Order\\Modifier\\Tax"
DISCOUNT_CLASS = "CDev\\Coupons\\Logic\\Order\\Modifier\\Discount"


class CheckoutError(ApiError):
    """A refused checkout: 400 naming the offending ``field``."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(400, f"{field}: {message}")
        self.field = field
        self.message = message


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _address(body: dict[str, Any], field: str) -> dict[str, Any]:
    raw = body.get(field)
    if not isinstance(raw, dict):
        raise CheckoutError(field, "must be an object with the address fields")
    try:
        return profiles.build_address({}, profiles.resolve_state_code(raw, field=field))
    except CheckoutError:
        raise
    except ApiError as exc:
        raise CheckoutError(field, exc.detail) from exc


def _lines(sb: Sandbox, raw_items: Any) -> list[dict[str, Any]]:
    if not isinstance(raw_items, list) or not raw_items:
        raise CheckoutError("items", "must be a non-empty list of {sku, amount}")
    merged: dict[str, dict[str, Any]] = {}
    for index, raw in enumerate(raw_items):
        where = f"items[{index}]"
        if not isinstance(raw, dict) or not isinstance(raw.get("sku"), str):
            raise CheckoutError(f"{where}.sku", "is required")
        amount = raw.get("amount", 1)
        if isinstance(amount, bool) or not isinstance(amount, int) or amount < 1:
            raise CheckoutError(f"{where}.amount", "must be a whole number >= 1")
        sku = raw["sku"]
        if sku in merged:
            merged[sku]["amount"] += amount
            continue
        line = {"sku": sku, "amount": amount, "field": where, "variant": None}
        products = sb.store.query("SELECT * FROM products WHERE sku = ?", (sku,))
        if products:
            line["product"] = products[0]
        else:
            variants = sb.store.query("SELECT * FROM variants WHERE sku = ?", (sku,))
            if not variants:
                raise CheckoutError(f"{where}.sku", f"unknown SKU '{sku}'")
            line["variant"] = variants[0]
            line["product"] = sb.store.get_doc("products", variants[0]["product_id"])
        if not line["product"].get("enabled", True):
            raise CheckoutError(f"{where}.sku", f"product '{sku}' is not available")
        merged[sku] = line
    return list(merged.values())


def _stock_holder(line: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    variant = line["variant"]
    if variant is not None and not variant.get("default_amount", True):
        return "variants", variant
    product = line["product"]
    if product.get("inventory_traceable", True):
        return "products", product
    return None


def _unit_price(line: dict[str, Any]) -> Decimal:
    variant = line["variant"]
    if variant is not None and not variant.get("default_price", True):
        return money(Decimal(str(variant["price"])))
    return money(Decimal(str(line["product"]["price"])))


def _surcharge(
    sb: Sandbox, kind: str, code: str, cls: str, name: str, value: Decimal, weight: int
) -> dict[str, Any]:
    return {
        "id": sb.store.next_value("surcharge"),
        "type": kind,
        "code": code,
        "class": cls,
        "include": False,
        "available": True,
        "value": float(value),
        "name": name,
        "weight": weight,
    }


def _payment(body: dict[str, Any]) -> tuple[PaymentMethod, str]:
    name = body.get("payment_method")
    if not isinstance(name, str):
        raise CheckoutError("payment_method", "is required")
    method = find_payment_method(name)
    if method is None:
        raise CheckoutError("payment_method", f"unknown payment method '{name}'")
    action = body.get("payment_action", "sale")
    if action not in ("sale", "auth"):
        raise CheckoutError("payment_action", "must be 'sale' or 'auth'")
    if action == "auth" and method.offline:
        raise CheckoutError("payment_action", f"'{method.local_name}' cannot authorize")
    return method, action


def _validate(body: dict[str, Any]) -> dict[str, Any]:
    email = body.get("email")
    if not isinstance(email, str) or not _EMAIL.match(email):
        raise CheckoutError("email", "must be an e-mail address")
    currency = body.get("currency", "USD")
    if currency not in SUPPORTED_CURRENCIES:
        raise CheckoutError("currency", f"unsupported currency '{currency}'")
    shipping_cost = body.get("shipping_cost", 0)
    if (
        isinstance(shipping_cost, bool)
        or not isinstance(shipping_cost, int | float)
        or (shipping_cost < 0)
    ):
        raise CheckoutError("shipping_cost", "must be a number >= 0")
    method_name = body.get("shipping_method", "Courier")
    if method_name not in SHIPPING_METHODS:
        raise CheckoutError("shipping_method", f"unknown shipping method '{method_name}'")
    coupon = body.get("coupon")
    if coupon is not None and coupon not in COUPONS:
        raise CheckoutError("coupon", f"unknown coupon '{coupon}'")
    for key in ("notes",):
        if key in body and not isinstance(body[key], str):
            raise CheckoutError(key, "must be a string")
    selected = body.get("selected_currency")
    if selected is not None:
        # The Multi-currency add-on: the shopper saw prices in another currency, converted from
        # the order's at the store's rate (amount shown = order amount x rate).
        rate = selected.get("rate") if isinstance(selected, dict) else None
        code = selected.get("code") if isinstance(selected, dict) else None
        if (
            not isinstance(code, str)
            or code not in SUPPORTED_CURRENCIES
            or isinstance(rate, bool)
            or not isinstance(rate, int | float)
            or rate <= 0
        ):
            raise CheckoutError(
                "selected_currency", "must be {code: a store currency, rate: a number > 0}"
            )
    return {
        "selected_currency": selected,
        "email": email,
        "currency": currency,
        "shipping_cost": shipping_cost,
        "shipping_method": method_name,
        "coupon": coupon,
        "notes": body.get("notes", ""),
        "guest": bool(body.get("guest", False)),
    }


def _customer(sb: Sandbox, email: str, guest: bool, addresses: list[dict[str, Any]]) -> int | None:
    if guest and not sb.settings.switches.guest_customer_profile:
        return None
    existing = profiles.find_by_login(sb, email)
    if existing is not None:
        return int(existing["id"])
    now = sb.now()
    row: dict[str, Any] = {
        "login": email,
        "access_level": 0,
        "status": "E",
        "language": "en",
        "role_ids": [],
        "added": now,
        "first_login": 0 if guest else now,
        "anonymous": guest,
    }
    profile_id = sb.store.insert(
        "profiles", row, login=email, added=now, first_login=row["first_login"], snapshot=0
    )
    row["id"] = profile_id
    for address in addresses:
        profiles.add_address(sb, profile_id, address)
    sb.emit("profile.created", profile_json(row))
    return profile_id


def place_order(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    """Create the order, its snapshot profile, transaction and history; answer it rendered."""
    if not isinstance(body, dict):
        raise CheckoutError("body", "must be a JSON object")
    opts = _validate(body)
    method, action = _payment(body)
    billing = _address(body, "billing_address")
    shipping = _address(body, "shipping_address") if body.get("shipping_address") else billing
    same = {k: v for k, v in billing.items() if not k.startswith("is_")} == {
        k: v for k, v in shipping.items() if not k.startswith("is_")
    }
    with sb.store.tx():
        lines = _lines(sb, body.get("items"))
        for line in lines:
            holder = _stock_holder(line)
            if holder and int(holder[1].get("amount", 0)) < line["amount"]:
                raise CheckoutError(
                    f"{line['field']}.amount", f"not enough stock for SKU '{line['sku']}'"
                )
        now = sb.now()
        subtotal = Decimal(0)
        for line in lines:
            line["price"] = _unit_price(line)
            line["subtotal"] = money(line["price"] * line["amount"])
            subtotal += line["subtotal"]
        discount = Decimal(0)
        coupon = COUPONS.get(opts["coupon"] or "")
        if coupon is not None:
            raw = subtotal * coupon.percent / 100 if coupon.percent else coupon.absolute or 0
            discount = -min(money(Decimal(raw)), subtotal)
        shipping_cost = money(Decimal(str(opts["shipping_cost"])))
        state = STATES.get(shipping.get("state") or 0)
        rate = TAX_RATES.get((state.country_code, state.code), Decimal(0)) if state else Decimal(0)
        tax = money((subtotal + discount) * rate)
        total = subtotal + discount + shipping_cost + tax
        surcharges = [
            _surcharge(
                sb, "shipping", "SHIPPING", SHIPPING_CLASS, "Shipping cost", shipping_cost, 100
            )
        ]
        if tax:
            surcharges.append(
                _surcharge(
                    sb,
                    "tax",
                    f"CDEV.STAX.{state.id if state else 0}",
                    TAX_CLASS,
                    "Sales tax",
                    tax,
                    200,
                )
            )
        if discount:
            surcharges.append(
                _surcharge(
                    sb, "discount", "DCOUPON", DISCOUNT_CLASS, "Coupon discount", discount, 300
                )
            )
        items = []
        remaining = discount
        for index, line in enumerate(lines):
            share = (
                remaining
                if index == len(lines) - 1
                else (money(discount * line["subtotal"] / subtotal) if subtotal else Decimal(0))
            )
            remaining -= share
            holder = _stock_holder(line)
            if holder:
                table, record = holder
                record["amount"] = int(record["amount"]) - line["amount"]
                sb.store.put_doc(table, record["id"], record)
            items.append(
                {
                    "id": sb.store.next_value("order_item"),
                    "product_id": line["product"]["id"],
                    "sku": line["sku"],
                    "name": line["product"]["name"],
                    "price": float(line["price"]),
                    "item_net_price": float(line["price"]),
                    "discounted_subtotal": float(line["subtotal"] + share),
                    "amount": line["amount"],
                    "backordered_amount": 0,
                    "update": now,
                    "surcharges": [],
                    "variant": line["variant"]["id"] if line["variant"] else None,
                }
            )
        customer_id = _customer(
            sb,
            opts["email"],
            opts["guest"],
            [{**billing, "is_billing": True, "is_shipping": same}]
            + ([] if same else [{**shipping, "is_shipping": True}]),
        )
        snapshot_id = sb.store.insert(
            "profiles",
            {"login": opts["email"], "added": now},
            login=opts["email"],
            added=now,
            snapshot=1,
        )
        if same:
            billing_out = profiles.add_address(
                sb, snapshot_id, {**billing, "is_billing": True, "is_shipping": True}, snapshot=True
            )
            shipping_out = billing_out
        else:
            billing_out = profiles.add_address(
                sb,
                snapshot_id,
                {**billing, "is_billing": True, "is_shipping": False},
                snapshot=True,
            )
            shipping_out = profiles.add_address(
                sb,
                snapshot_id,
                {**shipping, "is_billing": False, "is_shipping": True},
                snapshot=True,
            )
        order_number = str(sb.store.next_value("order_number", start=1001))
        pay = "Q" if method.offline else ("A" if action == "auth" else "P")
        doc = {
            "order_number": order_number,
            "total": float(total),
            "sub_total": float(subtotal),
            "currency": opts["currency"],
            "email": opts["email"],
            "customer_id": customer_id,
            "order_profile_id": snapshot_id,
            "billing_address": billing_out,
            "shipping_address": shipping_out,
            "shipping_id": SHIPPING_METHODS[opts["shipping_method"]],
            "shipping_method_name": opts["shipping_method"],
            "notes": opts["notes"],
            "admin_notes": "",
            "stock_status": "",
            "items": items,
            "surcharges": surcharges,
            "coupon": opts["coupon"],
            "payment_method": method.local_name,
            "stock_returned": False,
        }
        if opts["selected_currency"] is not None:
            doc["selected_multi_currency"] = opts["selected_currency"]["code"]
            doc["selected_multi_currency_rate"] = float(opts["selected_currency"]["rate"])
        order_id = sb.store.insert(
            "orders",
            doc,
            order_number=order_number,
            date=now,
            renew=now,
            pay=pay,
            ship="N",
            login=opts["email"],
        )
        sb.store.insert(
            "transactions",
            _transaction(method, action, total, opts["currency"], now),
            order_id=order_id,
        )
        orders.add_history(sb, order_id, "PLACE ORDER", "Order placed")
    rendered = orders.render_one(sb, order_id)
    sb.emit("order.created", rendered)
    return rendered


def _transaction(
    method: PaymentMethod, action: str, total: Decimal, currency: str, now: int
) -> dict[str, Any]:
    online = not method.offline
    data = []
    if method.local_name == "Credit Card":
        data = [
            {
                "id": 1,
                "name": "cardType",
                "label": "Card type",
                "value": "VISA",
                "access_level": "A",
            },
            {
                "id": 2,
                "name": "authCode",
                "label": "Auth code",
                "value": uuid.uuid4().hex[:6].upper(),
                "access_level": "A",
            },
        ]
    return {
        "public_id": uuid.uuid4().hex[:8].upper(),
        "public_txn_id": uuid.uuid4().hex[:12].upper() if online else None,
        "method_id": method.id,
        "name": method.service_name,
        "local_name": method.local_name,
        "type": action,
        "status": "S" if online else "W",
        "created": now,
        "currency": currency,
        "value": float(total),
        "note": "",
        "data": data,
        "backend_transactions": [],
    }
