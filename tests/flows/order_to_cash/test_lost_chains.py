"""Chains whose messages were lost (a broker crash between publish and delivery) are restarted
by their flow's poll once they stall, and only then."""

from __future__ import annotations

import time

import pytest

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import payments as payments_flow
from sync_workers.flows import runner
from sync_workers.flows.orders import changes as orders_flow
from sync_workers.flows.payments import changes as payments_changes
from sync_workers.flows.shape import PollRequest
from sync_workers.ledger import claim_records, find_by_source, session_scope
from sync_workers.ledger.models import Status
from tasks import orders as order_tasks
from tests.flows.order_to_cash.helpers import (
    address,
    backdate,
    checkout,
    linked,
    sandbox,
    wait_for,
)


def place(xcart: str, email: str) -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0005", "amount": 1}],
            "billing_address": address("Lou", "O'Stall", "NY"),
            "payment_method": "Credit Card",
        },
    )


def xcart_reads(sandboxes) -> int:
    return sum(
        n
        for path, n in sandbox(sandboxes["xcart"].url, "stats")["requests"]["by_path"].items()
        if path.startswith("GET ")
    )


def claim(order_ids: list[str]) -> None:
    """What handing an order out writes before its message goes: its ledger row."""
    with session_scope() as session:
        claim_records(session, "orders", "xcart_to_acumatica", order_ids)


def sales_orders_for(order_number: str) -> list:
    return clients.acumatica().get_list("SalesOrder", filter=F("CustomerOrder") == order_number)


