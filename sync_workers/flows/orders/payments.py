"""An order's payments, refunds and returns, as its chain handles them.

A new order's captured or authorised transactions go in its PUT, on the sales order's
``Payments`` tab (:func:`order_payments`); :func:`payments_in` reads back which of them the
sales order holds. The transactions and refunds that come later are recorded by the payments
flow's chains, run inline by the order's ``payments`` step (:func:`record_payments`). An edit
that takes goods off an order Acumatica has shipped becomes a return order, when the payments
template asks for it (:func:`return_for_edit`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows.payments import refunds as refund_steps
from sync_workers.flows.runner import run_inline
from sync_workers.flows.shape import State
from sync_workers.mapping import orders as order_map
from sync_workers.mapping import payments as payment_map
from sync_workers.mapping.templates import load_template

PAYMENTS = "payments"  # the payments flow, whose locks an order's task takes with its own
#: What the orders flow reads of a sales order (its push and its look-ups).
ORDER_SELECT = ("OrderType", "OrderNbr", "Status", "CustomerOrder", "OrderTotal", "TaxTotal")
#: What a return order's look-up and create read back.
RETURN_SELECT = ("OrderType", "OrderNbr", "Status", "CustomerOrder")
#: What the push reads of the payments created with an order (``Payments`` detail).
ORDER_PAYMENT_SELECT = tuple(
    f"Payments/{name}"
    for name in ("DocType", "ReferenceNbr", "PaymentRef", "Status", "AppliedToOrder")
)


def order_payments(
    state: Mapping[str, Any], orders_template: Mapping[str, Any]
) -> list[tuple[str, dict[str, Any]]]:
    """``(transaction id, Payments row)`` of each payment a new order is created with: its
    transactions that become payments (captured, or authorised: on hold), each applied to the
    order for its amount, as long as the order total allows.

    None when Acumatica computes the tax (``tax.mode: compute``): its order total is then not
    known before the PUT, and Acumatica refuses payments applied beyond it, so the payments
    follow the sales order (a PUT Payment each)."""
    pay_tmpl = load_template(PAYMENTS)
    computed_tax = (orders_template.get("tax") or {}).get("mode") == "compute"
    if computed_tax or not payment_map.with_order(pay_tmpl):
        return []
    order = state["order"]
    code = (order.get("payment_status") or {}).get("code")
    left = order_map.money(order.get("total"))
    rows = []
    for txn in state.get("transactions") or []:
        action = payment_map.action(txn, code, pay_tmpl)
        if action not in ("record", "hold"):
            continue
        applied = max(min(order_map.money(txn.get("value")), left), order_map.money(0))
        left -= applied
        row = payment_map.to_order_payment(
            txn,
            pay_tmpl,
            applied=applied,
            on_hold=action == "hold",
            order_number=order.get("order_number"),
        )
        rows.append((str(txn["id"]), row))
    return rows


def with_payments(found: Mapping[str, Any]) -> dict[str, Any]:
    """A sales order found by a look-up, read again by its keys with its ``Payments`` (a list
    read with a detail expanded may fail with Acumatica's optimisation error; by keys never)."""
    again = clients.acumatica().get_by_keys(
        "SalesOrder",
        str(found["OrderType"]),
        str(found["OrderNbr"]),
        expand=["Payments"],
        select=[*ORDER_SELECT, *ORDER_PAYMENT_SELECT],
        missing_ok=True,
    )
    return again or dict(found)


def payments_in(
    sales_order: Mapping[str, Any], rows: Mapping[str, Mapping[str, Any]], claims: Mapping[str, Any]
) -> dict[str, str]:
    """``{transaction id: "<DocType>/<ReferenceNbr>"}`` of the claimed payments the sales
    order holds (matched by ``PaymentRef``)."""
    by_ref = {
        str(row.get("PaymentRef")): f"{row.get('DocType')}/{row.get('ReferenceNbr')}"
        for row in sales_order.get("Payments") or []
        if row.get("PaymentRef") and row.get("ReferenceNbr")
    }
    return {
        txn_id: by_ref[str(rows[txn_id]["PaymentRef"])]
        for txn_id in claims
        if str(rows[txn_id]["PaymentRef"]) in by_ref
    }


def row_status(sales_order: Mapping[str, Any], payment_key: str) -> Any:
    for row in sales_order.get("Payments") or []:
        if f"{row.get('DocType')}/{row.get('ReferenceNbr')}" == payment_key:
            return row.get("Status")
    return None


def link_data(state: Mapping[str, Any]) -> dict[str, Any]:
    """What the ledger keeps of an order for its payments (see ``payments.order_link``)."""
    return {
        "order_number": state["order"].get("order_number"),
        "customer_id": state.get("customer_id"),
    }


def ledger_link(state: Mapping[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """``(sales order key, ledger data)`` when this run's push linked the order (its payments
    then need not read the link back); ``None`` otherwise."""
    if "created" not in state or not state.get("target_key"):
        return None
    return str(state["target_key"]), link_data(state)


def payment_transactions(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The transactions of a synced order that become Acumatica payments (those its push
    created with the sales order excepted)."""
    if not state.get("target_key") or state.get("skip") == "payment status D":
        return []
    code = (state["order"].get("payment_status") or {}).get("code")
    pay_tmpl = load_template(PAYMENTS)
    done = state.get("paid_with_order") or {}
    return [
        txn
        for txn in state.get("transactions") or []
        if str(txn["id"]) not in done
        and payment_map.action(txn, code, pay_tmpl) in ("record", "hold")
    ]


def refunds(state: Mapping[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(refund, transaction it pays back)`` of every refund the order's transactions hold."""
    code = (state["order"].get("payment_status") or {}).get("code")
    return refund_steps.refunds_of_order(
        list(state.get("transactions") or []), code, load_template(PAYMENTS)
    )


def record_payments(state: State) -> State:
    """Each payment, then each refund, to record, run here as the payments flow's own chains;
    one that fails continues in its own task (the order is done either way)."""
    code = (state["order"].get("payment_status") or {}).get("code")
    link = ledger_link(state)
    # a sales order this task created has no other payments: nothing to look up
    verify = bool(state.get("verify")) and not state.get("created")
    order_id = state["record_id"]
    done = [
        {"record_id": txn_id, "target_key": key, "created": bool(state.get("created"))}
        for txn_id, key in (state.get("paid_with_order") or {}).items()
    ]
    state["payments"] = done + [
        run_inline(
            PAYMENTS,
            "sync",
            str(txn["id"]),
            order_id=order_id,
            transaction=txn,
            order_payment_code=code,
            verify=verify,
            link=list(link) if link else None,
        )
        for txn in payment_transactions(state)
    ]
    state["refunds"] = (
        [
            run_inline(
                PAYMENTS,
                "refund",
                str(refund["id"]),
                order_id=order_id,
                transaction=txn,
                refund=refund,
                verify=bool(state.get("verify")),
            )
            for refund, txn in refunds(state)
        ]
        if state.get("target_key") and state.get("skip") != "payment status D"
        else []
    )
    state["summary"] = {"payments": state["payments"], "refunds": state["refunds"]}
    return state


def returns_settings() -> dict[str, Any]:
    """``refunds.returns`` of the payments template (``enabled`` false when absent)."""
    return dict((load_template(PAYMENTS).get("refunds") or {}).get("returns") or {})


def return_lines(
    current: Mapping[str, Any],
    wanted: Sequence[Mapping[str, Any]],
    returned: Sequence[Mapping[str, Any]],
) -> list[dict[str, Any]]:
    """What a return order must take back so that the shipped quantities of ``current`` (a
    sales order), less what the return orders ``returned`` already take back, come down to the
    quantities ``wanted`` (the sales order lines the X-Cart order asks for now): a line per
    item short, at the unit price it was sold for, from the warehouse it left."""

    def totals(rows: Sequence[Mapping[str, Any]], shipped: bool) -> dict[str, Decimal]:
        out: dict[str, Decimal] = {}
        for row in rows:
            key = str(row.get("InventoryID") or "").strip().upper()
            amount = order_map.money(row.get("OrderQty"))
            if shipped:
                amount -= order_map.money(row.get("OpenQty"))
            out[key] = out.get(key, Decimal(0)) + amount
        return out

    sold = totals(list(current.get("Details") or []), shipped=True)
    back = totals([line for order in returned for line in order.get("Details") or []], False)
    now = totals(wanted, shipped=False)
    made: list[dict[str, Any]] = []
    for line in current.get("Details") or []:
        key = str(line.get("InventoryID") or "").strip().upper()
        short = sold.get(key, Decimal(0)) - back.get(key, Decimal(0)) - now.get(key, Decimal(0))
        if short <= 0 or key in {m["InventoryID"].upper() for m in made}:
            continue
        made.append(
            {
                "InventoryID": str(line["InventoryID"]),
                "OrderQty": float(short),
                "UnitPrice": float(order_map.money(line.get("DiscountedUnitPrice"))),
                "ManualPrice": True,
                "WarehouseID": line.get("WarehouseID"),
                "LineDescription": line.get("LineDescription"),
            }
        )
    return [{k: v for k, v in m.items() if v is not None} for m in made]


def return_for_edit(state: Mapping[str, Any], current: Mapping[str, Any]) -> str | None:
    """A return order for an edit of an order Acumatica has shipped, when the payments
    template asks for it (``refunds.returns.enabled``): X-Cart staff lowered an item's
    quantity or removed it, so the goods come back. ``None`` when returns are off or the
    sales order is not Completed (the edit is then not applied).

    Exactly once: the order's task holds the order's lock, and the return orders already
    made for the sales order (same ``CustomerOrder``, return order type) are read first; only
    what they do not take back yet is returned, so a repeat (a retry after a lost answer, a
    duplicated change) creates nothing."""
    settings = returns_settings()
    if not settings.get("enabled") or current.get("Status") != "Completed":
        return None
    order_type = str(settings.get("order_type") or "RC")
    client = clients.acumatica()
    returned = [
        row
        for row in client.get_list(
            "SalesOrder",
            filter=(F("OrderType") == order_type)
            & (F("CustomerOrder") == str(current["CustomerOrder"])),
            expand=["Details"],
            select=[*RETURN_SELECT, "Details/InventoryID", "Details/OrderQty"],
        )
        if row.get("Status") != "Canceled"
    ]
    orders_template = load_template("orders")
    wanted = order_map.lines(state["order"], orders_template, None)
    details = return_lines(current, wanted, returned)
    if not details:
        return "edit of a Completed sales order: nothing left to return"
    number = state["order"].get("order_number")
    made = client.put(
        "SalesOrder",
        {
            "OrderType": order_type,
            "CustomerID": current["CustomerID"],
            "CustomerOrder": current["CustomerOrder"],
            "CurrencyID": current.get("CurrencyID"),
            "Description": f"Return of X-Cart order #{number} ({current['OrderType']} "
            f"{current['OrderNbr']})",
            "Details": details,
        },
        select=list(RETURN_SELECT),
    )
    return f"returned: {made['OrderType']}/{made['OrderNbr']}"
