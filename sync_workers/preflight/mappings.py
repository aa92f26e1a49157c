"""Store values seen in the recent orders have a mapping: payment methods, shipping methods,
payment statuses, states, tax regions.

Each unmapped value comes with where to add it and the Acumatica codes it most likely means, best
first, as the mapping assistant ranks them (:mod:`sync_workers.mapping.assistant.ranking`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sync_workers.errors import PermanentError, SyncError
from sync_workers.mapping import addresses
from sync_workers.mapping import orders as order_map
from sync_workers.mapping import payments as payment_map
from sync_workers.mapping.assistant import reference as assistant
from sync_workers.mapping.assistant.fields import PAYMENT_METHOD, SHIPPING_METHOD, TAX_REGION, Field
from sync_workers.mapping.assistant.ranking import Candidate, rank
from sync_workers.mapping.assistant.suggest import compared_text, precedents, region_hints
from sync_workers.preflight import reference
from sync_workers.preflight.context import Context
from sync_workers.preflight.results import Result

GROUP = "mapping"
#: Order numbers listed per unmapped value.
EXAMPLES = 3
#: Acumatica codes suggested per unmapped value, best first.
SUGGESTED = 6


class Seen:
    """Values of one kind seen in the orders: value -> order numbers, and the unmapped ones."""

    def __init__(self) -> None:
        self.orders: dict[str, list[str]] = {}
        self.unmapped: set[str] = set()

    def add(self, value: str, order: Mapping[str, Any], mapped: bool) -> None:
        numbers = self.orders.setdefault(value, [])
        number = str(order.get("order_number") or order.get("id"))
        if number not in numbers:
            numbers.append(number)
        if not mapped:
            self.unmapped.add(value)


def _mapped(lookup: Callable[[Mapping[str, Any], Mapping[str, Any]], Any], *args: Any) -> bool:
    """Whether the mapping function finds an entry (it raises a permanent error when not)."""
    try:
        lookup(*args)
    except PermanentError:
        return False
    return True


def _ranked(ctx: Context, spec: Field) -> Callable[[str], list[str]]:
    """The mapping assistant's ranking of Acumatica's codes for a value (none when Acumatica
    cannot be read), the template's own entries as precedents."""

    def read() -> list[Candidate]:
        if "acumatica" in ctx.broken:
            return []
        try:
            return assistant.READERS[spec.reference](ctx.acumatica())
        except SyncError:
            return []

    candidates = ctx.memo(f"assistant:{spec.reference}", read)
    mapped = precedents(spec, ctx.template(spec.flow))

    def ranked(value: str) -> list[str]:
        hints = region_hints(value, candidates) if spec is TAX_REGION else None
        found = rank(
            compared_text(spec, value), candidates, mapped=mapped, hints=hints, top=SUGGESTED
        )
        return [s.code for s in found]

    return ranked


def _result(
    ctx: Context,
    name: str,
    label: str,
    seen: Seen,
    advice: str,
    hints: Iterable[str] | Callable[[str], list[str]] = (),
) -> Result:
    shown = ", ".join(f"{v} ({len(n)})" for v, n in sorted(seen.orders.items()))
    scope = f"in the last {len(ctx.recent_orders())} orders"
    if not seen.orders:
        return Result(name, GROUP, "pass", f"no {label} {scope}")
    if not seen.unmapped:
        return Result(name, GROUP, "pass", f"{label} {scope}, all mapped: {shown}")
    problems: dict[str, Any] = {}
    parts = []
    for value in sorted(seen.unmapped):
        numbers = seen.orders[value]
        found = hints(value) if callable(hints) else reference.suggestions(value, hints)
        problems[value] = {
            "orders": numbers[:EXAMPLES],
            "count": len(numbers),
            "suggestions": found,
        }
        parts.append(
            f"{value!r} ({len(numbers)} orders, e.g. #{', #'.join(numbers[:EXAMPLES])})"
            + (f" -> maybe {', '.join(found)}" if found else "")
        )
    return Result(
        name, GROUP, "fail", f"unmapped {label} {scope}: " + "; ".join(parts), advice,
        {"unmapped": problems},
    )  # fmt: skip


