"""Output shapes of the emulated API (reference §2.5-§2.9), built from stored documents."""

from __future__ import annotations

from typing import Any

from sandboxes.xcart.dates import order_date, product_date, profile_date
from sandboxes.xcart.reference import (
    MEMBERSHIPS,
    PAYMENT_STATUSES,
    PRODUCT_CLASSES,
    SHIPPING_STATUSES,
    TAX_CLASSES,
)
from sandboxes.xcart.settings import Switches

ORDER_KEYS = (
    "id",
    "order_number",
    "total",
    "sub_total",
    "currency",
    "email",
    "create_date",
    "update_date",
    "payment_status",
    "shipping_status",
    "customer_id",
    "order_profile_id",
    "billing_address",
    "shipping_address",
    "shipping_id",
    "shipping_method_name",
    "notes",
    "admin_notes",
    "stock_status",
    "items",
    "surcharges",
    "tracking_numbers",
)
ADDRESS_KEYS = (
    "id",
    "is_billing",
    "is_shipping",
    "is_work",
    "type",
    "title",
    "firstname",
    "lastname",
    "phone",
    "street",
    "zipcode",
    "city",
    "country_code",
    "state",
    "state_name",
    "custom_fields",
)


def status_json(table: dict[str, Any], code: str | None) -> dict[str, Any] | None:
    status = table.get(code or "")
    return status.to_json() if status else None


def tracking_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "date": order_date(row["created"]), "value": row["value"]}


def address_json(doc: dict[str, Any]) -> dict[str, Any]:
    return {key: doc.get(key) for key in ADDRESS_KEYS}


def item_json(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": item["id"],
        "product_id": item["product_id"],
        "sku": item["sku"],
        "update_date": order_date(item["update"]),
        "name": item["name"],
        "price": item["price"],
        "item_net_price": item["item_net_price"],
        "discounted_subtotal": item["discounted_subtotal"],
        "amount": item["amount"],
        "backordered_amount": item.get("backordered_amount", 0),
        "surcharges": item.get("surcharges", []),
        "variant": item.get("variant"),
    }


def order_json(
    row: dict[str, Any], tracking: list[dict[str, Any]], switches: Switches
) -> dict[str, Any]:
    billing = row.get("billing_address")
    shipping = row.get("shipping_address")
    data: dict[str, Any] = {
        "id": row["id"],
        "order_number": row["order_number"],
        "total": row["total"],
        "sub_total": row["sub_total"],
        "currency": row["currency"],
        "email": row["email"],
        "create_date": order_date(row["date"]),
        "update_date": order_date(row["renew"]),
        "payment_status": status_json(PAYMENT_STATUSES, row["pay"]),
        "shipping_status": status_json(SHIPPING_STATUSES, row["ship"]),
        "customer_id": row.get("customer_id"),
        "order_profile_id": row.get("order_profile_id"),
        "billing_address": address_json(billing) if billing else None,
        "shipping_address": address_json(shipping) if shipping else None,
        "shipping_id": row.get("shipping_id"),
        "shipping_method_name": row.get("shipping_method_name"),
        "notes": row.get("notes", ""),
        "admin_notes": row.get("admin_notes", ""),
        "stock_status": row.get("stock_status", ""),
        "items": [item_json(item) for item in row.get("items", [])],
        "surcharges": row.get("surcharges", []),
        "tracking_numbers": [tracking_json(t) for t in tracking],
    }
    if switches.addon_keys:
        data.update(addon_keys(row))
    if row.get("selected_multi_currency"):  # the Multi-currency add-on's fields
        data["selected_multi_currency"] = row["selected_multi_currency"]
        data["selected_multi_currency_rate"] = row["selected_multi_currency_rate"]
    return data


def addon_keys(row: dict[str, Any]) -> dict[str, Any]:
    """Flat keys that X-Cart add-ons add to orders; clients must ignore them."""
    coupon = row.get("coupon")
    discount = sum(s["value"] for s in row.get("surcharges", []) if s["type"] == "discount")
    return {
        "used_coupons": (
            [{"id": row["id"], "code": coupon, "value": -discount, "type": "$", "coupon_id": 1}]
            if coupon
            else []
        ),
        "gross_profit": round(row["sub_total"] * 0.3, 2),
        "mobile_order": False,
        "survey": None,
        "selected_multi_currency": None,
        "selected_multi_currency_rate": 1,
        "mailchimp_store_id": "",
        "usps_shipments": [],
        "recovered": False,
        "lost": False,
        "cart_reminders_sent": 0,
    }


