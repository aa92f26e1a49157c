"""The ``refund`` chain: an X-Cart refund becomes an Acumatica refund, exactly once.

An X-Cart refund is a backend transaction (``refund``, ``refundPart``, ``refundMulti``) of the
captured transaction it pays back (or, rarely, a transaction of its own). It becomes an
Acumatica payment of type ``Refund`` for the refunded amount, applied (``DocumentsToApply``) to
the payment that transaction became, with the refund's id in ``PaymentRef`` and ``ExternalRef``.

Acumatica applies a refund only to a released payment that still has a balance. So before the
first PUT the refund makes room on that payment: what the payment reserves for its sales order
is reduced by what its balance lacks (a cancelled sales order has already released it), and a
payment still Balanced is released (``refunds.release_payment`` in the payments template;
otherwise the refund is dead-lettered naming the payment to release).

Exactly once: the ledger row ``refund:<id>`` (payments flow), the refund's lock and its
transaction's, ``put_sent`` committed before the PUT and a look-up by ``PaymentRef`` before any
create the ledger cannot prove new. The look-up comes before making room, so a retry after a
lost answer never reduces a reservation twice. A refund waits (``DependencyNotReady``) for its
order's sales order and for its transaction's payment.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.errors import DependencyNotReady, PermanentError
from sync_workers.flows.payments.steps import (
    DIRECTION,
    LOCK_WAIT,
    NAME,
    PAYMENT_SELECT,
    order_link,
    order_payment_code,
    post_journal,
    template,
)
from sync_workers.flows.shape import State
from sync_workers.ledger import claim_for_create, link_claimed, peek_by_source, session_scope
from sync_workers.locks import check_no_write_in_flight, record_locks
from sync_workers.mapping import payments as payment_map
from sync_workers.mapping.orders import money
from sync_workers.tracing import current_trace_id

PREFIX = "refund:"
#: Statuses of a payment a refund can be applied to once it is released (Balanced is released
#: first, when the template allows it).
REFUNDABLE_STATUSES = ("Open", "Closed", "Balanced")


def source_id(refund_id: str) -> str:
    return f"{PREFIX}{refund_id}"


def refunds_of_order(
    transactions: Sequence[Mapping[str, Any]], code: str | None, tmpl: Mapping[str, Any]
) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(refund, transaction it pays back)`` for every successful refund of an order: the
    refund backend transactions of its recorded transactions, and transactions that are refunds
    themselves (paying back the order's first recorded transaction)."""
    found: list[tuple[dict[str, Any], dict[str, Any]]] = []
    recorded = [
        dict(t) for t in transactions if payment_map.action(t, code, tmpl) in ("record", "hold")
    ]
    for txn in recorded:
        found += [(refund, txn) for refund in payment_map.refunds_of(txn, code, tmpl)]
    for own in transactions:
        if payment_map.action(own, code, tmpl) == "refund" and recorded:
            letter = payment_map.status_letter(own, code, tmpl)
            if (tmpl.get("transaction_statuses") or {}).get(letter, False):
                found.append((dict(own), recorded[0]))
    return found