def test_order_whose_message_was_lost_is_restarted_once_it_stalls(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    order = place(sandboxes["xcart"].url, "lost@example.com")
    # What a poll does, minus the publish: the cursor moves past the order, its row is claimed.
    handed_out = [str(o["id"]) for o in orders_flow.changed_orders()]
    assert handed_out == [str(order["id"])]
    claim(handed_out)

    order_tasks.poll.delay()  # the cursor has seen it and the row is fresh: nothing to do
    worker_activity.idle()  # the poll has run, and so has anything it published
    assert worker_activity.published(order_tasks.poll.name) == 1
    assert worker_activity.published(order_tasks.sync.name) == 0
    assert linked("orders") == {} and sales_orders_for(order["order_number"]) == []

    backdate("orders", str(order["id"]))
    order_tasks.poll.delay()

    wait_for(lambda: linked("payments"))
    assert len(sales_orders_for(order["order_number"])) == 1
    with session_scope() as session:
        record = find_by_source(session, "orders", "xcart_to_acumatica", str(order["id"]))
        assert record is not None and record.status == Status.SYNCED
        assert "restarted_at" in record.data


def test_payments_poll_restarts_a_payment_chain_only_when_it_stalls(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order = place(sandboxes["xcart"].url, "slow-payment@example.com")
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    [transaction_id] = linked("payments")
    with session_scope() as session:  # the payment's chain is on its way (handed out, not done)
        payment = find_by_source(session, "payments", "xcart_to_acumatica", transaction_id)
        order_row = find_by_source(session, "orders", "xcart_to_acumatica", str(order["id"]))
        assert payment is not None and order_row is not None
        payment.target_key, payment.status = None, Status.PENDING.value
        order_row.followup_due = True

    assert list(payments_flow.unsynced_transactions()) == []
    backdate("payments", transaction_id)
    # the order was synced a moment ago: its own task records its payments, not the poll
    assert list(payments_flow.unsynced_transactions()) == []

    backdate("orders", str(order["id"]))
    [(order_id, txn)] = payments_flow.unsynced_transactions()
    assert (order_id, str(txn["id"])) == (str(order["id"]), transaction_id)

    with session_scope() as session:  # dead-lettered: the operator's to replay, not the poll's
        payment = find_by_source(session, "payments", "xcart_to_acumatica", transaction_id)
        assert payment is not None
        payment.status = Status.DEAD_LETTERED.value
    assert list(payments_flow.unsynced_transactions()) == []
    assert [str(t["id"]) for _, t in payments_flow.unsynced_transactions([str(order["id"])])] == [
        transaction_id
    ]


def test_payments_poll_leaves_a_young_order_to_its_own_task_then_records_what_it_lost(
    sandboxes, clean_ledger, celery_worker
) -> None:
    """An order's task records its payments right after the sales order; the poll reads the order
    only once it could have stalled, then restarts the payment the task never recorded."""
    order = place(sandboxes["xcart"].url, "lost-payment@example.com")
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    [transaction_id] = linked("payments")
    with session_scope() as session:  # as if the task died between the order and its payment
        payment = find_by_source(session, "payments", "xcart_to_acumatica", transaction_id)
        order_row = find_by_source(session, "orders", "xcart_to_acumatica", str(order["id"]))
        assert payment is not None and order_row is not None
        session.delete(payment)
        order_row.followup_due = True
    before = xcart_reads(sandboxes)

    assert list(payments_flow.unsynced_transactions()) == []
    assert xcart_reads(sandboxes) == before  # not even read

    backdate("orders", str(order["id"]))
    [(order_id, txn)] = payments_flow.unsynced_transactions()
    assert (order_id, str(txn["id"])) == (str(order["id"]), transaction_id)


def test_orders_poll_failing_before_its_orders_are_handed_out_leaves_them_to_its_retry(
    sandboxes, clean_ledger, celery_worker, monkeypatch
) -> None:
    """The cursor moves only once every order of its window has its ledger row and message: a
    poll that dies in between (here the ledger write fails once) must not skip them for good."""
    from sync_workers.errors import TransientError

    placed = [place(sandboxes["xcart"].url, f"cursor{n}@example.com") for n in range(3)]
    time.sleep(orders_flow.SETTLE_SECONDS + 0.5)  # out of the settle window
    real = runner.claim_records
    attempts: list[int] = []

    def fails_once(*args, **kwargs):
        attempts.append(1)
        if len(attempts) == 1:
            raise TransientError("the ledger database is restarting")
        return real(*args, **kwargs)

    monkeypatch.setattr(runner, "claim_records", fails_once)
    order_tasks.poll.apply_async()

    wait_for(lambda: len(linked("payments")) == 3)
    assert set(linked("orders")) == {str(o["id"]) for o in placed}
    assert len(attempts) == 2
    assert all(len(sales_orders_for(o["order_number"])) == 1 for o in placed)


def test_nothing_is_restarted_while_the_flow_queue_has_a_backlog(
    sandboxes, clean_ledger, redis_client
) -> None:
    """Behind a backlog a queued chain looks stalled; restarting it would flood the queue with
    copies faster than the workers drain it (a 10,000-order chaos run livelocked that way)."""
    from sync_workers.redis_client import prefixed

    order = place(sandboxes["xcart"].url, "queued@example.com")
    handed_out = [str(o["id"]) for o in orders_flow.changed_orders()]
    claim(handed_out)
    backdate("orders", str(order["id"]))
    redis_client.rpush(prefixed("orders"), b"{}")  # a message waiting its turn
    try:
        assert runner.stalled("orders", "xcart_to_acumatica") == []
    finally:
        redis_client.delete(prefixed("orders"))
    assert runner.stalled("orders", "xcart_to_acumatica") == [
        str(order["id"])
    ]  # queue empty: it was lost after all


def test_payments_poll_restarts_no_payment_while_the_payments_queue_has_a_backlog(
    sandboxes, clean_ledger, celery_worker, monkeypatch
) -> None:
    order = place(sandboxes["xcart"].url, "queued-payment@example.com")
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    [transaction_id] = linked("payments")
    with session_scope() as session:
        payment = find_by_source(session, "payments", "xcart_to_acumatica", transaction_id)
        order_row = find_by_source(session, "orders", "xcart_to_acumatica", str(order["id"]))
        assert payment is not None and order_row is not None
        payment.target_key, payment.status = None, Status.PENDING.value
        order_row.followup_due = True
    backdate("payments", transaction_id)
    backdate("orders", str(order["id"]))
    # (the worker running here would take a message pushed to the real queue: stand in for it)
    monkeypatch.setattr(payments_changes, "queue_backlog", lambda queue: 7)
    assert list(payments_flow.unsynced_transactions()) == []
    monkeypatch.setattr(payments_changes, "queue_backlog", lambda queue: 0)
    assert [str(t["id"]) for _, t in payments_flow.unsynced_transactions()] == [transaction_id]


def test_a_poll_killed_in_a_large_window_leaves_the_next_only_what_it_had_not_handed_out(
    sandboxes, clean_ledger, monkeypatch
) -> None:
    """A cursor poll hands a large window out in batches and saves its progress after each: the
    poll that follows one dying half-way hands out only the rest, not the whole window again."""
    xcart = sandboxes["xcart"].url
    placed = []
    try:
        for n in range(7):  # one second apart: a checkpoint holds at a second's boundary
            sandbox(xcart, "clock", {"offset_seconds": n - 20})
            placed.append(place(xcart, f"batch{n}@example.com"))
    finally:
        sandbox(xcart, "clock", {"offset_seconds": 0})
    monkeypatch.setattr(orders_flow, "HAND_OUT_BATCH", 3)
    started: list[str] = []

    def dies_on_the_third_batch(starts):
        batch = [start.record_id for start in starts]
        if len(started) == 6:
            raise RuntimeError("SIGKILL")
        started.extend(batch)
        return batch

    with pytest.raises(RuntimeError):
        orders_flow.poll(PollRequest(), dies_on_the_third_batch)
    by_time = [str(o["id"]) for o in sorted(placed, key=orders_flow.update_moment)]
    assert started == by_time[:6]  # two batches of 3, in update order

    started.clear()
    orders_flow.poll(PollRequest(), lambda starts: started.extend(s.record_id for s in starts))
    assert started == by_time[6:]
    started.clear()
    orders_flow.poll(PollRequest(), lambda starts: started.extend(s.record_id for s in starts))
    assert started == []  # nothing new


def test_an_order_taken_from_a_worker_killed_during_its_put_is_not_sent_again_while_it_may_land(
    sandboxes, clean_ledger, redis_client
) -> None:
    """The worker holding the order died after its claim and during its PUT (its lock names it,
    its heartbeat is gone, its write mark lives): the next run takes the lock over, does not find
    the sales order, and sends nothing until that PUT can no longer land; then it creates one."""
    from sync_workers.errors import TransientError
    from sync_workers.flows.orders.steps import push
    from sync_workers.ledger import claim_for_create
    from sync_workers.redis_client import prefixed
    from tests.flows.order_to_cash.helpers import prepared

    order = place(sandboxes["xcart"].url, "in.flight@example.com")
    order_id = str(order["id"])
    state = prepared(order_id)
    with session_scope() as session:  # the dead worker's claim, committed before its PUT
        claim_for_create(session, "orders", "xcart_to_acumatica", order_id)
    dead = "elsewhere:4242:dead0001"
    redis_client.set(prefixed("lock", "orders", order_id), f"{dead}/token", px=330_000)
    redis_client.set(prefixed("gone", dead), "0", px=60_000)  # gone long enough: taken over
    redis_client.set(prefixed("writing", dead), "1", px=2_000)

    with pytest.raises(TransientError, match="may still be carried out") as raised:
        push(dict(state))
    assert 1 <= raised.value.retry_after <= 2
    assert sales_orders_for(order["order_number"]) == []
    assert not redis_client.exists(prefixed("lock", "orders", order_id))  # released on the way

    time.sleep(raised.value.retry_after + 0.1)
    done = push(dict(state))

    assert done["created"] is True
    assert len(sales_orders_for(order["order_number"])) == 1
