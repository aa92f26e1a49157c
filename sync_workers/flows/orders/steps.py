"""The steps of an order's chains.

``sync``: an X-Cart order becomes one Acumatica sales order, whatever happens, then its payments
(run inline, each continuing as its own task should it fail). Exactly once in effect rests on:

* the ledger row per order (unique per source id and per target key);
* a Redis lock per order around the push;
* a remote look-up by ``CustomerOrder`` before any create the ledger cannot prove safe. The
  ledger proves it when no earlier attempt ever sent the PUT: ``put_sent`` is committed before
  the PUT goes out, so a retry after a lost answer (or a replay) always looks first.

A resync (``verify``) must look even when the ledger says new; its poll looks the orders up in
batches (``changes.look_up_batch``) and hands each chain its answer (``remote``). That answer proves
absence only while the ledger row shows no PUT was ever sent, which the push checks under the
lock (else it looks again, alone).

The order's payments known at creation (its captured or authorised transactions) go in the same
PUT, on the sales order's ``Payments`` tab: Acumatica creates the order and its payments in one
transaction, or none of them. Their ledger rows are marked ``put_sent`` with the order's and
linked from the PUT's answer (or, after a lost answer, from the order found with its payments),
so their own chains find them linked, or look them up first. A new paid order with a known
customer therefore costs one Acumatica call. Transactions and refunds that come later are
recorded by the payments flow's chains, run inline by the ``payments`` step.

``status``: a sales-order status from a ``SalesOrders`` push notification is recorded, and moves
the X-Cart shipping status where the template maps it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.dates import parse_optional
from sync_workers.errors import PermanentError
from sync_workers.flows import customers
from sync_workers.flows.orders.payments import (
    ORDER_PAYMENT_SELECT,
    ORDER_SELECT,
    PAYMENTS,
    link_data,
    order_payments,
    payments_in,
    refunds,
    return_for_edit,
    row_status,
    with_payments,
)
from sync_workers.flows.payments import refunds as refund_steps
from sync_workers.flows.runner import note_handled
from sync_workers.flows.shape import Start, State
from sync_workers.hashing import content_hash
from sync_workers.ledger import (
    Claim,
    claim_for_create,
    claim_record,
    find_by_target,
    link_claimed,
    peek_by_source,
    session_scope,
)
from sync_workers.locks import check_no_write_in_flight, record_lock, record_locks
from sync_workers.mapping import orders as order_map
from sync_workers.mapping.templates import load_template
from sync_workers.redis_client import Reader, read_together
from sync_workers.tracing import current_trace_id
from sync_workers.validation import history, known_skus, risk
from sync_workers.validation import orders as order_checks

log = logging.getLogger(__name__)

NAME = "orders"
DIRECTION = "xcart_to_acumatica"
LOCK_WAIT = 20.0
OPEN_STATUSES = ("Open", "On Hold", "Credit Hold", "Pending Approval", "Back Order")
EDITABLE_STATUSES = ("Open", "On Hold")
VOLATILE = frozenset({"update_date", "tracking_numbers"})


def template() -> dict[str, Any]:
    return load_template(NAME)


def order_hash(order: Mapping[str, Any]) -> str:
    return content_hash(order, VOLATILE)


def target_key(sales_order: Mapping[str, Any]) -> str:
    return f"{sales_order['OrderType']}/{sales_order['OrderNbr']}"


# Steps ---------------------------------------------------------------------------------------


def fetch(state: State) -> State:
    """The order, its payment transactions and (for a new buyer) the profile, from X-Cart.

    Hints: ``order`` is the order as a poll or webhook just read it (saves one read);
    ``verify`` (resync and repair) makes the push look the order up in Acumatica even when the
    ledger says it is new, which is how a lost or restored ledger is caught up; ``remote`` is the
    poll's batched look-up of this order (``{"found": <sales order or None>}``), which the push
    uses instead of its own look-up when the ledger allows it.
    """
    order_id = state["record_id"]
    order = state.get("order")
    verify = bool(state.get("verify"))
    remote = state.get("remote")
    xcart = clients.xcart()
    if not isinstance(order, Mapping) or str(order.get("id")) != str(order_id):
        order = xcart.get_order(int(order_id))
    transactions = xcart.payment_transactions(int(order_id))
    profile = linked = None
    if order.get("customer_id"):
        linked = customers.linked_customer(f"profile:{int(order['customer_id'])}")
        if not linked:
            profile = xcart.get_profile(int(order["customer_id"]))
    fetched: State = {
        "record_id": str(order_id),
        "order": order,
        "transactions": transactions,
        "profile": profile,
        "hash": order_hash(order),
        "verify": verify,
    }
    if linked:
        fetched["customer_link"] = linked
    if verify and isinstance(remote, Mapping):
        fetched["remote"] = {"found": remote.get("found")}
    with session_scope() as session:
        record = peek_by_source(session, NAME, DIRECTION, str(order_id))
        if record is not None and record.target_key:
            fetched["target_key"] = record.target_key
            if record.content_hash == fetched["hash"]:
                fetched["skip"] = "unchanged"
    return fetched


def validate(state: State) -> State:
    """Every check before the first write; raises ``PermanentError`` naming the bad fields."""
    if state.get("skip") or state.get("target_key"):
        return state
    order = state["order"]
    tmpl = template()
    if order_map.payment_action(order, tmpl) == "skip":
        state["skip"] = "payment status " + str((order.get("payment_status") or {}).get("code"))
        return state
    rules = (tmpl.get("risk") or {}).get("rules") or {}
    window = float(rules.get("velocity_window_minutes") or 60)
    sku_known, past = read_together(  # one round trip for both
        _skus_reader(order, tmpl), history.recent_reader(order, window)
    )
    transactions = state.get("transactions") or []
    order_checks.raise_problems(order, _problems(order, transactions, sku_known))
    assessment = risk.assess(order, transactions, past, rules)
    state["risk"] = {"score": assessment.score, "reasons": list(assessment.reasons)}
    state["hold"] = assessment.holds((tmpl.get("risk") or {}).get("hold_threshold", 10**9))
    return state


def _skus_reader(order: Mapping[str, Any], tmpl: Mapping[str, Any]) -> Reader:
    skus = (str(item.get("sku") or "") for item in order.get("items") or [])
    return known_skus.checker_reader(order_map.inventory_id(s, tmpl) for s in skus if s)


def _problems(
    order: Mapping[str, Any],
    transactions: list[Mapping[str, Any]],
    sku_known: Callable[[str], bool] | None = None,
) -> dict[str, str]:
    tmpl = template()
    if sku_known is None:
        sku_known = read_together(_skus_reader(order, tmpl))[0]
    return order_checks.order_and_payment_problems(
        order, transactions, tmpl, load_template("payments"), sku_known=sku_known
    )


def customer(state: State) -> State:
    """The Acumatica customer of the order's buyer: linked, matched or created, once."""
    if state.get("skip") or state.get("target_key"):
        return state
    state["customer_id"] = customers.ensure_for_order(
        state["order"], state.get("profile"), linked=state.get("customer_link")
    )
    return state