def _no_orders(ctx: Context) -> Result | None:
    ctx.require("xcart")
    if not ctx.recent_orders():
        return Result("mapping.store_values", GROUP, "pass", f"{ctx.no_orders()}: nothing to map")
    return None


def payment_methods(ctx: Context) -> Result | None:
    if (empty := _no_orders(ctx)) is not None:
        return empty
    tmpl = ctx.template("payments")
    seen = Seen()
    for order in ctx.recent_orders():
        for txn in ctx.transactions(order["id"]):
            shown = txn.get("local_name") or txn.get("name")
            if shown:
                mapped = _mapped(payment_map.method, txn, tmpl)
                seen.add(str(shown), order, mapped)
    return _result(
        ctx,
        "mapping.payment_methods",
        "payment methods",
        seen,
        "add each to payments.yaml `methods` as `<name>: {payment_method: <PaymentMethodID>, "
        "cash_account: <an allowed cash account>}` (CA204000)",
        _ranked(ctx, PAYMENT_METHOD),
    )


def shipping_methods(ctx: Context) -> Result | None:
    if _no_orders(ctx) is not None:
        return None
    tmpl = ctx.template("orders")
    seen = Seen()
    for order in ctx.recent_orders():
        if order.get("shipping_method_name"):
            mapped = _mapped(order_map.ship_via, order, tmpl)
            seen.add(str(order["shipping_method_name"]), order, mapped)
    return _result(
        ctx,
        "mapping.shipping_methods",
        "shipping methods",
        seen,
        "add each to orders.yaml `ship_via` as `<name>: <ShipVia code>` (CS207500)",
        _ranked(ctx, SHIPPING_METHOD),
    )


def payment_statuses(ctx: Context) -> Result | None:
    if _no_orders(ctx) is not None:
        return None
    tmpl = ctx.template("orders")
    seen = Seen()
    for order in ctx.recent_orders():
        code = str((order.get("payment_status") or {}).get("code") or "")
        if code:
            mapped = _mapped(order_map.payment_action, order, tmpl)
            seen.add(code, order, mapped)
    return _result(
        ctx,
        "mapping.payment_statuses",
        "payment statuses",
        seen,
        "add each to orders.yaml `payment_status` as `<code>: {label: <Acumatica status>, "
        "action: create|create_on_hold|skip|cancel|refund}`",
        list(order_map.XCART_PAYMENT_CODES),
    )


def states(ctx: Context) -> Result | None:
    """Every address's state resolves to a code where the country needs one."""
    if _no_orders(ctx) is not None:
        return None
    tmpl = ctx.template("orders")
    table = addresses.state_table(tmpl)
    needs_state = tuple((tmpl.get("addresses") or {}).get("countries_with_states") or ())
    seen = Seen()
    for order in ctx.recent_orders():
        for key in ("billing_address", "shipping_address"):
            address = order.get(key)
            if not isinstance(address, Mapping):
                continue
            country = str(address.get("country_code") or "").strip().upper()
            if country not in needs_state:
                continue
            code = addresses.state_code(address, table)
            state = address.get("state") or address.get("state_name") or "none"
            seen.add(f"{country} state {code or state}", order, code is not None)
    return _result(
        ctx,
        "mapping.states",
        "countries and states",
        seen,
        "add each store state id to orders.yaml `addresses.state_ids` as `<id>: <ISO 3166-2 "
        "code>` (e.g. 101: US-CA)",
    )


def tax_regions(ctx: Context) -> Result | None:
    """Every taxed order's ship-to region has a TaxID."""
    if _no_orders(ctx) is not None:
        return None
    tmpl = ctx.template("orders")
    table = addresses.state_table(tmpl)
    seen = Seen()
    for order in ctx.recent_orders():
        if order_map.surcharge_total(order.get("surcharges"), "tax") == 0:
            continue
        region = addresses.region(order.get("shipping_address"), table)
        mapped = _mapped(order_map.tax_id, order, tmpl)
        seen.add(str(region), order, mapped)
    return _result(
        ctx,
        "mapping.tax_regions",
        "tax regions",
        seen,
        "add each to orders.yaml `tax.tax_id_by_region` as `<region>: <TaxID>` (TX205000)",
        _ranked(ctx, TAX_REGION),
    )


CHECKS = (payment_methods, shipping_methods, payment_statuses, states, tax_regions)
