"""A dry run of real data: the recent orders validated as the orders flow would, and what each
flow's ``plan`` would do for them and for the catalogue. Nothing is written anywhere.

The validation is the orders flow's own (``sync_workers.validation.orders``) without its step:
the SKUs are looked up read-only (the fleet's SKU set when it is fresh, else by key), where the
step would refresh that set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from sync_workers.errors import PermanentError
from sync_workers.flows.orders.steps import DIRECTION
from sync_workers.flows.orders.steps import NAME as ORDERS
from sync_workers.flows.shape import PlannedChange
from sync_workers.ledger import peek_by_source, session_scope
from sync_workers.mapping import orders as order_map
from sync_workers.preflight.context import Context
from sync_workers.preflight.results import Result
from sync_workers.redis_client import prefixed
from sync_workers.validation import orders as order_checks

GROUP = "dry_run"
#: Failing orders listed in the summary line (all of them are in ``details``).
LISTED = 5
#: Planned changes listed in ``details`` per flow, and the characters shown of a field value.
LISTED_CHANGES = 50
VALUE_CHARS = 120
#: The flows planned: the recent orders and their payments, the catalogue both ways.
PLANNED = ("orders", "payments", "products", "inventory")


def sku_checker(ctx: Context, inventory_ids: Iterable[str]) -> Callable[[str], bool]:
    """Which of these InventoryIDs Acumatica has, read without writing: the fleet's shared set
    when it is fresh, each other one by key."""
    wanted = sorted({str(i).strip().upper() for i in inventory_ids if i})
    redis = ctx.redis
    known: set[str] = set()
    shared = prefixed("orders", "skus")  # sync_workers.validation.known_skus's set
    if wanted and redis.exists(prefixed("orders", "skus", "fresh")):
        flags = redis.smismember(shared, wanted)
        known = {sku for sku, member in zip(wanted, flags, strict=True) if member}
    client = ctx.acumatica()
    for sku in wanted:
        if sku not in known and client.get_by_keys(
            "StockItem", sku, select=["InventoryID"], missing_ok=True
        ):
            known.add(sku)
    return lambda inventory_id: inventory_id.strip().upper() in known


def order_problems(ctx: Context) -> list[dict[str, Any]]:
    """The recent orders that would be refused, each with its field errors."""
    orders = ctx.recent_orders()
    tmpl, payments = ctx.template("orders"), ctx.template("payments")
    skus = (
        order_map.inventory_id(str(item.get("sku") or ""), tmpl)
        for order in orders
        for item in order.get("items") or ()
        if item.get("sku")
    )
    sku_known = sku_checker(ctx, skus)
    failing = []
    with session_scope() as session:
        linked = {
            str(order["id"])
            for order in orders
            if (row := peek_by_source(session, ORDERS, DIRECTION, str(order["id"])))
            and row.target_key
        }
    for order in orders:
        if str(order["id"]) in linked:
            continue  # its sales order exists: the chain does not validate it again
        try:
            if order_map.payment_action(order, tmpl) == "skip":
                continue
        except PermanentError as exc:
            problems = dict(exc.field_errors)
        else:
            transactions: list[Mapping[str, Any]] = list(ctx.transactions(order["id"]))
            problems = order_checks.order_and_payment_problems(
                order, transactions, tmpl, payments, sku_known=sku_known
            )
        if problems:
            failing.append(
                {
                    "order_id": order["id"],
                    "order_number": order.get("order_number"),
                    "field_errors": problems,
                }
            )
    return failing


def orders_validate(ctx: Context) -> Result:
    name = "dry_run.orders_validate"
    ctx.require("xcart", "acumatica")
    orders = ctx.recent_orders()
    if not orders:
        return Result(name, GROUP, "pass", f"{ctx.no_orders()}: nothing to validate")
    failing = order_problems(ctx)
    if not failing:
        return Result(
            name, GROUP, "pass", f"the last {len(orders)} orders pass the orders flow's checks"
        )
    shown = "; ".join(
        f"#{f['order_number']} "
        + ", ".join(f"{field}: {why}" for field, why in sorted(f["field_errors"].items()))
        for f in failing[:LISTED]
    )
    more = f" (and {len(failing) - LISTED} more)" if len(failing) > LISTED else ""
    return Result(
        name,
        GROUP,
        "fail",
        f"{len(failing)} of the last {len(orders)} orders would be dead-lettered: {shown}{more}",
        "fix the mapping each field names (templates under MAPPING_TEMPLATES_DIR) or the data "
        "in the store; orders already dead-lettered replay with `dlq replay` once fixed",
        {"failing": failing},
    )


def _shown(value: Any) -> Any:
    """A field value as listed in the details: long text cut short."""
    if isinstance(value, str) and len(value) > VALUE_CHARS:
        return value[: VALUE_CHARS - 3] + "..."
    return value


def _change(change: PlannedChange) -> dict[str, Any]:
    return {
        "source_id": change.source_id,
        "action": change.action,
        "target_key": change.target_key,
        "reason": change.reason,
        "fields": [
            {"field": c.field, "current": _shown(c.current), "proposed": _shown(c.proposed)}
            for c in change.changes
        ],
    }


def plan(flow: str) -> Callable[[Context], Result]:
    """What the flow's ``plan`` (``resync --dry-run``) would do over the recent orders (orders,
    payments) or the catalogue (products, inventory), with the fields that would change."""

    def check(ctx: Context) -> Result:
        from sync_workers.flows.runner import definition

        name = f"dry_run.plan_{flow}"
        ctx.require("xcart", "acumatica")
        by_orders = flow in ("orders", "payments")
        ids = [str(o["id"]) for o in ctx.recent_orders()] if by_orders else None
        if by_orders and not ids:
            return Result(name, GROUP, "pass", f"{flow}: {ctx.no_orders()}: nothing to plan")
        try:
            changes = definition(flow).plan(ids=ids, all=False)
        except Exception as exc:
            return Result(
                name,
                GROUP,
                "fail",
                f"planning {flow} failed: {type(exc).__name__}: {' '.join(str(exc).split())[:200]}",
                f"run `celery -A sync_workers resync {flow} --dry-run` for the whole answer",
            )
        counts = dict(Counter(c.action for c in changes))
        scope = f"the last {len(ids)} orders" if ids else "the catalogue"
        said = ", ".join(f"{n} {action}" for action, n in sorted(counts.items())) or "nothing"
        fields = Counter(f.field for c in changes for f in c.changes)
        differ = ", ".join(f"{f} ({n})" for f, n in sorted(fields.items()))
        acted = [c for c in changes if c.action != "skip"]
        details: dict[str, Any] = {
            "counts": counts,
            "fields": dict(fields),
            "changes": [_change(c) for c in acted[:LISTED_CHANGES]],
        }
        errors = [c for c in changes if c.action == "error"]
        if errors:
            details["errors"] = [{"source_id": c.source_id, "reason": c.reason} for c in errors]
        return Result(
            name,
            GROUP,
            "fail" if errors else "pass",
            f"{flow} over {scope}: {said}"
            + (f"; fields that differ: {differ}" if differ else "")
            + " (nothing written)",
            f"`celery -A sync_workers resync {flow} --dry-run` lists them" if errors else "",
            details,
        )

    check.__name__ = f"plan_{flow}"
    return check


CHECKS = (orders_validate, *(plan(flow) for flow in PLANNED))