def transform(state: State) -> State:
    """Build the sales order."""
    if state.get("skip") or state.get("target_key"):
        return state
    reasons = state["risk"]["reasons"] if state.get("hold") else []
    state["sales_order"] = order_map.to_sales_order(
        state["order"], template(), customer_id=state["customer_id"], hold_reasons=reasons
    )
    rows = order_payments(state, template())
    if rows:
        state["with_order"] = {txn_id: row for txn_id, row in rows}
    return state


def find_remote(order_type: str, customer_order: str) -> dict[str, Any] | None:
    """The sales order already holding this ``CustomerOrder``, if any."""
    rows = clients.acumatica().get_list(
        "SalesOrder",
        filter=(F("OrderType") == order_type) & (F("CustomerOrder") == customer_order),
        select=list(ORDER_SELECT),
        top=1,
    )
    return rows[0] if rows else None


@contextmanager
def locked(state: Mapping[str, Any]) -> Iterator[None]:
    """Hold the order's lock and its transactions' for the push, the write-back and the payments,
    taken in one Redis round trip (the steps' own locks are then re-entrant: no more trips). An
    order with nothing to push takes none."""
    if state.get("skip"):
        yield
        return
    records = [(NAME, str(state["record_id"]))]
    records += [(PAYMENTS, str(txn["id"])) for txn in state.get("transactions") or []]
    records += [(PAYMENTS, refund_steps.source_id(str(r["id"]))) for r, _ in refunds(state)]
    with record_locks(records, wait=LOCK_WAIT):
        yield


