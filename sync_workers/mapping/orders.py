"""X-Cart order -> Acumatica ``SalesOrder`` (pure functions, no I/O).

Money is computed in ``Decimal`` and rounded to the cent. X-Cart lines carry the unit price and
the line subtotal after discounts; the difference is the line's discount. Shipping surcharges
become freight, tax surcharges the order's tax (sent as is, or left to Acumatica and compared).
An unmapped value (shipping method, tax region, order type) is a ``PermanentError`` naming the
value; nothing falls back silently.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sync_workers.dates import parse_optional
from sync_workers.errors import PermanentError
from sync_workers.mapping import addresses
from sync_workers.mapping.templates import require_codes, require_keys

CENT = Decimal("0.01")
DESCRIPTION_LIMIT = 255

#: Status codes of the references (X-Cart §2.6, Acumatica §3.7); every one needs an entry.
XCART_PAYMENT_CODES = ("Q", "A", "PP", "P", "D", "C", "R")
XCART_SHIPPING_CODES = ("N", "P", "S", "D", "WND", "R", "WFA", "NBA", "NF")
ACUMATICA_ORDER_STATUSES = (
    "Open",
    "On Hold",
    "Pending Approval",
    "Rejected",
    "Pending Processing",
    "Awaiting Payment",
    "Expired",
    "Credit Hold",
    "Completed",
    "Canceled",
    "Back Order",
    "Shipping",
    "Invoiced",
    "Risk Hold",
)
ACTIONS = ("create", "create_on_hold", "skip", "cancel", "refund")


def money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(CENT, rounding=ROUND_HALF_UP)


def surcharge_total(surcharges: Iterable[Mapping[str, Any]] | None, kind: str) -> Decimal:
    """Sum of the surcharges of one ``type`` (shipping, tax, discount, handling)."""
    return sum(
        (money(s.get("value")) for s in surcharges or () if s.get("type") == kind), Decimal(0)
    )


def customer_order(order: Mapping[str, Any], template: Mapping[str, Any]) -> str:
    """The ``CustomerOrder`` of an X-Cart order: its number, with the configured prefix."""
    prefix = str((template.get("customer_order") or {}).get("prefix") or "")
    return f"{prefix}{order['order_number']}"


def store_settings(template: Mapping[str, Any], store: str = "default") -> dict[str, Any]:
    stores = template.get("stores") or {}
    if store not in stores:
        raise PermanentError(
            f"store {store!r} has no entry in the orders template",
            field_errors={"store": f"unmapped store {store!r}"},
        )
    return dict(stores[store])


def payment_action(order: Mapping[str, Any], template: Mapping[str, Any]) -> str:
    """What the order flow does for the order's payment status (``create``, ``cancel``...)."""
    code = str((order.get("payment_status") or {}).get("code") or "")
    entry = (template.get("payment_status") or {}).get(code)
    if entry is None:
        raise PermanentError(
            f"payment status {code!r} has no entry in the orders template",
            field_errors={"payment_status.code": f"unmapped payment status {code!r}"},
        )
    return str(entry["action"])


def currency_fields(order: Mapping[str, Any], template: Mapping[str, Any]) -> dict[str, Any]:
    """``CurrencyID`` of the order, and its ``CurrencyRate`` when the template takes the rate
    the store used (``currency.rate: store``) for an order outside the base currency.

    X-Cart keeps an order's amounts in its ``currency``; its multi-currency add-on records the
    currency the shopper saw (``selected_multi_currency``) and the rate from the order's
    currency to it (``selected_multi_currency_rate``). When that is the ERP's base currency, it
    is the rate the store used: base amount = order amount x rate, Acumatica's ``CurrencyRate``.
    """
    settings = template.get("currency") or {}
    code = str(order.get("currency") or "").strip().upper()
    known = [str(c).upper() for c in settings.get("known") or []]
    if known and code not in known:
        raise PermanentError(
            f"currency {code!r} is not a currency of the Acumatica tenant",
            field_errors={"currency": f"unknown currency {code!r}"},
        )
    fields: dict[str, Any] = {"CurrencyID": code}
    base = str(settings.get("base") or "").upper()
    if settings.get("rate", "acumatica") != "store" or not base or code == base:
        return fields
    selected = str(order.get("selected_multi_currency") or "").strip().upper()
    rate = order.get("selected_multi_currency_rate")
    if selected != base or isinstance(rate, bool) or not isinstance(rate, int | float) or rate <= 0:
        raise PermanentError(
            f"order in {code} carries no store rate to {base}",
            field_errors={
                "selected_multi_currency_rate": f"no rate from {code} to {base} in the order"
            },
        )
    fields["CurrencyRate"] = float(rate)
    return fields