def read_refund(order_id: str, refund_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A refund of an X-Cart order and the transaction it pays back, as the store has them."""
    transactions = clients.xcart().payment_transactions(int(order_id))
    code = order_payment_code(order_id)
    for found, paid in refunds_of_order(transactions, code, template()):
        if str(found.get("id")) == str(refund_id):
            return found, paid
    raise PermanentError(
        f"order {order_id} has no refund {refund_id}",
        field_errors={"refund_id": "not found in X-Cart"},
    )


def payment_link(transaction_id: str) -> str:
    """The Acumatica payment of an X-Cart transaction; defers while it has none."""
    with session_scope() as session:
        record = peek_by_source(session, NAME, DIRECTION, str(transaction_id))
        if record is None or not record.target_key:
            raise DependencyNotReady(
                f"transaction {transaction_id} has no payment yet",
                retry_after=1.0,
                details={"transaction_id": str(transaction_id), "waits_for": "payments"},
            )
        return str(record.target_key)


def prepare_refund(state: State) -> State:
    """Build the refund (waits for the order's sales order and the transaction's payment).

    Hints: ``order_id`` (required); ``refund`` and ``transaction`` (the one it pays back) as
    the caller read them, else read here; ``verify``: look the refund up before creating it.
    """
    refund_id = str(state["record_id"])
    order_id = str(state["order_id"])
    refund, transaction = state.get("refund"), state.get("transaction")
    if not refund or not transaction:
        refund, transaction = read_refund(order_id, refund_id)
    order_key, order_data = order_link(order_id)
    payment_key = payment_link(str(transaction["id"]))
    tmpl = template()
    if payment_map.post_as(tmpl) == "journal":
        return {
            "record_id": refund_id,
            "order_id": order_id,
            "order_key": order_key,
            "transaction_id": str(transaction["id"]),
            "payment_key": payment_key,
            "verify": bool(state.get("verify")),
            "journal": payment_map.to_journal(
                transaction,
                tmpl,
                reference=payment_map.refund_ref(refund, tmpl),
                amount=money(refund.get("value")),
                order_number=order_data.get("order_number"),
                reverse=True,
                what=f"refund {refund['id']} of transaction",
            ),
        }
    payment_type, payment_nbr = payment_key.split("/", 1)
    return {
        "record_id": refund_id,
        "order_id": order_id,
        "order_key": order_key,
        "transaction_id": str(transaction["id"]),
        "payment_key": payment_key,
        "verify": bool(state.get("verify")),
        "refund": payment_map.to_refund(
            refund,
            transaction,
            template(),
            customer_id=str(order_data.get("customer_id") or ""),
            payment_type=payment_type,
            payment_nbr=payment_nbr,
            order_number=order_data.get("order_number"),
        ),
    }


def find_refund(refund: Mapping[str, Any]) -> dict[str, Any] | None:
    rows = clients.acumatica().get_list(
        "Payment",
        filter=(F("Type") == "Refund") & (F("PaymentRef") == refund["PaymentRef"]),
        select=list(PAYMENT_SELECT),
        top=1,
    )
    return rows[0] if rows else None


def push_refund(state: State) -> State:
    """Create the refund once (making room on the payment first) and link it in the ledger."""
    if state.get("skip"):
        return state
    source = source_id(state["record_id"])
    locks = [(NAME, source), (NAME, state["transaction_id"])]
    if "journal" in state:
        entry = state["journal"]
        with record_locks(locks, wait=LOCK_WAIT):
            key, created = post_journal(
                source,
                entry,
                verify=bool(state.get("verify")),
                data={
                    "order_id": state["order_id"],
                    "transaction_id": state["transaction_id"],
                    "payment_key": state["payment_key"],
                    "amount": sum(line["CreditAmount"] for line in entry["Details"]),
                },
            )
        state.update(target_key=key, created=created)
        return state
    refund = state["refund"]
    with record_locks(locks, wait=LOCK_WAIT):
        with session_scope() as session:
            claim = claim_for_create(session, NAME, DIRECTION, source, trace_id=current_trace_id())
        if claim.target_key:
            state.update(target_key=claim.target_key, skip="already synced")
            return state
        found = find_refund(refund) if claim.put_sent or state.get("verify") else None
        if found is None:
            if claim.put_sent:
                check_no_write_in_flight()
            make_room(state["payment_key"], money(refund["PaymentAmount"]), state["order_key"])
            result = clients.acumatica().put("Payment", refund, select=list(PAYMENT_SELECT))
        else:
            result = found
        key = f"{result['Type']}/{result['ReferenceNbr']}"
        with session_scope() as session:
            link_claimed(
                session,
                claim,
                target_key=key,
                data={
                    "order_id": state["order_id"],
                    "transaction_id": state["transaction_id"],
                    "payment_key": state["payment_key"],
                    "status": result.get("Status"),
                    "amount": refund.get("PaymentAmount"),
                },
            )
    state.update(target_key=key, created=found is None)
    return state


def make_room(payment_key: str, amount: Decimal, order_key: str) -> None:
    """Make ``payment_key`` able to take a refund of ``amount``: free what it reserves for
    sales orders (its own order's first) by what its balance lacks, and release it when it is
    still Balanced. Reads first: a repeat after a partial run does only what is left."""
    client = clients.acumatica()
    payment_type, payment_nbr = payment_key.split("/", 1)
    payment = client.get_by_keys(
        "Payment",
        payment_type,
        payment_nbr,
        expand=["OrdersToApply"],
        select=[
            "Type",
            "ReferenceNbr",
            "Status",
            "AvailableBalance",
            "OrdersToApply/OrderType",
            "OrdersToApply/OrderNbr",
            "OrdersToApply/AppliedToOrder",
        ],
        missing_ok=True,
    )
    if payment is None:
        raise PermanentError(
            f"payment {payment_key} is gone from Acumatica: record the refund there by hand",
            field_errors={"payment": f"{payment_key} not found"},
        )
    status = payment.get("Status")
    if status not in REFUNDABLE_STATUSES:
        raise PermanentError(
            f"payment {payment_key} is {status}: a refund applies only to a released payment; "
            f"release it (or take it off hold) in Acumatica, then replay",
            field_errors={"payment": f"{payment_key} is {status}"},
        )
    short = amount - money(payment.get("AvailableBalance"))
    if short > 0:
        rows = sorted(
            payment.get("OrdersToApply") or [],
            key=lambda r: f"{r.get('OrderType')}/{r.get('OrderNbr')}" != order_key,
        )
        changes = []
        for row in rows:
            applied = money(row.get("AppliedToOrder"))
            take = min(short, applied)
            if take > 0:
                changes.append({"id": row["id"], "AppliedToOrder": float(applied - take)})
                short -= take
        if short > 0:
            raise PermanentError(
                f"a refund of {amount} exceeds what payment {payment_key} can pay back",
                field_errors={"value": f"more than the balance of {payment_key}"},
            )
        client.put(
            "Payment",
            {"Type": payment_type, "ReferenceNbr": payment_nbr, "OrdersToApply": changes},
            select=list(PAYMENT_SELECT),
        )
    if status == "Balanced":
        if not (template().get("refunds") or {}).get("release_payment", True):
            raise PermanentError(
                f"payment {payment_key} is not released: release it in Acumatica, then replay "
                "the refund",
                field_errors={"payment": f"{payment_key} is Balanced"},
            )
        client.invoke_action(
            "Payment", "ReleasePayment", {"Type": payment_type, "ReferenceNbr": payment_nbr}
        )
