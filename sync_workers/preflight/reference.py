"""Reference data the templates name: every Acumatica code exists and is active.

Each kind of code is read once, read-only: through the contract API where the Default endpoint
has an entity for it (payment methods with their allowed cash accounts, ship vias, taxes, tax
zones, warehouses, customer classes, item classes, customers), through DAC-based OData where it
has none (order types ``SOOrderType``, branches ``Branch``). A kind the instance does not serve
is a warning naming the form to check by hand.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sync_workers.dates import parse_optional
from sync_workers.errors import SyncError
from sync_workers.preflight.context import Context
from sync_workers.preflight.results import Result

GROUP = "reference"


@dataclass(frozen=True)
class Need:
    """A code a template names, and where (``payments.yaml methods.PayPal``)."""

    code: str
    where: str


@dataclass(frozen=True)
class Kind:
    name: str  #: check name suffix and plural label, e.g. ``payment_methods``
    label: str  #: singular, for messages
    screen: str  #: the Acumatica form where it is set up
    key: str  #: the field holding the code
    entity: str | None = None  #: contract-based entity, or
    dac: str | None = None  #: DAC read through OData
    fields: tuple[str, ...] = ()  #: more fields to read (for ``inactive``)
    #: Read each named code by key instead of the whole list (customers: thousands of them).
    by_key: bool = False
    #: Why a record cannot be used (``None``: it can).
    inactive: Callable[[Mapping[str, Any]], str | None] = lambda _: None


def _flag_off(field: str, why: str) -> Callable[[Mapping[str, Any]], str | None]:
    return lambda row: why if row.get(field) is False else None


def _payment_method(row: Mapping[str, Any]) -> str | None:
    if row.get("Active") is False:
        return "inactive"
    if row.get("UseInAR") is False:
        return "not used in AR"
    return None


def _tax(row: Mapping[str, Any]) -> str | None:
    ends = parse_optional(row.get("NotValidAfter"))
    if ends is not None and ends < datetime.now(UTC):
        return f"not valid after {ends.date()}"
    return None


def _customer(row: Mapping[str, Any]) -> str | None:
    status = row.get("Status")
    return None if status in (None, "Active", "One-Time") else f"status {status}"


ORDER_TYPES = Kind(
    "order_types",
    "order type",
    "SO201000",
    "OrderType",
    dac="SOOrderType",
    fields=("Active",),
    inactive=_flag_off("Active", "inactive"),
)
BRANCHES = Kind(
    "branches",
    "branch",
    "CS102000",
    "BranchCD",
    dac="Branch",
    fields=("Active",),
    inactive=_flag_off("Active", "inactive"),
)
WAREHOUSES = Kind(
    "warehouses",
    "warehouse",
    "IN204000",
    "WarehouseID",
    entity="Warehouse",
    fields=("Active",),
    inactive=_flag_off("Active", "inactive"),
)
SHIP_VIAS = Kind("ship_vias", "ship via", "CS207500", "CarrierID", entity="ShipVia")
TAXES = Kind(
    "taxes", "tax", "TX205000", "TaxID", entity="Tax", fields=("NotValidAfter",), inactive=_tax
)
TAX_ZONES = Kind("tax_zones", "tax zone", "TX206000", "TaxZoneID", entity="TaxZone")
CUSTOMER_CLASSES = Kind(
    "customer_classes", "customer class", "AR201000", "ClassID", entity="CustomerClass"
)
CUSTOMERS = Kind(
    "customers",
    "customer",
    "AR303000",
    "CustomerID",
    entity="Customer",
    fields=("Status",),
    inactive=_customer,
    by_key=True,
)
PAYMENT_METHODS = Kind(
    "payment_methods",
    "payment method",
    "CA204000",
    "PaymentMethodID",
    entity="PaymentMethod",
    fields=("Active", "UseInAR"),
    inactive=_payment_method,
)
ITEM_CLASSES = Kind("item_classes", "item class", "IN201000", "ClassID", entity="ItemClass")


def _add(found: dict[str, list[Need]], kind: Kind, code: Any, where: str) -> None:
    if code not in (None, ""):
        found.setdefault(kind.name, []).append(Need(str(code), where))


def template_needs(ctx: Context) -> dict[str, list[Need]]:
    """Every Acumatica code the templates name, by kind."""
    orders = ctx.template("orders")
    found: dict[str, list[Need]] = {}
    for store, entry in (orders.get("stores") or {}).items():
        for kind, key in (
            (ORDER_TYPES, "order_type"),
            (BRANCHES, "branch"),
            (WAREHOUSES, "warehouse"),
            (TAX_ZONES, "tax_zone"),
        ):
            _add(found, kind, (entry or {}).get(key), f"orders.yaml stores.{store}.{key}")
    for name, code in (orders.get("ship_via") or {}).items():
        _add(found, SHIP_VIAS, code, f"orders.yaml ship_via.{name}")
    for region, code in ((orders.get("tax") or {}).get("tax_id_by_region") or {}).items():
        _add(found, TAXES, code, f"orders.yaml tax.tax_id_by_region.{region}")
    for code in ctx.template("inventory").get("warehouses") or ():
        _add(found, WAREHOUSES, code, "inventory.yaml warehouses")
    customers = ctx.template("customers")
    _add(found, CUSTOMER_CLASSES, customers.get("customer_class"), "customers.yaml customer_class")
    if customers.get("guest_mode", "single") == "single":
        _add(found, CUSTOMERS, customers.get("guest_customer"), "customers.yaml guest_customer")
    for name, entry in (ctx.template("payments").get("methods") or {}).items():
        _add(
            found,
            PAYMENT_METHODS,
            (entry or {}).get("payment_method"),
            f"payments.yaml methods.{name}",
        )
    products = ctx.template("products")
    if products.get("create_stock_items"):
        item_class = (products.get("new_stock_item") or {}).get("ItemClass")
        _add(found, ITEM_CLASSES, item_class, "products.yaml new_stock_item.ItemClass")
    return found


def _fold(code: Any) -> str:
    return str(code or "").strip().upper()


def read_kind(
    ctx: Context, kind: Kind, codes: Iterable[str] = ()
) -> dict[str, dict[str, Any]] | None:
    """The records of a kind (every one, or ``codes`` for a kind read by key), by folded code;
    ``None`` when the instance does not serve the kind."""

    def read() -> dict[str, dict[str, Any]] | None:
        client = ctx.acumatica()
        select = [kind.key, *kind.fields]
        try:
            if kind.dac:
                rows: Iterable[dict[str, Any]] = list(client.odata.dac(kind.dac, select=select))
            elif kind.by_key:
                client.get_list(kind.entity or "", select=[kind.key], top=1)
                found = (
                    client.get_by_keys(kind.entity or "", code, select=select, missing_ok=True)
                    for code in sorted(set(codes))
                )
                rows = [row for row in found if row is not None]
            else:
                rows = client.get_list(kind.entity or "", select=select)
        except SyncError as exc:
            if exc.details.get("status") in (403, 404, 405):
                return None
            raise
        return {_fold(row.get(kind.key)): row for row in rows if row.get(kind.key)}

    return ctx.memo(f"reference:{kind.name}", read)


def suggestions(code: str, known: Iterable[str], limit: int = 6) -> list[str]:
    """The closest codes Acumatica has, else the first few of them."""
    codes = sorted(set(known))
    close = difflib.get_close_matches(code.upper(), codes, n=3, cutoff=0.5)
    return close or codes[:limit]


def check_kind(kind: Kind) -> Callable[[Context], Result | None]:
    def check(ctx: Context) -> Result | None:
        name = f"reference.{kind.name}"
        needs = template_needs(ctx).get(kind.name)
        if not needs:
            return None
        ctx.require("acumatica")
        have = read_kind(ctx, kind, (n.code for n in needs))
        where = f"{kind.dac} (OData)" if kind.dac else kind.entity
        if have is None:
            return Result(
                name,
                GROUP,
                "warn",
                f"the instance does not serve {where}: the {kind.label} codes could not be read",
                f"check on {kind.screen} by hand: {', '.join(sorted({n.code for n in needs}))}",
            )
        problems: list[str] = []
        missing: dict[str, Any] = {}
        for need in needs:
            row = have.get(_fold(need.code))
            if row is None:
                hint = suggestions(need.code, [c for c, r in have.items() if not kind.inactive(r)])
                missing[need.code] = {"where": need.where, "suggestions": hint}
                problems.append(
                    f"{need.code!r} ({need.where}) is not in Acumatica"
                    + (f" (it has {', '.join(hint)})" if hint else "")
                )
            elif why := kind.inactive(row):
                missing[need.code] = {"where": need.where, "reason": why}
                problems.append(f"{need.code!r} ({need.where}) is {why}")
        codes = sorted({n.code for n in needs})
        if problems:
            return Result(
                name,
                GROUP,
                "fail",
                f"{kind.label}: " + "; ".join(problems),
                f"create or activate it on {kind.screen}, or change the template to a code "
                "Acumatica has",
                {"problems": missing, "checked": codes},
            )
        return Result(
            name,
            GROUP,
            "pass",
            f"{kind.name.replace('_', ' ')} {', '.join(codes)} exist"
            + (" and are active" if kind.fields else ""),
            details={"checked": codes},
        )

    check.__name__ = kind.name
    return check


def cash_accounts(ctx: Context) -> Result | None:
    """Each mapped (payment method, cash account) pair: the account is allowed for the method
    and for AR (the payment method's Allowed Cash Accounts, CA204000)."""
    name = "reference.cash_accounts"
    pairs: dict[tuple[str, str], str] = {}
    for label, entry in (ctx.template("payments").get("methods") or {}).items():
        method, account = (entry or {}).get("payment_method"), (entry or {}).get("cash_account")
        if method and account:
            pairs.setdefault((str(method), str(account)), f"payments.yaml methods.{label}")
    if not pairs:
        return None
    ctx.require("acumatica")
    client = ctx.acumatica()
    problems: list[str] = []
    details: dict[str, Any] = {}
    for method in sorted({m for m, _ in pairs}):
        try:
            record = client.get_by_keys(
                "PaymentMethod", method, expand=["AllowedCashAccounts"], missing_ok=True
            )
        except SyncError as exc:
            if exc.details.get("status") in (403, 404, 405):
                return Result(
                    name,
                    GROUP,
                    "warn",
                    "the instance does not serve PaymentMethod: cash accounts could not be read",
                    "check each payment method's Allowed Cash Accounts on CA204000 by hand",
                )
            raise
        if record is None:
            continue  # reported by the payment methods check
        allowed = {
            _fold(row.get("CashAccount")): row for row in record.get("AllowedCashAccounts") or ()
        }
        for (wanted_method, account), where in sorted(pairs.items()):
            if wanted_method != method:
                continue
            row = allowed.get(_fold(account))
            if row is None:
                hint = sorted(allowed)
                problems.append(
                    f"{account!r} is not an allowed cash account of {method} ({where})"
                    + (f" (it allows {', '.join(hint)})" if hint else "")
                )
                details[f"{method}/{account}"] = {"where": where, "allowed": hint}
            elif row.get("UseInAR") is False:
                problems.append(f"{account!r} is not used in AR for {method} ({where})")
                details[f"{method}/{account}"] = {"where": where, "reason": "not used in AR"}
    checked = sorted(f"{m}/{a}" for m, a in pairs)
    if problems:
        return Result(
            name,
            GROUP,
            "fail",
            "cash account: " + "; ".join(problems),
            "add the account to the payment method's Allowed Cash Accounts (CA204000) with "
            "Use in AR ticked, or map the method to an allowed account",
            {"problems": details, "checked": checked},
        )
    return Result(
        name,
        GROUP,
        "pass",
        f"cash accounts allowed for their payment methods: {', '.join(checked)}",
        details={"checked": checked},
    )


def journal_accounts(ctx: Context) -> Result | None:
    """With ``post_as: journal``, every GL account the payments template posts to exists in
    Acumatica and is active (``Account``, GL202500): what a worker otherwise finds out at its
    first journal entry."""
    from sync_workers.mapping import payments as payment_map
    from sync_workers.validation.journal import account_problems

    name = "reference.journal_accounts"
    template = ctx.template("payments")
    if payment_map.post_as(template) != "journal":
        return None
    ctx.require("acumatica")
    checked = sorted({code for code in payment_map.journal_accounts(template).values() if code})
    problems = account_problems(ctx.acumatica(), template)
    if problems:
        return Result(
            name,
            GROUP,
            "fail",
            "journal accounts: " + "; ".join(problems),
            "create or activate the account on GL202500, or change payments.yaml's journal "
            "settings to accounts Acumatica has",
            {"problems": problems, "checked": checked},
        )
    return Result(
        name,
        GROUP,
        "pass",
        f"journal accounts exist and are active: {', '.join(checked)}",
        details={"checked": checked},
    )


KINDS = (
    ORDER_TYPES,
    BRANCHES,
    WAREHOUSES,
    SHIP_VIAS,
    TAXES,
    TAX_ZONES,
    CUSTOMER_CLASSES,
    CUSTOMERS,
    PAYMENT_METHODS,
    ITEM_CLASSES,
)
CHECKS = (*(check_kind(kind) for kind in KINDS), cash_accounts, journal_accounts)