def ship_via(order: Mapping[str, Any], template: Mapping[str, Any]) -> str | None:
    name = order.get("shipping_method_name")
    if not name:
        return None
    table = template.get("ship_via") or {}
    wanted = str(name).strip().casefold()
    for key, value in table.items():
        if str(key).strip().casefold() == wanted:
            return str(value)
    raise PermanentError(
        f"shipping method {name!r} has no ShipVia in the orders template",
        field_errors={"shipping_method_name": f"unmapped shipping method {name!r}"},
    )


def inventory_id(sku: str, template: Mapping[str, Any]) -> str:
    return str((template.get("sku_map") or {}).get(sku, sku))


def tax_id(order: Mapping[str, Any], template: Mapping[str, Any]) -> str | None:
    """The TaxID for the order's ship-to region; ``None`` when the order carries no tax."""
    if surcharge_total(order.get("surcharges"), "tax") == 0:
        return None
    states = addresses.state_table(template)
    region = addresses.region(order.get("shipping_address"), states)
    table = (template.get("tax") or {}).get("tax_id_by_region") or {}
    if region not in table:
        raise PermanentError(
            f"tax region {region!r} has no TaxID in the orders template",
            field_errors={"shipping_address.state": f"unmapped tax region {region!r}"},
        )
    return str(table[region])


def lines(order: Mapping[str, Any], template: Mapping[str, Any], warehouse: str | None) -> list:
    details = []
    for item in order.get("items") or []:
        quantity = int(item.get("amount") or 0)
        price = money(item.get("price"))
        gross = money(price * quantity)
        net = money(item.get("discounted_subtotal", gross))
        line: dict[str, Any] = {
            "InventoryID": inventory_id(str(item.get("sku") or ""), template),
            "OrderQty": quantity,
            "UnitPrice": float(price),
            "ManualPrice": True,
            "DiscountAmount": float(gross - net),
            "ManualDiscount": True,
            "LineDescription": str(item.get("name") or "")[:DESCRIPTION_LIMIT],
        }
        if warehouse:
            line["WarehouseID"] = warehouse
        details.append(line)
    return details


def _note(order: Mapping[str, Any], hold_reasons: Iterable[str]) -> str:
    parts = []
    reasons = list(hold_reasons)
    if reasons:
        parts.append("Held for review: " + "; ".join(reasons))
    notes = str(order.get("notes") or "").strip()
    if notes:
        parts.append(f"Customer notes: {notes}")
    return "\n".join(parts)


