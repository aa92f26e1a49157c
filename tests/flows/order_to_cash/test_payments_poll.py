"""The payments poll: the safety net for transactions the order chain did not turn into payments."""

from __future__ import annotations

from sqlalchemy import select, true

from sync_workers.flows import payments as payments_flow
from sync_workers.flows import runner
from sync_workers.ledger import SyncRecord, claim_record, mark_synced, session_scope
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    address,
    backdate,
    checkout,
    linked,
    sandbox,
    wait_for,
)


def transaction_reads(xcart: str) -> int:
    by_path = sandbox(xcart, "stats")["requests"]["by_path"]
    return sum(n for path, n in by_path.items() if path.endswith("/payment_transactions"))


def due_orders() -> set[str]:
    with session_scope() as session:
        return set(
            session.scalars(
                select(SyncRecord.source_id).where(
                    SyncRecord.flow == "orders", SyncRecord.followup_due == true()
                )
            )
        )


def test_idle_payments_poll_reads_no_order_and_an_order_gone_from_the_store_stops_nothing(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order = checkout(
        xcart,
        {
            "email": "idle@example.com",
            "items": [{"sku": "AA-0005", "amount": 1}],
            "billing_address": address("Ida", "Le'Poll", "NY"),
            "payment_method": "Credit Card",
        },
    )
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    assert due_orders() == {str(order["id"])}  # linked: its payments are to be checked
    with session_scope() as session:  # an order synced once, since removed from the store
        gone = claim_record(session, "orders", "xcart_to_acumatica", "999999")
        mark_synced(session, gone, target_key="SO/GONE1", content_hash="h-gone")
        gone.followup_due = True  # as the orders flow leaves an order it links
    sandbox(xcart, "stats/reset", {})
    assert list(payments_flow.unsynced_transactions()) == []
    assert transaction_reads(xcart) == 0  # just synced: their own tasks record their payments

    for order_id in (str(order["id"]), "999999"):
        backdate("orders", order_id)
    assert list(payments_flow.unsynced_transactions()) == []
    assert transaction_reads(xcart) == 2  # each order read once: the live one and the gone one
    assert due_orders() == set()  # both found done: neither is due any more

    sandbox(xcart, "stats/reset", {})
    assert list(payments_flow.unsynced_transactions()) == []
    assert list(payments_flow.unsynced_transactions()) == []
    assert transaction_reads(xcart) == 0  # both orders are known to be done: nothing is read

    listed = list(payments_flow.unsynced_transactions([str(order["id"])]))
    assert listed == []  # a listed order is always read, and its payment is already linked