def push(state: State) -> State:
    """Create the sales order once, with the payments known now (or cancel it, for a
    cancelled X-Cart order, or apply an edit or a refund to it)."""
    if state.get("skip"):
        return state
    if state.get("target_key"):
        return _push_change(state)
    order_id = state["record_id"]
    sales_order = state["sales_order"]
    rows: dict[str, dict[str, Any]] = state.get("with_order") or {}
    with record_lock(NAME, order_id, wait=LOCK_WAIT):
        trace_id = current_trace_id()
        with session_scope() as session:
            claim = claim_for_create(session, NAME, DIRECTION, order_id, trace_id=trace_id)
            payment_claims: dict[str, Claim] = {}
            if not claim.target_key:  # the payments go out with the order: marked with it
                for txn_id in rows:
                    paid = claim_for_create(session, PAYMENTS, DIRECTION, txn_id, trace_id=trace_id)
                    if not paid.target_key:
                        payment_claims[txn_id] = paid
        if claim.target_key:
            state["target_key"] = claim.target_key
            state["skip"] = "already synced"
            return state
        found = None
        if claim.put_sent or (state.get("verify") and "remote" not in state):
            found = find_remote(sales_order["OrderType"], sales_order["CustomerOrder"])
        elif state.get("verify"):  # no PUT was ever sent: the poll's look-up still holds
            found = state["remote"]["found"]
        if found is None:
            if claim.put_sent:
                check_no_write_in_flight()
            body = dict(sales_order)
            if payment_claims:
                body["Payments"] = [rows[txn_id] for txn_id in payment_claims]
            result = clients.acumatica().put(
                "SalesOrder",
                body,
                expand=["Payments"] if payment_claims else None,
                select=[*ORDER_SELECT, *(ORDER_PAYMENT_SELECT if payment_claims else ())],
            )
            state["created"] = True
        else:
            if payment_claims and claim.put_sent:  # created by our lost PUT: with its payments?
                found = with_payments(found)
            result = found
            state["created"] = False
        key = target_key(result)
        paid_with = payments_in(result, rows, payment_claims)
        with session_scope() as session:
            link_claimed(
                session,
                claim,
                target_key=key,
                content_hash=None if _changes_after_create(state) else state["hash"],
                source_updated_at=parse_optional(state["order"].get("update_date")),
                data={
                    **link_data(state),
                    "status": result.get("Status"),
                    "order_total": result.get("OrderTotal"),
                    "tax_total": result.get("TaxTotal"),
                    "risk": state.get("risk"),
                },
                followup_due=True,  # its payments: see ``payments.unsynced``
            )
            for txn_id, payment_key in paid_with.items():
                link_claimed(
                    session,
                    payment_claims[txn_id],
                    target_key=payment_key,
                    data={
                        "order_id": str(order_id),
                        "order_key": key,
                        "status": row_status(result, payment_key),
                        "amount": rows[txn_id].get("PaymentAmount"),
                        "with_order": True,
                    },
                )
    for txn_id in paid_with:  # each payment's history: created by this push
        note_handled(PAYMENTS, "sync", txn_id, ["push"])
    state["target_key"] = key
    state["acumatica"] = {k: result.get(k) for k in ORDER_SELECT}
    state["paid_with_order"] = paid_with
    if _changes_after_create(state):  # created for the record, then cancelled at once
        _push_change(state)
    return state


def _changes_after_create(state: Mapping[str, Any]) -> bool:
    """A new order X-Cart already cancelled or refunded: created (with its payments, for the
    record), then cancelled like any synced order."""
    return order_map.payment_action(state["order"], template()) in ("cancel", "refund")


def _push_change(state: State) -> State:
    """An order already synced changed in X-Cart: cancel it, refund it, or apply the edit.

    A refunded order (``R``) is cancelled like a cancelled one while Acumatica has not shipped
    it (X-Cart put its stock back); once shipped it stays as it is (a return is Acumatica's to
    make). The money goes back through the refunds the ``payments`` step records.
    """
    order = state["order"]
    action = order_map.payment_action(order, template())
    order_type, order_nbr = state["target_key"].split("/", 1)
    with record_lock(NAME, state["record_id"], wait=LOCK_WAIT):
        if action in ("cancel", "refund"):
            state["change"] = _cancel(state, order_type, order_nbr, refunded=action == "refund")
        else:
            state["change"] = _apply_edit(state, order_type, order_nbr)
        with session_scope() as session:
            record = claim_record(session, NAME, DIRECTION, state["record_id"])
            record.content_hash = state["hash"]
            record.followup_due = True
            record.data = {**(record.data or {}), "last_change": state["change"]}
            if state["change"] in ("cancelled", "refunded"):
                record.data = {**record.data, "status": "Canceled"}
    return state


def _cancel(state: State, order_type: str, order_nbr: str, *, refunded: bool) -> str:
    """Cancel the sales order of a cancelled or refunded X-Cart order, once; a cancelled order
    Acumatica already shipped is dead-lettered (a refunded one is left as it is)."""
    order = state["order"]
    client = clients.acumatica()
    current = client.get_by_keys("SalesOrder", order_type, order_nbr, select=["Status"])
    status = (current or {}).get("Status")
    if status in OPEN_STATUSES:
        client.invoke_action(
            "SalesOrder", "CancelSalesOrder", {"OrderType": order_type, "OrderNbr": order_nbr}
        )
    elif status != "Canceled":
        if refunded:
            log.info("order %s refunded after its sales order became %s", order.get("id"), status)
            return f"refunded after {status}: sales order kept"
        raise PermanentError(
            f"X-Cart order {order.get('order_number')} was cancelled but sales order "
            f"{state['target_key']} is {status}: cancel or return it in Acumatica",
            field_errors={"payment_status.code": f"cancelled after {status}"},
        )
    return "refunded" if refunded else "cancelled"


