"""Products and variants: partial PUT merges, validation and the stock they hold."""

from __future__ import annotations

from typing import Any

from sandboxes.xcart.context import Sandbox
from sandboxes.xcart.dates import parse_filter_date
from sandboxes.xcart.http import ApiError, bad_request
from sandboxes.xcart.reference import MEMBERSHIPS, PRODUCT_CLASSES, TAX_CLASSES
from sandboxes.xcart.serializers import product_json, variant_json
from sandboxes.xcart.validation import Violations, check_types

PREFIX = "Input validations failed: "
PRODUCT_TYPES = {
    "sku": "string",
    "name": "string",
    "description": "string",
    "brief_description": "string",
    "meta_tags": "string",
    "meta_description": "string",
    "meta_title": "string",
    "meta_description_type": "string",
    "price": "float",
    "enabled": "bool",
    "weight": "float",
    "separate_box": "bool",
    "width": "float",
    "length": "float",
    "height": "float",
    "free_shipping": "bool",
    "taxable": "bool",
    "arrival_date": "string",
    "inventory_traceable": "bool",
    "amount": "int",
    "product_class": "string",
    "tax_class": "string",
    "memberships": "array",
    "clean_url": "string",
}
PRODUCT_NULLABLE = frozenset({"product_class", "tax_class", "arrival_date"})
PLAIN_FIELDS = tuple(
    k
    for k in PRODUCT_TYPES
    if k
    not in ("arrival_date", "product_class", "tax_class", "memberships", "price", "sku", "name")
)
VARIANT_TYPES = {
    "sku": "string",
    "price": "float",
    "default_price": "bool",
    "amount": "int",
    "default_amount": "bool",
    "weight": "float",
    "default_weight": "bool",
    "default_variant": "bool",
}


def _by_name(
    table: dict[int, str], name: str | None, label: str, violations: Violations
) -> int | None:
    if name is None:
        return None
    for key, value in table.items():
        if value.casefold() == name.casefold():
            return key
    violations.add(label, f'{label.replace("_", " ").capitalize()} "{name}" not found.')
    return None


def sku_taken(
    sb: Sandbox, sku: str, *, product_id: int | None = None, variant_id: int | None = None
) -> bool:
    clash = sb.store.scalar(
        "SELECT COUNT(*) FROM products WHERE sku = ? AND id IS NOT ?", (sku, product_id)
    ) or sb.store.scalar(
        "SELECT COUNT(*) FROM variants WHERE sku = ? AND id IS NOT ?", (sku, variant_id)
    )
    return bool(clash)


def get_product(sb: Sandbox, product_id: int) -> dict[str, Any]:
    row = sb.store.get_doc("products", product_id)
    if row is None:
        raise ApiError(404, "Not Found")
    return row


def render(sb: Sandbox, row: dict[str, Any]) -> dict[str, Any]:
    return product_json(row, sb.settings.switches)


def _apply(sb: Sandbox, row: dict[str, Any], body: dict[str, Any], *, creating: bool) -> None:
    check_types(body, PRODUCT_TYPES, PRODUCT_NULLABLE)
    violations = Violations(PREFIX)
    for key in ("sku", "name"):
        if (key in body or creating) and not str(body.get(key) or "").strip():
            violations.add(key, "This value should not be blank.")
    sku = body.get("sku", row.get("sku"))
    if isinstance(sku, str) and len(sku) > 32:
        violations.add("sku", "This value is too long. It should have 32 characters or less.")
    violations.at_least_zero(body, "price", "weight", "amount", "width", "length", "height")
    if body.get("meta_description_type", "A") not in ("A", "C"):
        violations.add("meta_description_type", "The value you selected is not a valid choice.")
    if "product_class" in body:
        row["product_class_id"] = _by_name(
            PRODUCT_CLASSES, body["product_class"], "product_class", violations
        )
    if "tax_class" in body:
        row["tax_class_id"] = _by_name(TAX_CLASSES, body["tax_class"], "tax_class", violations)
    if "memberships" in body:
        row["membership_ids"] = [
            m
            for m in (
                _by_name(MEMBERSHIPS, str(n), "memberships", violations)
                for n in body["memberships"]
            )
            if m is not None
        ]
    if "arrival_date" in body and body["arrival_date"] is not None:
        arrival = parse_filter_date(body["arrival_date"])
        if arrival is None:
            violations.add("arrival_date", "This value is not a valid datetime.")
        else:
            row["arrival"] = arrival
    violations.raise_if_any()
    if isinstance(sku, str) and sku_taken(sb, sku, product_id=row.get("id")):
        raise bad_request(f"{PREFIX}SKU {sku} is not unique")
    for key in ("sku", "name"):
        if key in body:
            row[key] = body[key].strip()
    if "price" in body:
        row["price"] = float(body["price"])
    for key in PLAIN_FIELDS:
        if key in body:
            row[key] = float(body[key]) if PRODUCT_TYPES[key] == "float" else body[key]


