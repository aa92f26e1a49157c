"""Recovery: a worker killed around the PUT, an exhausted retry replayed from the dead letters."""

from __future__ import annotations

from sync_workers import clients
from sync_workers.celery import publish
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import runner
from sync_workers.ledger import claim_record, session_scope
from sync_workers.task import get_dlq
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


def place(xcart: str, email: str) -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0020", "amount": 1}],
            "billing_address": address("Rex", email.split("@")[0], "OR"),
            "payment_method": "Credit Card",
        },
    )


def sales_orders(order: dict) -> list[dict]:
    return clients.acumatica().get_list(
        "SalesOrder", filter=F("CustomerOrder") == order["order_number"]
    )


def mark_put_sent(order_id: str) -> None:
    with session_scope() as session:
        record = claim_record(session, "orders", "xcart_to_acumatica", order_id)
        record.data = {**(record.data or {}), "put_sent": True}


def test_worker_killed_after_the_put_leaves_one_sales_order(
    sandboxes, clean_ledger, celery_worker
) -> None:
    """The first worker sent the PUT (applied) and died before recording anything."""
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "killed.after@example.com")
    state = prepared(order["id"])
    mark_put_sent(str(order["id"]))
    clients.acumatica().put("SalesOrder", state["sales_order"])  # ...and then it died
    sandbox(acumatica, "stats/reset", {})

    runner.start("orders", order["id"])

    wait_for(lambda: linked("payments"))
    calls = entity_calls(acumatica_stats(acumatica))
    assert calls.get("GET /entity/Default/24.200.001/SalesOrder") == 1  # the look-up
    assert "PUT /entity/Default/24.200.001/SalesOrder" not in calls
    assert len(sales_orders(order)) == 1


def test_worker_killed_before_the_put_creates_it_after_one_look_up(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order = place(xcart, "killed.before@example.com")
    prepared(order["id"])
    mark_put_sent(str(order["id"]))  # committed, but the PUT never left

    runner.start("orders", order["id"])

    wait_for(lambda: linked("payments"))
    [created] = sales_orders(order)
    assert linked("orders")[str(order["id"])] == f"SO/{created['OrderNbr']}"


def test_replayed_push_after_exhausted_retries_links_the_order_created_on_the_first_try(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "replay.me@example.com")
    sandbox(
        acumatica,
        "faults",
        {
            "rules": [
                {"path": "^/entity/.*SalesOrder", "method": "*", "p500": 1.0, "after_commit": True}
            ]
        },
    )
    runner.start("orders", order["id"])
    [entry] = wait_for(lambda: open_dead_letters("orders"), timeout=30)
    assert entry.step == "push" and entry.attempts == 4
    assert len(sales_orders_raw(acumatica, order)) == 1  # applied on the first try
    sandbox(acumatica, "faults", {"rules": []})

    get_dlq().replay(entry.id, publish, by="test")
    wait_for(lambda: linked("payments"))
    worker_activity.idle()  # the replayed chain has finished

    assert len(sales_orders(order)) == 1
    assert (
        len(clients.acumatica().get_list("Payment", filter=F("PaymentRef") == f"XC-{order['id']}"))
        == 1
    )
    assert get_dlq().get(entry.id).status == "replayed"
    assert not open_dead_letters()


def sales_orders_raw(acumatica: str, order: dict) -> list[dict]:
    """Sales orders read through the OData endpoint (the REST one is faulted here)."""
    import requests

    answer = requests.get(
        f"{acumatica}/t/Company/api/odata/gi/SalesOrders",
        params={"$filter": f"CustomerOrder eq '{order['order_number']}'"},
        auth=("admin", "sandbox"),
        timeout=10,
    )
    answer.raise_for_status()
    return answer.json()["value"]


def test_resync_after_a_lost_ledger_links_existing_records_instead_of_duplicating(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    xcart = sandboxes["xcart"].url
    placed = [place(xcart, f"restore{i}@example.com") for i in range(2)]
    for order in placed:
        runner.start("orders", order["id"])
    wait_for(lambda: len(linked("payments")) == 2)
    with clean_ledger.begin() as conn:  # the ledger is restored from an old backup: empty
        conn.exec_driver_sql("delete from sync_records")

    order_tasks.poll.delay(all=True)

    wait_for(lambda: len(linked("payments")) == 2)
    worker_activity.idle()  # the poll and every chain it restarted have finished
    for order in placed:
        assert len(sales_orders(order)) == 1
        payments = clients.acumatica().get_list(
            "Payment", filter=F("PaymentRef") == f"XC-{order['id']}"
        )
        assert len(payments) == 1
    assert len(linked("orders")) == 2
    assert not open_dead_letters()
