"""Resyncs (``poll`` with ``since`` or ``ids``): orders looked up in Acumatica in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.connectors.http import query_string
from sync_workers.flows import orders as orders_flow
from sync_workers.flows import runner
from sync_workers.flows.orders import changes as order_changes
from sync_workers.flows.orders import steps as order_steps
from sync_workers.ledger import claim_record, session_scope
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    checkout,
    entity_calls,
    linked,
    open_dead_letters,
    prepared,
    sandbox,
    wait_for,
)

ENDPOINT = "/entity/Default/24.200.001"


def place(xcart: str, email: str, sku: str = "AA-0005") -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": sku, "amount": 1}],
            "billing_address": address("Res", "O'Sync", "OR"),
            "payment_method": "Credit Card",
        },
    )


def sales_orders(order: dict) -> list[dict]:
    return clients.acumatica().get_list(
        "SalesOrder", filter=F("CustomerOrder") == order["order_number"]
    )


@pytest.mark.parametrize("form", ["since", "ids"])
def test_resync_of_new_paid_orders_with_a_known_customer_costs_one_acumatica_call_each(
    sandboxes, clean_ledger, celery_worker, form: str
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    first = place(xcart, "resync.known@example.com")
    runner.start("orders", first["id"])
    wait_for(lambda: linked("payments"))
    since = datetime.now(UTC) - timedelta(seconds=1)
    placed = [place(xcart, "resync.known@example.com", f"AA-000{n}") for n in (6, 7, 8)]
    sandbox(acumatica, "stats/reset", {})

    if form == "since":
        order_tasks.poll.delay(since=since.isoformat())
    else:
        order_tasks.poll.delay(ids=[str(o["id"]) for o in placed])

    wait_for(lambda: len(linked("payments")) == 4)
    calls = entity_calls(acumatica_stats(acumatica))
    assert calls == {
        f"GET {ENDPOINT}/SalesOrder": 1,  # one batched look-up for the three orders
        f"PUT {ENDPOINT}/SalesOrder": 3,  # each with its payment
    }
    assert all(len(sales_orders(o)) == 1 for o in placed)
    assert not open_dead_letters()


def test_resync_links_a_sales_order_that_exists_in_acumatica_but_not_in_the_ledger(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "made.by.hand@example.com")
    state = prepared(order["id"])
    [made] = [clients.acumatica().put("SalesOrder", state["sales_order"])]  # no ledger row
    sandbox(acumatica, "stats/reset", {})

    order_tasks.poll.delay(ids=[str(order["id"])])

    wait_for(lambda: linked("payments"))
    assert len(sales_orders(order)) == 1
    assert linked("orders") == {str(order["id"]): f"SO/{made['OrderNbr']}"}
    calls = entity_calls(acumatica_stats(acumatica))
    assert f"PUT {ENDPOINT}/SalesOrder" not in calls
    assert calls[f"GET {ENDPOINT}/Payment"] == 1  # the order existed: its payment is looked up
    assert calls[f"PUT {ENDPOINT}/Payment"] == 1
    assert not open_dead_letters()


def test_push_looks_again_when_a_put_was_sent_after_the_batched_look_up(
    sandboxes, clean_ledger
) -> None:
    """The poll found no sales order; then an earlier chain sent its PUT (applied, answer
    lost). The ledger's ``put_sent`` makes the push look again instead of trusting the batch."""
    order = place(sandboxes["xcart"].url, "late.put@example.com")
    state = prepared(order["id"], verify=True, remote={"found": None})
    with session_scope() as session:
        record = claim_record(session, "orders", "xcart_to_acumatica", str(order["id"]))
        record.data = {**(record.data or {}), "put_sent": True}
    made = clients.acumatica().put("SalesOrder", state["sales_order"])

    result = order_steps.push(state)

    assert result["created"] is False
    assert result["target_key"] == f"SO/{made['OrderNbr']}"
    assert len(sales_orders(order)) == 1


def test_look_up_batches_stay_within_the_batch_size_and_the_url_limit() -> None:
    short = [f"{n:06d}" for n in range(95)]
    long = [f"O'NEIL/{'x' * 60}-{n}" for n in range(30)]

    for numbers in (short, long):
        batches = list(order_changes._look_up_batches("SO", numbers))
        assert [n for batch in batches for n in batch] == numbers
        for batch in batches:
            encoded = query_string({"$filter": order_changes._look_up_filter("SO", batch).render()})
            assert len(batch) <= orders_flow.LOOK_UP_BATCH
            assert len(encoded) <= order_changes.LOOK_UP_MAX_FILTER
    assert [len(b) for b in order_changes._look_up_batches("SO", short)] == [40, 40, 15]
    assert len(list(order_changes._look_up_batches("SO", long))) > 1


def test_a_large_resync_continues_in_new_tasks_and_syncs_each_order_once(
    sandboxes, clean_ledger, celery_worker, monkeypatch
) -> None:
    """A resync hands out RESYNC_CHUNK orders per task and passes the rest on from the last
    update time reached, so a 100,000-order backfill neither holds every order in one process
    nor outlives the task time limit."""
    from celery.signals import task_prerun

    xcart = sandboxes["xcart"].url
    skus = [f"AA-{n:04d}" for n in range(10, 40)]  # seed stock: a few units of each
    placed = [place(xcart, f"chunk{n % 5}@example.com", skus[n % len(skus)]) for n in range(130)]
    monkeypatch.setattr(order_changes, "RESYNC_CHUNK", 50)
    polls: list[dict] = []

    def note(task=None, kwargs=None, **_) -> None:
        if task is not None and task.name == "tasks.orders.poll":
            polls.append(dict(kwargs or {}))

    task_prerun.connect(note, weak=False)
    try:
        order_tasks.poll.delay(all=True)
        wait_for(lambda: len(linked("payments")) >= len(placed), timeout=120)
    finally:
        task_prerun.disconnect(note)
    assert len(polls) >= 2 and polls[0] == {"all": True}
    assert all(p.get("since") for p in polls[1:])  # continued from an update time
    for order in placed:
        assert len(sales_orders(order)) == 1
    assert not open_dead_letters()