def to_sales_order(
    order: Mapping[str, Any],
    template: Mapping[str, Any],
    *,
    customer_id: str,
    hold_reasons: Iterable[str] = (),
    store: str = "default",
) -> dict[str, Any]:
    """The ``SalesOrder`` record to PUT for an X-Cart order (plain values, not wire JSON)."""
    settings = store_settings(template, store)
    states = addresses.state_table(template)
    reasons = list(hold_reasons)
    action = payment_action(order, template)
    number = str(order["order_number"])
    billing = order.get("billing_address") or {}
    shipping = order.get("shipping_address") or billing
    email = order.get("email")
    created = parse_optional(order.get("create_date"))
    sales_order: dict[str, Any] = {
        "OrderType": settings["order_type"],
        "CustomerOrder": customer_order(order, template),
        "ExternalRef": str(order["id"]),
        "CustomerID": customer_id,
        **currency_fields(order, template),
        "Hold": bool(reasons) or action == "create_on_hold",
        "Description": f"X-Cart order #{number}",
        "BillToAddressOverride": True,
        "BillToAddress": addresses.to_acumatica_address(billing, states),
        "BillToContactOverride": True,
        "BillToContact": addresses.to_acumatica_contact(billing, email),
        "ShipToAddressOverride": True,
        "ShipToAddress": addresses.to_acumatica_address(shipping, states),
        "ShipToContactOverride": True,
        "ShipToContact": addresses.to_acumatica_contact(shipping, email),
        "Details": lines(order, template, settings.get("warehouse")),
        "Totals": {
            "Freight": float(surcharge_total(order.get("surcharges"), "shipping")),
            "OverrideFreightAmount": True,
        },
    }
    if created is not None:
        sales_order["Date"] = created.date().isoformat()
    if settings.get("branch"):
        sales_order["Branch"] = settings["branch"]
    if settings.get("warehouse"):
        sales_order["PreferredWarehouseID"] = settings["warehouse"]
    via = ship_via(order, template)
    if via:
        sales_order["ShipVia"] = via
    tax = tax_id(order, template)
    if tax is not None:
        row: dict[str, Any] = {"TaxID": tax}
        if (template.get("tax") or {}).get("mode", "send") == "send":
            row["TaxAmount"] = float(surcharge_total(order.get("surcharges"), "tax"))
            row["TaxableAmount"] = float(line_total(order))
        sales_order["TaxDetails"] = [row]
    notes = str(order.get("notes") or "").strip()
    if notes and template.get("customer_notes") == "description":
        sales_order["Description"] = notes[:DESCRIPTION_LIMIT]
        sales_order["note"] = _note(order, reasons).replace(f"Customer notes: {notes}", "").strip()
    else:
        sales_order["note"] = _note(order, reasons)
    return sales_order


_LINE_FIELDS = ("OrderQty", "UnitPrice", "DiscountAmount")


def line_changes(current: list[Mapping[str, Any]], wanted: list[Mapping[str, Any]]) -> list:
    """Detail rows turning the ``current`` lines into the ``wanted`` ones.

    Lines are matched by InventoryID in order; a matched line is sent (by ``id``) only with the
    fields that differ, a new line whole, and a line no longer wanted as ``delete``. Values are
    absolute, so sending the same rows twice changes nothing more.
    """
    remaining = list(current)
    rows: list[dict[str, Any]] = []
    for line in wanted:
        wanted_id = str(line["InventoryID"]).strip().upper()
        match = next(
            (c for c in remaining if str(c.get("InventoryID")).strip().upper() == wanted_id),
            None,
        )
        if match is None:
            rows.append(dict(line))
            continue
        remaining.remove(match)
        changed = {k: line[k] for k in _LINE_FIELDS if money(line.get(k)) != money(match.get(k))}
        if changed:
            rows.append({"id": match["id"], **changed, "ManualPrice": True, "ManualDiscount": True})
    rows.extend({"id": c["id"], "delete": True} for c in remaining)
    return rows


def edit_body(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, Any]:
    """The PUT that brings the ``current`` sales order in line with ``wanted`` (same order).

    Hold and the note stay as they are (a held order keeps its review reasons).
    """
    body: dict[str, Any] = {
        "OrderType": current["OrderType"],
        "OrderNbr": current["OrderNbr"],
        "Details": line_changes(current.get("Details") or [], wanted.get("Details") or []),
        "Totals": wanted["Totals"],
    }
    for key in ("BillTo", "ShipTo"):
        for part in ("Address", "Contact"):
            body[f"{key}{part}Override"] = True
            body[f"{key}{part}"] = wanted[f"{key}{part}"]
    if "ShipVia" in wanted:
        body["ShipVia"] = wanted["ShipVia"]
    taxes = list(current.get("TaxDetails") or [])
    rows = [{**t, **({"id": taxes[0]["id"]} if i == 0 and taxes else {})}
            for i, t in enumerate(wanted.get("TaxDetails") or [])]  # fmt: skip
    rows += [{"id": t["id"], "delete": True} for t in taxes[len(rows) :]]
    if rows:
        body["TaxDetails"] = rows
    return body


