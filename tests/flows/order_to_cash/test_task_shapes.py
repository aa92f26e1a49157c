"""One task per order, its payments included; a payment that fails there continues in its own
task; every task run leaves one history row per record it ran."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from celery.signals import task_prerun

from sync_workers import clients
from sync_workers.celery import publish
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import runner
from sync_workers.ledger import history
from sync_workers.mapping import templates
from sync_workers.task import get_dlq
from tasks import orders as order_tasks  # noqa: F401  (registers the orders tasks)
from tasks import payments as payment_tasks  # noqa: F401  (registers the payments tasks)
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
    sandboxes, clean_ledger, celery_worker, ran, worker_activity
) -> None:
    order = place(sandboxes["xcart"].url, "one.task@example.com")

    runner.start("orders", order["id"])

    wait_for(lambda: linked("payments"))
    worker_activity.idle()  # a separate payment task, had one been sent, has run by now
    assert [name for name, _ in ran] == ["tasks.orders.sync"]
    assert ran[0][1]
    [payment] = ledger_rows("payments")
    assert payment.trace_id == ran[0][1]
    assert one_each(order)


def test_a_payment_failing_in_the_order_task_is_dead_lettered_on_its_own_and_replayable(
    sandboxes, clean_ledger, celery_worker, ran, fast_templates
) -> None:
    """A payment that has its own PUT (here: ``with_order`` off; in production: a transaction
    that came after its sales order)."""
    path = fast_templates / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["with_order"] = False
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    acumatica = sandboxes["acumatica"].url
    sandbox(acumatica, "faults", {"rules": [{"path": "/Payment", "method": "PUT", "p500": 1.0}]})
    order = place(sandboxes["xcart"].url, "payment.fails@example.com")
    runner.start("orders", order["id"])

    [entry] = wait_for(lambda: open_dead_letters("payments"))
    assert linked("orders") and not open_dead_letters("orders")  # the order is not held up
    assert entry.task == "tasks.payments.sync" and entry.step == "push"
    names = [name for name, _ in ran]
    assert names.count("tasks.orders.sync") == 1
    assert names.count("tasks.payments.sync") >= 1  # its own task, with retries

    sandbox(acumatica, "faults", {"rules": []})
    get_dlq().replay(entry.id, publish, by="test")
    wait_for(lambda: linked("payments"))
    assert one_each(order)
    assert not open_dead_letters()


def test_each_run_leaves_one_history_row_per_record_it_ran(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order = place(sandboxes["xcart"].url, "history.rows@example.com")
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    [payment] = ledger_rows("payments")

    [order_run] = wait_for(
        lambda: history.runs_of("orders", "xcart_to_acumatica", str(order["id"]))
    )
    [payment_run] = history.runs_of("payments", "xcart_to_acumatica", payment.source_id)

    assert order_run["steps"] == "fetch,validate,customer,transform,push,write_back,payments"
    assert (order_run["outcome"], order_run["attempt"], order_run["error"]) == ("ok", 1, None)
    assert order_run["task"] == "tasks.orders.sync" and order_run["trace_id"]
    # created by the order's push, in the same PUT: its row goes with the order's
    assert payment_run["steps"] == "push" and payment_run["outcome"] == "ok"
    assert payment_run["task"] == "tasks.orders.sync"
    assert payment_run["task_id"] == order_run["task_id"]
    assert payment_run["trace_id"] == order_run["trace_id"]


def test_a_dead_lettered_run_names_its_step_error_and_attempts_in_the_history(
    sandboxes, clean_ledger, celery_worker
) -> None:
    sandbox(
        sandboxes["acumatica"].url,
        "faults",
        {"rules": [{"path": "/SalesOrder", "method": "PUT", "p503": 1.0}]},
    )
    order = place(sandboxes["xcart"].url, "history.retries@example.com")
    runner.start("orders", order["id"])

    [entry] = wait_for(lambda: open_dead_letters("orders"), timeout=60)
    runs = wait_for(
        lambda: (
            [
                r
                for r in history.runs_of("orders", "xcart_to_acumatica", str(order["id"]))
                if r["outcome"] == "failed"
            ]
            and history.runs_of("orders", "xcart_to_acumatica", str(order["id"]))
        )
    )

    outcomes = [r["outcome"] for r in reversed(runs)]
    assert outcomes == ["retry"] * (len(outcomes) - 1) + ["failed"]
    assert [r["attempt"] for r in reversed(runs)] == list(range(1, len(runs) + 1))
    assert all(r["steps"].endswith("push") and r["error_class"] for r in runs)
    assert entry.step == "push" and entry.attempts == len(runs)


def test_failed_validation_is_dead_lettered_at_its_step_and_its_replay_syncs_the_order(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    order = place(
        sandboxes["xcart"].url, "replay.step@example.com", payment_method="Purchase Order"
    )
    runner.start("orders", order["id"])
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
