"""One task per order, its payments included; a payment that fails there continues in its own
task; messages of the older shapes (two tasks per order, one task per step) still run."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import yaml
from celery import chain
from celery.signals import task_prerun

from sync_workers import clients
from sync_workers.celery import publish
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import orders as orders_flow
from sync_workers.mapping import templates
from sync_workers.task import get_dlq
from tasks import orders as order_tasks
from tasks import payments as payment_tasks
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    ledger_rows,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)


def place(xcart: str, email: str, **extra) -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0005", "amount": 1}],
            "billing_address": address("Tess", "O'Shape", "OR"),
            "payment_method": "Credit Card",
            **extra,
        },
    )


@pytest.fixture
def ran() -> Iterator[list[tuple[str, str | None]]]:
    """(task name, trace id) of every task the worker runs during the test."""
    seen: list[tuple[str, str | None]] = []

    def note(task=None, **_) -> None:
        seen.append((task.name, getattr(task.request, "trace_id", None)))

    task_prerun.connect(note, weak=False)
    yield seen
    task_prerun.disconnect(note)


def one_each(order: dict) -> bool:
    client = clients.acumatica()
    orders = client.get_list("SalesOrder", filter=F("CustomerOrder") == order["order_number"])
    payments = client.get_list("Payment", filter=F("PaymentRef") == f"XC-{order['id']}")
    return len(orders) == 1 and len(payments) == 1


def test_an_order_is_one_task_with_its_payment_in_one_trace(
    sandboxes, clean_ledger, celery_worker, ran
) -> None:
    order = place(sandboxes["xcart"].url, "one.task@example.com")

    order_tasks.start(order["id"])

    wait_for(lambda: linked("payments"))
    time.sleep(0.3)
    assert [name for name, _ in ran] == ["tasks.orders.sync"]
    assert ran[0][1]
    [payment] = ledger_rows("payments")
    assert payment.trace_id == ran[0][1]
    assert one_each(order)


def test_a_payment_failing_in_the_order_task_is_dead_lettered_on_its_own_and_replayable(
    sandboxes, clean_ledger, celery_worker, ran
) -> None:
    acumatica = sandboxes["acumatica"].url
    sandbox(acumatica, "faults", {"rules": [{"path": "/Payment", "method": "PUT", "p500": 1.0}]})
    order = place(sandboxes["xcart"].url, "payment.fails@example.com")
    order_tasks.start(order["id"])

    [entry] = wait_for(lambda: open_dead_letters("payments"))
    assert linked("orders") and not open_dead_letters("orders")  # the order is not held up
    assert entry.task == "tasks.payments.sync_transaction" and entry.step == "push"
    names = [name for name, _ in ran]
    assert names.count("tasks.orders.sync") == 1
    assert names.count("tasks.payments.sync_transaction") >= 1  # its own task, with retries

    sandbox(acumatica, "faults", {"rules": []})
    get_dlq().replay(entry.id, publish, by="test")
    wait_for(lambda: linked("payments"))
    assert one_each(order)
    assert not open_dead_letters()


def test_messages_of_the_one_task_per_step_shape_sync_each_order_once(
    sandboxes, clean_ledger, celery_worker, ran
) -> None:
    xcart = sandboxes["xcart"].url
    from_fetch, from_validate, from_transform = (
        place(xcart, f"old.shape{n}@example.com") for n in range(3)
    )
    fetched = orders_flow.fetch(from_validate["id"])
    validated = orders_flow.validate(orders_flow.fetch(from_transform["id"]))

    chain(
        order_tasks.fetch.si(record_id=str(from_fetch["id"])),
        order_tasks.validate.s(),
        order_tasks.transform.s(),
        order_tasks.push.s(),
        order_tasks.write_back.s(),
    ).apply_async()
    chain(
        order_tasks.validate.s(fetched),
        order_tasks.transform.s(),
        order_tasks.push.s(),
        order_tasks.write_back.s(),
    ).apply_async()
    chain(
        order_tasks.transform.s(validated), order_tasks.push.s(), order_tasks.write_back.s()
    ).apply_async()

    from_push = place(xcart, "old.shape3@example.com")  # the second task of two per order
    order_tasks.push.apply_async(
        args=(orders_flow.transform(orders_flow.validate(orders_flow.fetch(from_push["id"]))),)
    )

    wait_for(lambda: len(linked("payments")) == 4)
    [transaction_id] = [
        r.source_id for r in ledger_rows("payments") if r.data["order_id"] == str(from_fetch["id"])
    ]
    chain(  # an old payment chain for a transaction already recorded
        payment_tasks.prepare.si(record_id=transaction_id, order_id=str(from_fetch["id"])),
        payment_tasks.push.s(),
    ).apply_async()
    time.sleep(1.5)

    names = [name for name, _ in ran]
    assert names.count("tasks.orders.validate") == 1  # the old chains' next steps never ran
    assert names.count("tasks.orders.transform") == 1
    assert names.count("tasks.orders.write_back") == 0
    assert names.count("tasks.orders.push") == 1  # only the one sent as such
    assert names.count("tasks.payments.push") == 0
    assert all(one_each(o) for o in (from_fetch, from_validate, from_transform, from_push))
    assert not open_dead_letters()


def test_failed_validation_is_dead_lettered_at_its_step_and_its_replay_syncs_the_order(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    order = place(
        sandboxes["xcart"].url, "replay.step@example.com", payment_method="Purchase Order"
    )
    order_tasks.start(order["id"])
    [entry] = wait_for(lambda: open_dead_letters("orders"))
    assert (entry.task, entry.step) == ("tasks.orders.sync", "validate")

    path = fast_templates / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["methods"]["Purchase Order"] = {"payment_method": "CHECK", "cash_account": "10200WH"}
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    get_dlq().replay(entry.id, publish, by="test")

    wait_for(lambda: linked("orders"))
    assert (
        len(
            clients.acumatica().get_list(
                "SalesOrder", filter=F("CustomerOrder") == order["order_number"]
            )
        )
        == 1
    )
    assert get_dlq().get(entry.id).status == "replayed"
    assert not open_dead_letters()