def line_total(order: Mapping[str, Any]) -> Decimal:
    """Sum of the lines after discounts."""
    return sum(
        (
            money(i.get("discounted_subtotal", money(i.get("price")) * int(i.get("amount") or 0)))
            for i in order.get("items") or []
        ),
        Decimal(0),
    )


def expected_total(order: Mapping[str, Any]) -> Decimal:
    """What the order's total must be: lines after discounts + shipping + handling + tax."""
    surcharges = order.get("surcharges")
    return (
        line_total(order)
        + surcharge_total(surcharges, "shipping")
        + surcharge_total(surcharges, "handling")
        + surcharge_total(surcharges, "tax")
    )


def total_difference(order: Mapping[str, Any], acumatica_order_total: Any) -> Decimal:
    """Acumatica's order total minus X-Cart's (both in the order's currency)."""
    return money(acumatica_order_total) - money(order.get("total"))


def tax_difference(order: Mapping[str, Any], acumatica_tax_total: Any) -> Decimal:
    """Acumatica's tax minus X-Cart's tax (for the ``compute`` tax mode)."""
    return money(acumatica_tax_total) - surcharge_total(order.get("surcharges"), "tax")


def validate_template(template: dict[str, Any]) -> list[str]:
    problems = require_keys(template, "stores", ["default"])
    for name, store in (template.get("stores") or {}).items():
        problems += [f"stores.{name}.{k}: missing" for k in ("order_type",) if k not in store]
    problems += require_codes(template, "payment_status", XCART_PAYMENT_CODES, "payment status")
    for code, entry in (template.get("payment_status") or {}).items():
        if not isinstance(entry, Mapping) or entry.get("action") not in ACTIONS:
            problems.append(f"payment_status.{code}.action: must be one of {', '.join(ACTIONS)}")
    problems += require_codes(template, "shipping_status", XCART_SHIPPING_CODES, "shipping status")
    problems += require_codes(
        template, "order_status_to_shipping", ACUMATICA_ORDER_STATUSES, "sales-order status"
    )
    for label, code in (template.get("order_status_to_shipping") or {}).items():
        if code is not None and code not in XCART_SHIPPING_CODES:
            problems.append(f"order_status_to_shipping.{label}: unknown X-Cart code {code!r}")
    for code in template.get("order_status_writable_from") or []:
        if code not in XCART_SHIPPING_CODES:
            problems.append(f"order_status_writable_from: unknown X-Cart code {code!r}")
    tax = template.get("tax") or {}
    if tax.get("mode") not in ("send", "compute"):
        problems.append("tax.mode: must be send or compute")
    if not isinstance(tax.get("tolerance", 0), int | float):
        problems.append("tax.tolerance: must be a number")
    if template.get("customer_notes") not in ("description", "note"):
        problems.append("customer_notes: must be description or note")
    if not isinstance(template.get("ship_via"), Mapping):
        problems.append("ship_via: must be a mapping")
    for state_id, iso in ((template.get("addresses") or {}).get("state_ids") or {}).items():
        if not str(state_id).isdigit() or len(str(iso)) < 4 or str(iso)[2] != "-":
            problems.append(f"addresses.state_ids.{state_id}: must map an id to 'US-CA' style")
    problems += addresses.state_names_problems((template.get("addresses") or {}).get("state_names"))
    currency = template.get("currency") or {}
    if currency.get("rate", "acumatica") not in ("acumatica", "store"):
        problems.append("currency.rate: must be acumatica or store")
    if currency.get("rate") == "store" and not currency.get("base"):
        problems.append("currency.base: needed with rate: store")
    if not isinstance(currency.get("known", []), list):
        problems.append("currency.known: must be a list of currency codes")
    risk = template.get("risk") or {}
    if not isinstance(risk.get("hold_threshold"), int | float):
        problems.append("risk.hold_threshold: must be a number")
    return problems