def _apply_edit(state: dict[str, Any], order_type: str, order_nbr: str) -> str:
    """Bring an editable sales order in line with the edited X-Cart order (lines, freight,
    tax, addresses); an order Acumatica already works on is left as it is."""
    order = state["order"]
    order_checks.raise_problems(order, _problems(order, state.get("transactions") or []))
    client = clients.acumatica()
    current = client.get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["Details", "TaxDetails"]
    )
    status = (current or {}).get("Status")
    if current is not None and (returned := return_for_edit(state, current)) is not None:
        return returned
    if current is None or status not in EDITABLE_STATUSES:
        log.warning("order %s edited in X-Cart; sales order is %s", order.get("id"), status)
        return f"edit not applied: sales order is {status}"
    wanted = order_map.to_sales_order(order, template(), customer_id=current["CustomerID"])
    client.put("SalesOrder", order_map.edit_body(current, wanted), select=list(ORDER_SELECT))
    return "edited"


def write_back(state: State) -> State:
    """Flag a tax or total difference, remember the order for risk rules."""
    if state.get("skip") or "sales_order" not in state:
        return state
    order = state["order"]
    tmpl = template()
    tax = tmpl.get("tax") or {}
    acumatica = state.get("acumatica") or {}
    flags: dict[str, str] = {}
    if tax.get("mode") == "compute" and acumatica.get("TaxTotal") is not None:
        difference = order_map.tax_difference(order, acumatica["TaxTotal"])
        if abs(difference) > order_map.money(tax.get("tolerance") or 0):
            log.warning(
                "order %s: Acumatica tax differs from X-Cart's by %s",
                order.get("order_number"),
                difference,
            )
            flags["tax_difference"] = str(difference)
    elif acumatica.get("OrderTotal") is not None:  # same lines, freight and tax: same total
        difference = order_map.total_difference(order, acumatica["OrderTotal"])
        if difference:
            log.warning(
                "order %s: Acumatica's order total differs from X-Cart's by %s %s",
                order.get("order_number"),
                difference,
                order.get("currency"),
            )
            flags["total_difference"] = str(difference)
    if flags:
        with session_scope() as session:
            record = claim_record(session, NAME, DIRECTION, state["record_id"])
            record.data = {**(record.data or {}), **flags}
    history.remember(order)
    return state


# The status chain --------------------------------------------------------------------------------


def record_status(state: State) -> State:
    """Record a sales order's status from a ``SalesOrders`` push row (hints ``status`` and
    ``modified``, its ``LastModifiedDateTime``). A row older than the one recorded is ignored, so
    duplicates and reordering are harmless."""
    key = state["record_id"]
    moment = str(state.get("modified") or "")
    with session_scope() as session:
        record = find_by_target(session, NAME, DIRECTION, key)
        if record is None:
            state["skip"] = "not an order of this engine"
            return state
        data = dict(record.data or {})
        if moment and moment < str(data.get("status_at") or ""):
            state["skip"] = "an older status"
            return state
        record.data = {**data, "status": state.get("status"), "status_at": moment}
        state["order_id"] = record.source_id
    return state


def write_shipping_status(state: State) -> State:
    """Move the X-Cart shipping status as ``order_status_to_shipping`` maps the new status (e.g.
    Shipping -> Processing): read first, written only from ``order_status_writable_from``."""
    if state.get("skip"):
        return state
    tmpl = template()
    code = (tmpl.get("order_status_to_shipping") or {}).get(state.get("status"))
    if not code:
        return state
    order_id = state["order_id"]
    xcart = clients.xcart()
    with record_lock(NAME, order_id, wait=LOCK_WAIT):
        current = (xcart.get_order(int(order_id)).get("shipping_status") or {}).get("code")
        if current != code and current in (tmpl.get("order_status_writable_from") or []):
            xcart.set_shipping_status(int(order_id), code)
            state["action"] = "update"
    return state


def statuses_in_push(notification: Mapping[str, Any]) -> list[Start]:
    """One ``status`` chain per sales-order row of a ``SalesOrders`` push notification."""
    starts = []
    for row in notification.get("Inserted") or []:
        if row.get("OrderType") and row.get("OrderNbr"):
            starts.append(
                Start(
                    "status",
                    f"{row['OrderType']}/{row['OrderNbr']}",
                    {"status": row.get("Status"), "modified": row.get("LastModifiedDateTime")},
                )
            )
    return starts
