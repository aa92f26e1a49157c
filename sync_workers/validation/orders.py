"""Is an X-Cart order fit to become a sales order? Every problem at once, named by field.

The structure is checked with marshmallow; then totals (to the cent), SKUs (known in Acumatica
or mapped) and addresses (complete, state resolvable). Problems come back as one
``PermanentError`` whose ``field_errors`` name each bad field, so the dead-letter queue says
exactly what to fix, and nothing is written to Acumatica for that order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate

from sync_workers.errors import PermanentError
from sync_workers.mapping import addresses
from sync_workers.mapping import orders as order_map
from sync_workers.mapping import payments as payment_map

_CURRENCY = validate.Regexp(r"^[A-Za-z]{3}$", error="not an ISO 4217 currency code")


class _Status(Schema):
    class Meta:
        unknown = EXCLUDE

    code = fields.String(required=True)


class _Item(Schema):
    class Meta:
        unknown = EXCLUDE

    sku = fields.String(required=True, validate=validate.Length(min=1))
    amount = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, error="must be positive")
    )
    price = fields.Float(required=True, validate=validate.Range(min=0))
    discounted_subtotal = fields.Float(load_default=None, allow_none=True)


class _Surcharge(Schema):
    class Meta:
        unknown = EXCLUDE

    type = fields.String(required=True)
    value = fields.Float(required=True)


class OrderSchema(Schema):
    """The fields of an X-Cart 5.5 order the flow relies on; unknown keys are ignored."""

    class Meta:
        unknown = EXCLUDE

    id = fields.Integer(required=True)
    order_number = fields.String(required=True, validate=validate.Length(min=1, max=30))
    total = fields.Float(required=True)
    sub_total = fields.Float(required=True)
    currency = fields.String(required=True, validate=_CURRENCY)
    email = fields.Email(required=True)
    payment_status = fields.Nested(_Status, required=True)
    items = fields.List(
        fields.Nested(_Item), required=True, validate=validate.Length(min=1, error="no lines")
    )
    surcharges = fields.List(fields.Nested(_Surcharge), load_default=list)
    billing_address = fields.Dict(required=True, allow_none=True)
    shipping_address = fields.Dict(load_default=None, allow_none=True)


def _flatten(messages: Any, prefix: str = "") -> dict[str, str]:
    out: dict[str, str] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            path = (
                f"{prefix}[{key}]"
                if isinstance(key, int)
                else (f"{prefix}.{key}" if prefix else str(key))
            )
            out.update(_flatten(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix] = "; ".join(messages)
    else:
        out[prefix] = str(messages)
    return out


def order_problems(
    order: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    sku_known: Callable[[str], bool],
) -> dict[str, str]:
    """Field path -> reason for every problem of the order (empty when it is fine)."""
    try:
        OrderSchema().load(dict(order))
    except ValidationError as exc:
        problems = _flatten(exc.messages)
    else:
        problems = {}
    states = addresses.state_table(template)
    countries = tuple((template.get("addresses") or {}).get("countries_with_states") or ())
    billing = order.get("billing_address")
    shipping = order.get("shipping_address") or billing
    for name, address in (("billing_address", billing), ("shipping_address", shipping)):
        for field, reason in addresses.address_problems(address, states, countries).items():
            problems.setdefault(f"{name}.{field}" if field else name, reason)
    items = order.get("items") or []
    for index, item in enumerate(items):
        sku = str(item.get("sku") or "")
        if sku and not sku_known(order_map.inventory_id(sku, template)):
            problems.setdefault(
                f"items[{index}].sku", f"SKU {sku!r} is not known in Acumatica and not mapped"
            )
    if not problems:
        problems.update(_total_problems(order))
    return problems


def _total_problems(order: Mapping[str, Any]) -> dict[str, str]:
    problems: dict[str, str] = {}
    items = order.get("items") or []
    gross = sum(
        (order_map.money(order_map.money(i.get("price")) * int(i["amount"])) for i in items),
        order_map.money(0),
    )
    sub_total = order_map.money(order.get("sub_total"))
    if gross != sub_total:
        problems["sub_total"] = f"lines add up to {gross}, sub_total is {sub_total}"
    discounts = order_map.surcharge_total(order.get("surcharges"), "discount")
    lines_net = order_map.line_total(order)
    if lines_net != sub_total + discounts:
        problems["items"] = (
            f"discounted lines add up to {lines_net}, sub_total + discounts is "
            f"{sub_total + discounts}"
        )
    expected = order_map.expected_total(order)
    total = order_map.money(order.get("total"))
    if expected != total:
        problems["total"] = f"lines, shipping and tax add up to {expected}, total is {total}"
    return problems


def order_and_payment_problems(
    order: Mapping[str, Any],
    transactions: Sequence[Mapping[str, Any]],
    template: Mapping[str, Any],
    payments_template: Mapping[str, Any],
    *,
    sku_known: Callable[[str], bool],
) -> dict[str, str]:
    """Every problem of an order and of what its creation needs mapped: shipping method, tax
    region, currency (and the store's rate, when the template takes it) and each payment
    transaction's method (named ``transactions[i].<field>``)."""
    problems = order_problems(order, template, sku_known=sku_known)
    code = (order.get("payment_status") or {}).get("code")
    for index, txn in enumerate(transactions):
        try:
            if payment_map.action(txn, code, payments_template) != "ignore" or txn.get("type") in (
                "sale",
                "auth",
            ):
                payment_map.method(txn, payments_template)
        except PermanentError as exc:
            for field, reason in exc.field_errors.items():
                problems[f"transactions[{index}].{field}"] = reason
    for lookup in (order_map.ship_via, order_map.tax_id, order_map.currency_fields):
        try:
            lookup(order, template)
        except PermanentError as exc:
            problems.update(exc.field_errors)
    return problems


def raise_problems(order: Mapping[str, Any], problems: Mapping[str, str]) -> None:
    """One ``PermanentError`` naming every bad field (nothing when there is no problem)."""
    if problems:
        summary = ", ".join(f"{k}: {v}" for k, v in sorted(problems.items()))
        raise PermanentError(
            f"order {order.get('order_number') or order.get('id')} is invalid: {summary}",
            field_errors=dict(problems),
            details={"order_id": order.get("id"), "order_number": order.get("order_number")},
        )


def check_order(
    order: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    sku_known: Callable[[str], bool],
) -> None:
    """Raise a ``PermanentError`` naming every bad field; return when the order is fine."""
    raise_problems(order, order_problems(order, template, sku_known=sku_known))
