"""The steps of a payment's chains: ``sync`` (one X-Cart transaction becomes one Acumatica
payment applied to its sales order) and ``status`` (a payment released in Acumatica marks the
X-Cart order paid).

One payment per X-Cart transaction: the ledger row per transaction id, a Redis lock, and a
look-up by ``PaymentRef`` (which carries the transaction id) before any create the ledger cannot
prove safe. A payment waits for its sales order: without the order link it is retried later
(``DependencyNotReady``), never failed. A new order's payments are usually created with the
sales order, in its PUT (``orders.steps.push``, which links their ledger rows from its answer):
their ``sync`` chains then find them linked.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.errors import DependencyNotReady, PermanentError
from sync_workers.flows.shape import State
from sync_workers.ledger import (
    claim_for_create,
    find_by_target,
    link_claimed,
    peek_by_source,
    session_scope,
)
from sync_workers.locks import check_no_write_in_flight, record_lock
from sync_workers.mapping import payments as payment_map
from sync_workers.mapping.templates import load_template
from sync_workers.tracing import current_trace_id
from sync_workers.validation import journal as journal_check

log = logging.getLogger(__name__)

NAME = "payments"
DIRECTION = "xcart_to_acumatica"
REVERSE = "acumatica_to_xcart"
ORDERS = "orders"
LOCK_WAIT = 20.0
PAYMENT_SELECT = ("Type", "ReferenceNbr", "Status", "PaymentRef", "PaymentAmount")
JOURNAL_SELECT = ("Module", "BatchNbr", "Status", "Description")


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


def read_transaction(order_id: str, transaction_id: str) -> dict[str, Any]:
    """One payment transaction of an X-Cart order, as the store has it now."""
    for txn in clients.xcart().payment_transactions(int(order_id)):
        if str(txn.get("id")) == str(transaction_id):
            return dict(txn)
    raise PermanentError(
        f"order {order_id} has no payment transaction {transaction_id}",
        field_errors={"transaction_id": "not found in X-Cart"},
    )


def order_payment_code(order_id: str) -> str | None:
    order = clients.xcart().get_order(int(order_id))
    return (order.get("payment_status") or {}).get("code")


def prepare(state: State) -> State:
    """Build the payment for one transaction (waits for the order's sales order).

    Hints: ``order_id`` (required); ``transaction`` and ``order_payment_code`` as the caller
    read them (else read here); ``verify``: look the payment up before creating it even when the
    ledger says it is new (payment polls, resyncs and repairs); ``link``: the order's sales order
    key and the ledger data its task just committed (what :func:`order_link` would read back).
    """
    transaction_id = state["record_id"]
    order_id = str(state["order_id"])
    link = state.get("link")
    key, order_data = (link[0], dict(link[1])) if link else order_link(order_id)
    transaction = state.get("transaction") or read_transaction(order_id, transaction_id)
    code = state.get("order_payment_code")
    if code is None:
        code = order_payment_code(order_id)
    state = {
        "record_id": str(transaction_id),
        "order_id": order_id,
        "order_key": key,
        "verify": bool(state.get("verify")),
    }
    tmpl = template()
    action = payment_map.action(transaction, code, tmpl)
    if action == "ignore":
        state["skip"] = f"transaction {transaction.get('type')} not recorded"
        return state
    if action == "refund":  # a refund of its own: the refund chain records it
        state["skip"] = f"refund transaction: recorded as refund:{transaction_id}"
        return state
    if payment_map.post_as(tmpl) == "journal":
        if action == "hold":
            state["skip"] = "authorisation: a journal entry posts captured money only"
            return state
        state["journal"] = payment_map.to_journal(
            transaction,
            tmpl,
            reference=payment_map.payment_ref(transaction, tmpl),
            amount=payment_map.money(transaction.get("value")),
            order_number=order_data.get("order_number"),
        )
        return state
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


def find_journal(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    rows = clients.acumatica().get_list(
        "JournalTransaction",
        filter=(F("Module") == entry["Module"]) & (F("Description") == entry["Description"]),
        select=list(JOURNAL_SELECT),
        top=1,
    )
    return rows[0] if rows else None


def post_journal(
    source: str, entry: Mapping[str, Any], *, verify: bool, data: Mapping[str, Any]
) -> tuple[str, bool]:
    """Create the journal entry of ledger row ``source`` once (the caller holds its lock),
    release it when the template says so, and link it: ``(Module/BatchNbr, created)``.

    A retry after a lost answer finds ``put_sent`` and looks the entry up by its
    ``Description`` first; a found entry still Balanced is released then."""
    tmpl = template()
    client = clients.acumatica()
    with session_scope() as session:
        claim = claim_for_create(session, NAME, DIRECTION, source, trace_id=current_trace_id())
    if claim.target_key:
        return claim.target_key, False
    found = find_journal(entry) if claim.put_sent or verify else None
    if found is None:
        if claim.put_sent:
            check_no_write_in_flight()
        journal_check.require_accounts(client, tmpl)
        result = client.put("JournalTransaction", dict(entry), select=list(JOURNAL_SELECT))
    else:
        result = found
    keys = {"Module": result["Module"], "BatchNbr": result["BatchNbr"]}
    released = result.get("Status") != "Balanced"
    if (tmpl.get("journal") or {}).get("release", True) and not released:
        client.invoke_action("JournalTransaction", "ReleaseJournalTransaction", keys)
        released = True
    key = f"{result['Module']}/{result['BatchNbr']}"
    with session_scope() as session:
        link_claimed(
            session,
            claim,
            target_key=key,
            data={**data, "status": result.get("Status"), "released": released},
        )
    return key, found is None


def push(state: State) -> State:
    """Create the payment (or journal entry) once and link it in the ledger."""
    if state.get("skip"):
        return state
    txn_id = state["record_id"]
    if "journal" in state:
        entry = state["journal"]
        amount = sum(line["DebitAmount"] for line in entry["Details"])
        with record_lock(NAME, txn_id, wait=LOCK_WAIT):
            key, created = post_journal(
                txn_id,
                entry,
                verify=bool(state.get("verify")),
                data={
                    "order_id": state["order_id"],
                    "order_key": state["order_key"],
                    "amount": amount,
                },
            )
        state.update(target_key=key, created=created)
        return state
    payment = state["payment"]
    with record_lock(NAME, txn_id, wait=LOCK_WAIT):
        with session_scope() as session:
            claim = claim_for_create(session, NAME, DIRECTION, txn_id, trace_id=current_trace_id())
        if claim.target_key:
            state.update(target_key=claim.target_key, skip="already synced")
            return state
        must_look = claim.put_sent or bool(state.get("verify"))
        found = find_remote(payment) if must_look else None
        if found is None and claim.put_sent:
            check_no_write_in_flight()
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
