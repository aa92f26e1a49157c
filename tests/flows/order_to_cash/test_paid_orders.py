"""A new paid order: its sales order and its payment in one PUT, exactly once, under faults."""

from __future__ import annotations

import yaml

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import runner
from sync_workers.ledger import SyncRecord, history, session_scope
from sync_workers.mapping import templates
from tasks import orders as order_tasks
from tasks import payments as payment_tasks
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    checkout,
    entity_calls,
    ledger_rows,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)

ENDPOINT = "/entity/Default/24.200.001"


def place(xcart: str, email: str, **extra) -> dict:
    return checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0009", "amount": 1}],
            "billing_address": address("Pia", "D'Amount " + email.split("@")[0], "OR"),
            "payment_method": "Credit Card",
            **extra,
        },
    )


def acumatica_records(order: dict) -> tuple[list[dict], list[dict]]:
    client = clients.acumatica()
    orders = client.get_list("SalesOrder", filter=F("CustomerOrder") == order["order_number"])
    payments = client.get_list(
        "Payment", filter=F("PaymentRef") == f"XC-{order['id']}", expand=["OrdersToApply"]
    )
    return orders, payments


def known_buyer(xcart: str, email: str) -> None:
    first = place(xcart, email)
    runner.start("orders", first["id"])
    wait_for(lambda: linked("payments"))


def test_paid_order_and_its_payment_are_created_in_one_put_and_linked_from_its_answer(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    known_buyer(xcart, "one.put@example.com")
    sandbox(acumatica, "stats/reset", {})
    order = place(xcart, "one.put@example.com")

    runner.start("orders", order["id"])

    wait_for(lambda: len(linked("payments")) == 2)
    assert entity_calls(acumatica_stats(acumatica)) == {f"PUT {ENDPOINT}/SalesOrder": 1}
    [so], [payment] = acumatica_records(order)
    assert payment["Type"] == "Prepayment" and payment["PaymentAmount"] == order["total"]
    assert [(a["OrderNbr"], a["AppliedToOrder"]) for a in payment["OrdersToApply"]] == [
        (so["OrderNbr"], order["total"])
    ]
    sales_order = clients.acumatica().get_by_keys(
        "SalesOrder", "SO", so["OrderNbr"], expand=["Payments", "Totals"]
    )
    assert [p["ReferenceNbr"] for p in sales_order["Payments"]] == [payment["ReferenceNbr"]]
    assert sales_order["Totals"]["UnpaidBalance"] == 0.0
    [row] = [r for r in ledger_rows("payments") if r.target_key.endswith(payment["ReferenceNbr"])]
    assert row.data["with_order"] is True and row.data["order_key"] == f"SO/{so['OrderNbr']}"
    # the payments poll of the order, and the order again (a duplicated trigger): nothing more
    sandbox(acumatica, "stats/reset", {})
    assert payment_tasks.poll(ids=[str(order["id"])])["started"] == []
    order_tasks.realtime_on_webhook.delay(event="order.updated", data={"id": order["id"]})
    transaction_id = row.source_id
    runs = wait_for(
        lambda: (
            len(history.runs_of("payments", "xcart_to_acumatica", transaction_id)) == 2
            and history.runs_of("payments", "xcart_to_acumatica", transaction_id)
        )
    )
    # created by the order's push; then, run again by the repeated order, found linked
    assert [(r["outcome"], r["steps"]) for r in runs] == [
        ("skipped", "prepare,push"),
        ("ok", "push"),
    ]
    assert entity_calls(acumatica_stats(acumatica)) == {}
    assert len(acumatica_records(order)[1]) == 1
    assert not open_dead_letters()


def test_combined_put_committed_then_timed_out_is_found_with_its_payment(
    sandboxes, clean_ledger, celery_worker
) -> None:
    """Acumatica applies the PUT, then holds the answer until the connection drops: the retry
    finds the order (its ``put_sent`` mark) and its payment, and links both."""
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    known_buyer(xcart, "slow.answer@example.com")
    order = place(xcart, "slow.answer@example.com")
    sandbox(acumatica, "stats/reset", {})
    sandbox(
        acumatica,
        "faults",
        {
            "rules": [
                {"path": "SalesOrder$", "method": "PUT", "ptimeout": 1.0, "after_commit": True}
            ],
            "timeout_seconds": 1,
        },
    )
    try:
        runner.start("orders", order["id"])
        wait_for(lambda: sandbox(acumatica, "stats")["faults_injected"].get("ptimeout", 0) >= 1)
    finally:
        sandbox(acumatica, "faults", {"rules": []})

    wait_for(lambda: len(linked("payments")) == 2, timeout=40)
    calls = entity_calls(acumatica_stats(acumatica))
    [so], [payment] = acumatica_records(order)
    assert linked("orders")[str(order["id"])] == f"SO/{so['OrderNbr']}"
    assert f"Prepayment/{payment['ReferenceNbr']}" in linked("payments").values()
    assert calls[f"PUT {ENDPOINT}/SalesOrder"] == 1
    assert calls[f"GET {ENDPOINT}/SalesOrder"] == 1  # the look-up by CustomerOrder
    assert calls[f"GET {ENDPOINT}/SalesOrder/SO/{so['OrderNbr']}"] == 1  # with its Payments
    assert f"PUT {ENDPOINT}/Payment" not in calls and f"GET {ENDPOINT}/Payment" not in calls
    assert not open_dead_letters()


def test_a_lost_payment_link_is_found_by_its_reference_not_created_again(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order = place(xcart, "lost.link@example.com")
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    with session_scope() as session:  # a ledger restored from before the payment's link
        session.query(SyncRecord).filter(SyncRecord.flow == "payments").delete()

    payment_tasks.poll.delay(ids=[str(order["id"])])

    wait_for(lambda: linked("payments"))
    assert len(acumatica_records(order)[1]) == 1


def test_an_authorised_order_gets_its_payment_on_hold_in_the_same_put(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order = place(xcart, "authorised@example.com", payment_action="auth")
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    [_so], [payment] = acumatica_records(order)
    assert payment["Status"] == "On Hold"


def test_without_with_order_each_payment_has_its_own_put(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    path = fast_templates / "payments.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["with_order"] = False
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    known_buyer(xcart, "two.puts@example.com")
    sandbox(acumatica, "stats/reset", {})
    order = place(xcart, "two.puts@example.com")

    runner.start("orders", order["id"])

    wait_for(lambda: len(linked("payments")) == 2)
    assert entity_calls(acumatica_stats(acumatica)) == {
        f"PUT {ENDPOINT}/SalesOrder": 1,
        f"PUT {ENDPOINT}/Payment": 1,
    }
    assert len(acumatica_records(order)[1]) == 1
