"""Payment status changes made in Acumatica flow back to X-Cart (a check received marks paid)."""

from __future__ import annotations

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import runner
from tasks import payments as payment_tasks
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)


def check_order(xcart: str, email: str) -> tuple[dict, str, str]:
    order = checkout(
        xcart,
        {
            "email": email,
            "items": [{"sku": "AA-0012", "amount": 2}],
            "billing_address": address("Chuck", email.split("@")[0], "OR"),
            "payment_method": "Check",
        },
    )
    runner.start("orders", order["id"])
    key = wait_for(lambda: linked("orders").get(str(order["id"])))
    order_type, order_nbr = key.split("/")
    return order, order_type, order_nbr


def received_check(order_type: str, order_nbr: str, amount: float) -> dict:
    client = clients.acumatica()
    so = client.get_by_keys("SalesOrder", order_type, order_nbr)
    payment = client.put(
        "Payment",
        {
            "Type": "Payment",
            "CustomerID": so["CustomerID"],
            "PaymentMethod": "CHECK",
            "CashAccount": "10200WH",
            "PaymentAmount": amount,
            "OrdersToApply": [{"OrderType": order_type, "OrderNbr": order_nbr}],
        },
    )
    keys = {"Type": "Payment", "ReferenceNbr": payment["ReferenceNbr"]}
    client.invoke_action("Payment", "ReleasePayment", keys)
    return {**keys, "Status": "Closed"}


def payment_code(order_id: int) -> str:
    return clients.xcart().get_order(order_id)["payment_status"]["code"]


def test_check_released_in_acumatica_marks_the_xcart_order_paid_once(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    xcart = sandboxes["xcart"].url
    full, f_type, f_nbr = check_order(xcart, "check.full@example.com")
    part, p_type, p_nbr = check_order(xcart, "check.part@example.com")
    worker_activity.idle()  # both orders' chains have run to their end
    assert linked("payments") == {}  # a pending check is no payment yet
    row = received_check(f_type, f_nbr, full["total"])
    received_check(p_type, p_nbr, round(part["total"] / 2, 2))
    notification = {"Id": "p-1", "Query": "Payments", "Deleted": [], "Inserted": [row]}

    payment_tasks.realtime_on_push.delay(notification=notification)
    payment_tasks.realtime_on_push.delay(notification=notification)  # delivered twice
    payment_tasks.poll.delay()

    wait_for(lambda: payment_code(full["id"]) == "P")
    wait_for(lambda: payment_code(part["id"]) == "PP")
    worker_activity.idle()  # the duplicated push and the poll have run too
    stats = sandbox(xcart, "stats")["requests"]["by_path"]
    assert stats[f"PUT /api/orders/{full['id']}/payment_status"] == 1
    assert stats[f"PUT /api/orders/{part['id']}/payment_status"] == 1
    assert not open_dead_letters()


def test_drift_finds_a_transaction_whose_payment_is_missing(
    sandboxes, clean_ledger, celery_worker
) -> None:
    from sync_workers.flows import payments as payments_flow
    from sync_workers.ledger import session_scope
    from sync_workers.ledger.models import SyncRecord

    xcart = sandboxes["xcart"].url
    order = checkout(
        xcart,
        {"email": "drift@example.com", "items": [{"sku": "AA-0013", "amount": 1}],
         "billing_address": address("Dri", "Ft", "OR"), "payment_method": "PayPal"},
    )  # fmt: skip
    runner.start("orders", order["id"])
    wait_for(lambda: linked("payments"))
    assert payments_flow.drift() == []
    with session_scope() as session:  # the payment link is lost
        session.query(SyncRecord).filter(SyncRecord.flow == "payments").delete()

    [drift] = payments_flow.drift()

    assert drift.kind == "missing_in_target" and drift.source_id == str(order["id"])
    payment_tasks.poll.delay(ids=[drift.source_id])  # what reconcile --repair publishes
    wait_for(lambda: linked("payments"))
    assert payments_flow.drift() == []
    refs = clients.acumatica().get_list(
        "Payment", filter=F("PaymentRef") == f"XC-{drift.details['transaction_id']}"
    )
    assert len(refs) == 1  # the repair found the payment instead of making a second one
