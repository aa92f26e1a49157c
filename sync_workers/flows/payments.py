"""Payments: X-Cart payment transaction -> Acumatica payment applied to the sales order.

Chains (``tasks.payments.<chain>``): ``sync`` (record: the X-Cart transaction id): ``prepare``
-> ``push``, usually run inline by its order's chain; ``status`` (record: the Acumatica payment
``<Type>/<ReferenceNbr>``): ``write_back``: a payment released in Acumatica (e.g. a check
received) marks the X-Cart order paid.

One payment per X-Cart transaction: the ledger row per transaction id, a Redis lock, and a
look-up by ``PaymentRef`` (which carries the transaction id) before any create the ledger cannot
prove safe. A payment waits for its sales order: without the order link it is retried later
(``DependencyNotReady``), never failed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import true

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.connectors.errors import NotFound
from sync_workers.dates import parse_optional
from sync_workers.errors import DependencyNotReady, PermanentError
from sync_workers.flows.shape import (
    Chain,
    Drift,
    Flow,
    HandOut,
    PlannedChange,
    PollRequest,
    Start,
    State,
    Step,
    template_cursor,
)
from sync_workers.ledger import (
    SyncRecord,
    claim_for_create,
    find_by_source,
    find_by_target,
    link_claimed,
    peek_by_source,
    session_scope,
)
from sync_workers.ledger.repository import UNFINISHED
from sync_workers.locks import record_lock
from sync_workers.mapping import payments as payment_map
from sync_workers.mapping.templates import load_template
from sync_workers.redis_client import queue_backlog
from sync_workers.settings import get_settings
from sync_workers.tracing import current_trace_id

log = logging.getLogger(__name__)

NAME = "payments"
DIRECTION = "xcart_to_acumatica"
REVERSE = "acumatica_to_xcart"
ORDERS = "orders"
LOCK_WAIT = 20.0
PAYMENT_SELECT = ("Type", "ReferenceNbr", "Status", "PaymentRef", "PaymentAmount")


def template() -> dict[str, Any]:
    return load_template(NAME)


def order_link(order_id: str) -> tuple[str, dict[str, Any]]:
    """The sales order key and ledger data of an X-Cart order; defers when not synced yet."""
    with session_scope() as session:
        record = peek_by_source(session, ORDERS, DIRECTION, str(order_id))
        if record is None or not record.target_key:
            raise DependencyNotReady(
                f"order {order_id} has no sales order yet",
                retry_after=1.0,
                details={"order_id": str(order_id), "waits_for": "orders"},
            )
        return record.target_key, dict(record.data or {})


def prepare(state: State) -> State:
    """Build the payment for one transaction (waits for the order's sales order).

    Hints: ``order_id`` (required); ``transaction`` and ``order_payment_code`` as the caller
    read them (else read here); ``verify``: look the payment up before creating it even when the
    ledger says it is new (payment polls, resyncs and repairs); ``link``: the order's sales order
    key and the ledger data its task just committed (what :func:`order_link` would read back).
    """
    transaction_id = state["record_id"]
    order_id = str(state["order_id"])
    transaction = state.get("transaction")
    order_payment_code = state.get("order_payment_code")
    link = state.get("link")
    key, order_data = (link[0], dict(link[1])) if link else order_link(order_id)
    xcart = clients.xcart()
    if transaction is None:
        found = [
            t
            for t in xcart.payment_transactions(int(order_id))
            if str(t.get("id")) == str(transaction_id)
        ]
        if not found:
            raise PermanentError(
                f"order {order_id} has no payment transaction {transaction_id}",
                field_errors={"transaction_id": "not found in X-Cart"},
            )
        transaction = found[0]
    if order_payment_code is None:
        order_payment_code = (xcart.get_order(int(order_id)).get("payment_status") or {}).get(
            "code"
        )
    state = {
        "record_id": str(transaction_id),
        "order_id": order_id,
        "order_key": key,
        "verify": bool(state.get("verify")),
    }
    tmpl = template()
    action = payment_map.action(transaction, order_payment_code, tmpl)
    if action == "ignore":
        state["skip"] = f"transaction {transaction.get('type')} not recorded"
        return state
    if action == "refund":
        raise PermanentError(
            f"refund transaction {transaction_id} of order {order_id}: refunds are not automated "
            f"yet; record a customer refund against {key} in Acumatica",
            field_errors={"type": "refund not automated"},
        )
    order_type, order_nbr = key.split("/", 1)
    state["payment"] = payment_map.to_payment(
        transaction,
        tmpl,
        customer_id=str(order_data.get("customer_id") or ""),
        order_type=order_type,
        order_nbr=order_nbr,
        on_hold=action == "hold",
        order_number=order_data.get("order_number"),
    )
    return state


def find_remote(payment: Mapping[str, Any]) -> dict[str, Any] | None:
    rows = clients.acumatica().get_list(
        "Payment",
        filter=(F("Type") == payment["Type"]) & (F("PaymentRef") == payment["PaymentRef"]),
        select=list(PAYMENT_SELECT),
        top=1,
    )
    return rows[0] if rows else None


def push(state: State) -> State:
    """Create the payment once and link it in the ledger."""
    if state.get("skip"):
        return state
    txn_id = state["record_id"]
    payment = state["payment"]
    with record_lock(NAME, txn_id, wait=LOCK_WAIT):
        with session_scope() as session:
            claim = claim_for_create(session, NAME, DIRECTION, txn_id, trace_id=current_trace_id())
        if claim.target_key:
            state.update(target_key=claim.target_key, skip="already synced")
            return state
        must_look = claim.put_sent or bool(state.get("verify"))
        found = find_remote(payment) if must_look else None
        result = found or clients.acumatica().put("Payment", payment, select=list(PAYMENT_SELECT))
        key = f"{result['Type']}/{result['ReferenceNbr']}"
        with session_scope() as session:
            link_claimed(
                session,
                claim,
                target_key=key,
                data={
                    "order_id": state["order_id"],
                    "order_key": state["order_key"],
                    "status": result.get("Status"),
                    "amount": payment.get("PaymentAmount"),
                },
            )
    state.update(target_key=key, created=found is None)
    return state


def write_back_status(state: State) -> State:
    """Write the X-Cart payment status the payment's sales orders now call for (record:
    ``<Type>/<ReferenceNbr>`` of the Acumatica payment).

    E.g. a check received and released in Acumatica marks the X-Cart order paid. Orders not
    synced by this engine are left alone; X-Cart is read first, so a repeat writes nothing.
    """
    payment_type, reference_nbr = str(state["record_id"]).split("/", 1)
    client = clients.acumatica()
    payment = client.get_by_keys(
        "Payment", payment_type, reference_nbr, expand=["OrdersToApply"], missing_ok=True
    )
    result: State = {"record_id": f"{payment_type}/{reference_nbr}", "orders": []}
    if payment is None:
        result["skip"] = "payment not found"
        return result
    tmpl = template()
    xcart = clients.xcart()
    for application in payment.get("OrdersToApply") or []:
        key = f"{application.get('OrderType')}/{application.get('OrderNbr')}"
        with session_scope() as session:
            link = find_by_target(session, ORDERS, DIRECTION, key)
            order_id = link.source_id if link is not None else None
        if order_id is None:
            continue
        order_type, order_nbr = key.split("/", 1)
        sales_order = client.get_by_keys(
            "SalesOrder", order_type, order_nbr, expand=["Payments"], missing_ok=True
        )
        if sales_order is None:
            continue
        with record_lock(ORDERS, order_id, wait=LOCK_WAIT):
            current = (xcart.get_order(int(order_id)).get("payment_status") or {}).get("code")
            code = payment_map.xcart_payment_code(sales_order, current, tmpl)
            if code is not None:
                xcart.set_payment_status(int(order_id), code)
        result["orders"].append({"order_id": order_id, "from": current, "to": code})
    result["summary"] = {"orders": result["orders"]}
    return result


def payments_in_push(notification: Mapping[str, Any]) -> list[Start]:
    """A ``status`` chain per new row of a ``Payments`` push in a status that writes back."""
    table = template().get("acumatica_status_to_xcart") or {}
    found: list[tuple[str, str]] = []
    for row in notification.get("Inserted") or []:
        key = (str(row.get("Type") or ""), str(row.get("ReferenceNbr") or ""))
        if all(key) and table.get(row.get("Status")) and key not in found:
            found.append(key)
    return [Start("status", "/".join(key)) for key in found]


def changed_acumatica_payments() -> Iterator[tuple[str, str]]:
    """Payments changed in Acumatica since the cursor, in a status that writes back."""
    cursor = template_cursor(NAME, REVERSE, template().get("poll"))
    table = template().get("acumatica_status_to_xcart") or {}
    window = cursor.window()
    expr = F("LastModifiedDateTime") <= window.end
    if window.start is not None:
        expr = (F("LastModifiedDateTime") >= window.start) & expr
    rows = clients.acumatica().iter_list(
        "Payment", filter=expr, select=["Type", "ReferenceNbr", "Status", "LastModifiedDateTime"]
    )
    for row in rows:
        moment = parse_optional(row.get("LastModifiedDateTime"))
        key = (str(row["Type"]), str(row["ReferenceNbr"]))
        if moment is None or not table.get(row.get("Status")):
            continue
        if cursor.accept("/".join(key), row.get("Status"), moment):
            yield key
    cursor.commit()


def _progress(record: SyncRecord | None, stale_before: datetime) -> str:
    """``pending`` (never handed out, or its chain stalled), ``on_the_way``, ``done`` (linked)
    or ``stopped`` (dead-lettered or skipped: the operator's to replay, not the poll's)."""
    if record is None:
        return "pending"
    if record.target_key:
        return "done"
    if record.status not in UNFINISHED:
        return "stopped"
    return "pending" if _aware(record.updated_at) < stale_before else "on_the_way"


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def unsynced_transactions(
    order_ids: list[str] | None = None, *, full: bool = False, note_checked: bool = True
) -> Iterator[tuple[str, dict]]:
    """(order id, transaction) of synced orders whose payments are not all in the ledger yet.

    An idle poll reads nothing from X-Cart: only orders changed since their payments were last
    found complete are read (listed ``order_ids`` always are, and every order with ``full``, as
    reconcile does). A transaction whose chain is on its way is left alone until it stalls for
    ``STALL_SECONDS``; a dead-lettered one waits for the operator (listed and ``full`` reads
    return every unlinked one). An order gone from the store is logged and skipped; it never
    stops the poll for the others. ``note_checked=False`` writes nothing (dry runs).
    """
    stale_before = datetime.now(UTC) - timedelta(seconds=get_settings().stall_seconds)
    if queue_backlog(NAME):  # behind a backlog a queued chain looks stalled: restart none now
        stale_before = datetime.min.replace(tzinfo=UTC)
    with session_scope() as session:
        query = session.query(
            SyncRecord.source_id,
            SyncRecord.target_key,
            SyncRecord.content_hash,
            SyncRecord.updated_at,
        ).filter(SyncRecord.flow == ORDERS, SyncRecord.direction == DIRECTION)
        if order_ids:  # by source id (the link is tested below: see ``orders._linked``)
            query = query.filter(SyncRecord.source_id.in_([str(i) for i in order_ids]))
        elif full:
            query = query.filter(SyncRecord.target_key.is_not(None))
        else:  # only the orders due, by the flag's index: not every order ever synced
            query = query.filter(SyncRecord.followup_due == true())
        candidates = [
            (source_id, order_hash)
            for source_id, target_key, order_hash, touched in query
            if target_key
            and (
                full
                or order_ids
                # an order's own task records its payments right after its sales order: left
                # alone (not even read) until it could have stalled
                or _aware(touched) < stale_before
            )
        ]
    xcart = clients.xcart()
    for order_id, order_hash in candidates:
        try:
            transactions = xcart.payment_transactions(int(order_id))
        except NotFound:
            log.warning("payments: order %s is gone from the store; not checked again", order_id)
            transactions = []
        pending, on_the_way = [], 0
        with session_scope() as session:
            for txn in transactions:
                record = find_by_source(session, NAME, DIRECTION, str(txn["id"]))
                state = _progress(record, stale_before)
                if state == "pending" or (state != "done" and (full or order_ids)):
                    pending.append(txn)
                elif state == "on_the_way":
                    on_the_way += 1
            if not pending and not on_the_way and note_checked:
                order = find_by_source(session, ORDERS, DIRECTION, order_id)
                if order is not None and order.content_hash == order_hash:  # not changed since
                    order.followup_due = False
        for txn in pending:
            yield order_id, txn


def poll(request: PollRequest, hand_out: HandOut) -> dict[str, Any]:
    """Payments missing for synced orders (``ids``: those X-Cart order ids only), and status
    write-backs for payments changed in Acumatica since the cursor."""
    order_ids = list(request.ids) if request.ids else None
    missing = [
        Start("sync", str(txn["id"]), {"order_id": order_id, "transaction": txn, "verify": True})
        for order_id, txn in unsynced_transactions(order_ids, full=request.all)
    ]
    hand_out(missing)
    statuses: list[Start] = []
    if not request.ids:
        statuses = [Start("status", "/".join(k)) for k in changed_acumatica_payments()]
        hand_out(statuses)
    return {
        "started": [s.record_id for s in missing],
        "status_write_backs": [s.record_id for s in statuses],
    }


def plan(since: Any = None, ids: list[Any] | None = None, all: bool = False) -> list:
    """Transactions of synced orders that would become payments (reads only)."""
    planned = []
    order_ids = [str(i) for i in ids] if ids else None
    for order_id, txn in unsynced_transactions(order_ids, full=all, note_checked=False):
        planned.append(
            PlannedChange(NAME, DIRECTION, str(txn["id"]), "create", reason=f"order {order_id}")
        )
    return planned


def drift(since: Any = None) -> list[Drift]:
    """Transactions of synced orders that should be payments but are not linked to one.

    ``source_id`` is the X-Cart order id (what ``tasks.payments.poll(ids=...)`` takes, so
    reconcile's repair can resync it); the transaction is in ``details``.
    """
    tmpl = template()
    found: list[Drift] = []
    xcart = clients.xcart()
    for order_id, txn in unsynced_transactions(full=True, note_checked=False):
        code = (xcart.get_order(int(order_id)).get("payment_status") or {}).get("code")
        try:
            action = payment_map.action(txn, code, tmpl)
        except PermanentError as exc:
            found.append(
                Drift(
                    NAME,
                    DIRECTION,
                    str(order_id),
                    None,
                    "mismatch",
                    {"transaction_id": str(txn["id"]), "error": str(exc)},
                )
            )
            continue
        if action in ("record", "hold"):
            found.append(
                Drift(NAME, DIRECTION, str(order_id), None, "missing_in_target",
                      {"transaction_id": str(txn["id"])})
            )  # fmt: skip
    return found


FLOW = Flow(
    name=NAME,
    direction=DIRECTION,
    template=NAME,
    chains=(
        Chain("sync", DIRECTION, (Step("prepare", prepare), Step("push", push)), tracked=True),
        Chain("status", REVERSE, (Step("write_back", write_back_status),)),
    ),
    poll=poll,
    plan=plan,
    drift=drift,
    cursors=(REVERSE,),
    on_push=payments_in_push,
)