def transaction_json(row: dict[str, Any], switches: Switches) -> dict[str, Any]:
    return {
        "id": row["id"],
        "public_id": row.get("public_id"),
        "public_txn_id": row.get("public_txn_id"),
        "method_id": row.get("method_id"),
        "name": row["name"],
        "local_name": row["local_name"],
        "type": row["type"],
        # X-Cart 5.5.1 fills `status` with the method name instead of the status letter.
        "status": row["name"] if switches.transaction_status_quirk else row["status"],
        "date": order_date(row["created"]),
        "currency": row["currency"],
        "value": row["value"],
        "note": row.get("note", ""),
        "data": row.get("data", []),
        "backend_transactions": [
            {**b, "date": order_date(b["date"])} for b in row.get("backend_transactions", [])
        ],
    }


def history_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "date": order_date(row["created"]),
        "code": row["code"],
        "description": row["description"],
        "comment": row.get("comment", ""),
    }


def _named(table: dict[int, str], key: int | None) -> dict[str, Any] | None:
    return {"id": key, "name": table[key]} if key in table else None


def product_json(row: dict[str, Any], switches: Switches) -> dict[str, Any]:
    tz = switches.store_timezone
    return {
        "id": row["id"],
        "sku": row["sku"],
        "name": row["name"],
        "description": row.get("description", ""),
        "brief_description": row.get("brief_description", ""),
        "meta_tags": row.get("meta_tags", ""),
        "meta_description": row.get("meta_description", ""),
        "meta_title": row.get("meta_title", ""),
        "price": row["price"],
        "enabled": row.get("enabled", True),
        "weight": row.get("weight", 0.0),
        "separate_box": row.get("separate_box", False),
        "width": row.get("width", 0.0),
        "length": row.get("length", 0.0),
        "height": row.get("height", 0.0),
        "free_shipping": row.get("free_shipping", False),
        "taxable": row.get("taxable", True),
        "create_date": product_date(row["created"], tz),
        "update_date": product_date(row["updated"], tz),
        "arrival_date": product_date(row["arrival"], tz),
        "inventory_traceable": row.get("inventory_traceable", True),
        "amount": row.get("amount", 0),
        "product_class": _named(PRODUCT_CLASSES, row.get("product_class_id")),
        "tax_class": _named(TAX_CLASSES, row.get("tax_class_id")),
        "memberships": [
            {"id": m, "name": MEMBERSHIPS[m], "enabled": True}
            for m in row.get("membership_ids", [])
            if m in MEMBERSHIPS
        ],
        "clean_url": row.get("clean_url", ""),
        "images": row.get("images", []),
    }


def variant_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "sku": row.get("sku"),
        "price": row.get("price", 0.0),
        "default_price": row.get("default_price", True),
        "amount": row.get("amount", 0),
        "default_amount": row.get("default_amount", True),
        "weight": row.get("weight", 0.0),
        "default_weight": row.get("default_weight", True),
        "default_variant": row.get("default_variant", False),
        "image": row.get("image"),
        "attribute_checkbox_values": row.get("attribute_checkbox_values", []),
        "attribute_select_values": row.get("attribute_select_values", []),
    }


def profile_json(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "login": row["login"],
        "access_level": row.get("access_level", 0),
        "create_date": profile_date(row["added"]),
        "first_login_date": profile_date(row.get("first_login")),
        "last_login_date": profile_date(row.get("last_login")),
        "status": row.get("status", "E"),
        "status_comment": row.get("status_comment", ""),
        "referer": row.get("referer", ""),
        "language": row.get("language", "en"),
        "membership_id": row.get("membership_id"),
        "pending_membership_id": row.get("pending_membership_id"),
        "force_change_password": row.get("force_change_password", False),
        "role_ids": row.get("role_ids", []),
    }
