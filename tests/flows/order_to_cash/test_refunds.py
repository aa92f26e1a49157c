"""X-Cart refunds become Acumatica refunds applied to the order's payment, exactly once."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import yaml

from sync_workers import clients
from sync_workers.celery import publish
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import runner
from sync_workers.mapping import templates
from sync_workers.task import get_dlq
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
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
            "items": [{"sku": "AA-0014", "amount": 2}],
            "billing_address": address("Ruth", "Fund " + email.split("@")[0], "OR"),
            "payment_method": "Credit Card",
            **extra,
        },
    )


def synced(xcart: str, email: str) -> tuple[dict, str, str]:
    order = place(xcart, email)
    runner.start("orders", order["id"])
    wait_for(lambda: str(order["id"]) in linked("orders"))
    wait_for(lambda: linked("payments"))
    order_type, order_nbr = linked("orders")[str(order["id"])].split("/")
    return order, order_type, order_nbr


def refund(xcart: str, order_id: int, amount: float | None = None) -> dict:
    body = {} if amount is None else {"amount": amount}
    sandbox(xcart, f"orders/{order_id}/refund", body)
    txn = clients.xcart().payment_transactions(order_id)[0]
    return txn["backend_transactions"][-1]


def refunds_linked() -> dict[str, str]:
    return {k: v for k, v in linked("payments").items() if k.startswith("refund:")}


def acumatica_refunds(refund_ids: list) -> list[dict]:
    client = clients.acumatica()
    return [
        row
        for refund_id in refund_ids
        for row in client.get_list(
            "Payment",
            filter=(F("Type") == "Refund") & (F("PaymentRef") == f"XC-R{refund_id}"),
            expand=["DocumentsToApply"],
        )
    ]


def payment_of(order: dict) -> dict:
    [payment] = clients.acumatica().get_list(
        "Payment", filter=F("PaymentRef") == f"XC-{order['id']}", expand=["OrdersToApply"]
    )
    return payment


def so_status(order_type: str, order_nbr: str) -> str:
    return clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr)["Status"]


def test_full_refund_of_an_open_order_cancels_it_and_pays_its_payment_back_once(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced(xcart, "full.refund@example.com")
    made = refund(xcart, order["id"])

    order_tasks.poll.delay()
    order_tasks.realtime_on_webhook.delay(event="order.updated", data={"id": order["id"]})
    order_tasks.realtime_on_webhook.delay(event="order.updated", data={"id": order["id"]})

    wait_for(lambda: refunds_linked())
    worker_activity.idle()  # the duplicated triggers have run too
    assert so_status(order_type, order_nbr) == "Canceled"
    [made_refund] = acumatica_refunds([made["id"]])
    payment = payment_of(order)
    assert made_refund["PaymentAmount"] == order["total"]
    assert made_refund["ExternalRef"] == str(made["id"])
    assert [(d["DocType"], d["ReferenceNbr"], d["AmountPaid"])
            for d in made_refund["DocumentsToApply"]] == [
        (payment["Type"], payment["ReferenceNbr"], order["total"])
    ]  # fmt: skip
    assert payment["Status"] == "Closed" and payment["AvailableBalance"] == 0.0
    assert refunds_linked() == {f"refund:{made['id']}": f"Refund/{made_refund['ReferenceNbr']}"}
    [record] = [r for r in ledger_rows("orders") if r.source_id == str(order["id"])]
    assert record.data["last_change"] == "refunded"
    assert not open_dead_letters()


def test_partial_refunds_are_each_recorded_once_and_the_order_stays_open(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced(xcart, "part.refund@example.com")
    first = refund(xcart, order["id"], 5.0)
    order_tasks.poll.delay()
    wait_for(lambda: len(refunds_linked()) == 1)
    second = refund(xcart, order["id"], 7.25)
    with ThreadPoolExecutor(max_workers=2) as pool:  # the same change, handed out twice at once
        pool.submit(order_tasks.poll)
        pool.submit(lambda: runner.start("orders", order["id"]))

    wait_for(lambda: len(refunds_linked()) == 2)
    worker_activity.idle()  # the change handed out twice has run both times
    found = acumatica_refunds([first["id"], second["id"]])
    assert sorted(r["PaymentAmount"] for r in found) == [5.0, 7.25]
    assert so_status(order_type, order_nbr) == "Open"
    payment = payment_of(order)
    assert payment["OrdersToApply"][0]["AppliedToOrder"] == round(order["total"] - 12.25, 2)
    so = clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr, expand=["Totals"])
    assert so["Totals"]["UnpaidBalance"] == 12.25  # what the shopper got back is unpaid again
    assert not open_dead_letters()


def test_a_refund_of_an_order_not_synced_yet_waits_for_its_order(
    sandboxes, clean_ledger, celery_worker, task_runs, worker_activity
) -> None:
    xcart = sandboxes["xcart"].url
    order = place(xcart, "refund.first@example.com")
    made = refund(xcart, order["id"], 3.0)
    # the refund's own task first (as a payments poll or a replay would start it): it waits
    runner.start("payments", made["id"], chain="refund", order_id=str(order["id"]))
    [first] = task_runs.wait(str(made["id"]), 1)
    assert first.state == "RETRY"  # it ran, found no sales order, and waits
    assert refunds_linked() == {}
    assert not open_dead_letters()

    runner.start("orders", order["id"])

    wait_for(lambda: refunds_linked(), timeout=40)
    worker_activity.idle()  # every trigger of the refund has run
    [found] = acumatica_refunds([made["id"]])
    assert found["PaymentAmount"] == 3.0
    assert len(clients.acumatica().get_list("Payment", filter=F("Type") == "Prepayment")) == 1
    assert not open_dead_letters()


def test_an_order_refunded_before_its_sync_is_created_cancelled_and_refunded(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order = place(xcart, "refunded.early@example.com")
    made = refund(xcart, order["id"])

    order_tasks.poll.delay()

    wait_for(lambda: refunds_linked())
    order_type, order_nbr = linked("orders")[str(order["id"])].split("/")
    assert so_status(order_type, order_nbr) == "Canceled"
    assert [r["PaymentAmount"] for r in acumatica_refunds([made["id"]])] == [order["total"]]
    assert not open_dead_letters()


def test_a_cancelled_order_whose_payment_was_captured_is_refunded_the_same_way(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced(xcart, "cancel.then.refund@example.com")
    sandbox(xcart, f"orders/{order['id']}/cancel", {})
    order_tasks.poll.delay()
    wait_for(lambda: so_status(order_type, order_nbr) == "Canceled")
    assert payment_of(order)["OrdersToApply"][0]["AppliedToOrder"] == 0.0  # freed by the cancel
    sandbox(xcart, "clock", {"advance_seconds": 2})  # update dates move in whole seconds
    made = refund(xcart, order["id"])

    order_tasks.poll.delay()

    wait_for(lambda: refunds_linked())
    [found] = acumatica_refunds([made["id"]])
    assert found["PaymentAmount"] == order["total"]
    assert not open_dead_letters()


def test_refund_applied_but_answer_lost_is_found_not_doubled(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order, _type, _nbr = synced(xcart, "refund.lost@example.com")
    made = refund(xcart, order["id"], 4.5)
    sandbox(
        acumatica,
        "faults",
        {"rules": [{"path": "Payment$", "method": "PUT", "preset": 1.0, "after_commit": True}]},
    )
    try:
        order_tasks.poll.delay()
        wait_for(lambda: sandbox(acumatica, "stats")["faults_injected"].get("preset", 0) >= 2)
    finally:
        sandbox(acumatica, "faults", {"rules": []})

    wait_for(lambda: refunds_linked(), timeout=40)
    [found] = acumatica_refunds([made["id"]])
    assert found["PaymentAmount"] == 4.5
    payment = payment_of(order)  # its reservation reduced once, not twice
    assert payment["OrdersToApply"][0]["AppliedToOrder"] == round(order["total"] - 4.5, 2)
    assert not open_dead_letters()


def test_a_refund_of_a_shipped_order_is_recorded_and_its_sales_order_kept(
    sandboxes, clean_ledger, celery_worker
) -> None:
    from tests.flows.order_to_cash.test_shipments_flow import confirmed_shipment

    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced(xcart, "shipped.refund@example.com")
    confirmed_shipment(order_type, order_nbr, ["Z9"])
    made = refund(xcart, order["id"])

    order_tasks.poll.delay()

    wait_for(lambda: refunds_linked())
    assert so_status(order_type, order_nbr) == "Completed"
    assert [r["PaymentAmount"] for r in acumatica_refunds([made["id"]])] == [order["total"]]
    [record] = [r for r in ledger_rows("orders") if r.source_id == str(order["id"])]
    assert record.data["last_change"] == "refunded after Completed: sales order kept"
    assert not open_dead_letters()


def test_a_refund_of_an_unreleased_payment_is_dead_lettered_naming_it_and_replayed_once(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    """With ``refunds.release_payment: false`` the engine does not release a payment itself:
    the refund waits in the dead-letter queue, naming the payment, until someone releases it
    in Acumatica; the replay then records it, once."""
    path = fast_templates / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["refunds"]["release_payment"] = False
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    xcart = sandboxes["xcart"].url
    order, _type, _nbr = synced(xcart, "unreleased@example.com")
    made = refund(xcart, order["id"], 6.0)

    order_tasks.poll.delay()

    [entry] = wait_for(lambda: open_dead_letters("payments"))
    payment = payment_of(order)
    key = f"{payment['Type']}/{payment['ReferenceNbr']}"
    assert entry.task == "tasks.payments.refund" and entry.step == "push"
    assert (
        entry.record_id == str(made["id"])
        and f"payment {key} is not released" in entry.error_message
    )
    assert acumatica_refunds([made["id"]]) == [] and refunds_linked() == {}
    clients.acumatica().invoke_action(
        "Payment",
        "ReleasePayment",
        {"Type": payment["Type"], "ReferenceNbr": payment["ReferenceNbr"]},
    )

    get_dlq().replay(entry.id, publish, by="test")

    wait_for(lambda: refunds_linked())
    [found] = acumatica_refunds([made["id"]])
    assert found["PaymentAmount"] == 6.0
    assert not open_dead_letters()