def create_product(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    now = sb.now()
    row: dict[str, Any] = {
        "price": 0.0,
        "amount": 1000,
        "enabled": True,
        "created": now,
        "updated": now,
        "arrival": now,
        "inventory_traceable": True,
        "membership_ids": [],
        "images": [],
    }
    with sb.store.tx():
        _apply(sb, row, body, creating=True)
        row["id"] = sb.store.insert(
            "products",
            row,
            sku=row["sku"],
            name=row["name"],
            price=row["price"],
            arrival=row["arrival"],
        )
    return render(sb, row)


def update_product(sb: Sandbox, product_id: int, body: dict[str, Any]) -> dict[str, Any]:
    with sb.store.tx():
        row = get_product(sb, product_id)
        _apply(sb, row, body, creating=False)
        row["updated"] = sb.now()
        sb.store.put_doc(
            "products",
            product_id,
            row,
            sku=row["sku"],
            name=row["name"],
            price=row["price"],
            arrival=row["arrival"],
        )
    rendered = render(sb, row)
    sb.emit("product.updated", rendered)
    return rendered


def delete_product(sb: Sandbox, product_id: int) -> None:
    with sb.store.tx():
        get_product(sb, product_id)
        sb.store.delete("products", product_id)
        sb.store.execute("DELETE FROM variants WHERE product_id = ?", (product_id,))


def get_variant(sb: Sandbox, product_id: int, variant_id: int) -> dict[str, Any]:
    get_product(sb, product_id)
    row = sb.store.get_doc("variants", variant_id)
    if row is None or row["product_id"] != product_id:
        raise ApiError(404, "Not Found")
    return row


def list_variants(sb: Sandbox, product_id: int) -> list[dict[str, Any]]:
    get_product(sb, product_id)
    return sb.store.query("SELECT * FROM variants WHERE product_id = ? ORDER BY id", (product_id,))


def _apply_variant(sb: Sandbox, row: dict[str, Any], body: dict[str, Any]) -> None:
    check_types(body, VARIANT_TYPES, frozenset({"sku"}))
    violations = Violations(PREFIX)
    violations.at_least_zero(body, "price", "amount", "weight")
    sku = body.get("sku", row.get("sku"))
    if isinstance(sku, str) and len(sku) > 32:
        violations.add("sku", "This value is too long. It should have 32 characters or less.")
    violations.raise_if_any()
    if sku and sku_taken(sb, sku, variant_id=row.get("id")):
        raise bad_request(f"{PREFIX}SKU {sku} is not unique")
    for key, kind in VARIANT_TYPES.items():
        if key in body:
            row[key] = float(body[key]) if kind == "float" else body[key]


def create_variant(sb: Sandbox, product_id: int, body: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "price": 0.0,
        "default_price": True,
        "amount": 0,
        "default_amount": True,
        "weight": 0.0,
        "default_weight": True,
        "default_variant": False,
        "image": None,
        "attribute_checkbox_values": [],
        "attribute_select_values": [],
    }
    with sb.store.tx():
        get_product(sb, product_id)
        _apply_variant(sb, row, body)
        row["id"] = sb.store.insert("variants", row, product_id=product_id, sku=row.get("sku"))
    return variant_json(row)


def update_variant(
    sb: Sandbox, product_id: int, variant_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    with sb.store.tx():
        row = get_variant(sb, product_id, variant_id)
        _apply_variant(sb, row, body)
        sb.store.put_doc("variants", variant_id, row, sku=row.get("sku"))
        product = get_product(sb, product_id)
        product["updated"] = sb.now()
        sb.store.put_doc("products", product_id, product)
    sb.emit("product.updated", {**render(sb, product), "variant": variant_json(row)})
    return variant_json(row)


def delete_variant(sb: Sandbox, product_id: int, variant_id: int) -> None:
    with sb.store.tx():
        get_variant(sb, product_id, variant_id)
        sb.store.delete("variants", variant_id)
