"""Orders and payments through a real worker, Redis, the ledger and both sandboxes."""

from __future__ import annotations

from sync_workers import clients
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    linked,
    open_dead_letters,
    wait_for,
)


def test_checkout_becomes_one_sales_order_with_its_payment(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order = checkout(
        xcart,
        {
            "email": "zoe.o'hara@example.com",
            "items": [{"sku": "AA-0001", "amount": 2}, {"sku": "AA-0002", "amount": 1}],
            "billing_address": address("Zoë", "O'Hara"),
            "payment_method": "Credit Card",
            "coupon": "SAVE10",
            "shipping_cost": 7.5,
            "notes": 'Leave at "side" door, it\'s open',
        },
    )

    order_tasks.poll.delay()

    payments = wait_for(lambda: linked("payments"), timeout=30)
    orders = linked("orders")
    assert list(orders) == [str(order["id"])]
    order_type, order_nbr = orders[str(order["id"])].split("/")
    so = clients.acumatica().get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["Details", "TaxDetails", "Totals"]
    )
    assert so["CustomerOrder"] == order["order_number"]
    assert so["OrderTotal"] == order["total"]
    assert so["CurrencyID"] == "USD"
    assert [d["InventoryID"] for d in so["Details"]] == ["AA-0001", "AA-0002"]
    assert "it's open" in so["note"]
    assert len(payments) == 1
    assert not open_dead_letters()
