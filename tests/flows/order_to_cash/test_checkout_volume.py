"""200 varied checkouts become exactly 200 sales orders and 200 payments, with and without faults."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from sandboxes.common.catalog import seed_catalog
from sync_workers import clients
from sync_workers.settings import get_settings
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)

ORDERS = 200
NAMES = [
    ("Zoë", "Łukasiewicz"), ("Siobhán", "O'Brien"), ("José", "Núñez"), ("Renée", "D'Arcy"),
    ("Jean-Luc", "Côté"), ("Ana", 'Smith "Nana"'), ("Mary", "O'Neil"), ("Björn", "Ångström"),
    ("Chloé", "Lefèvre"), ("Ola", "Müller-Lüdenscheidt"),
]  # fmt: skip
NOTES = [
    "",
    "Leave at the door",
    "It's a gift — don't include the invoice",
    'Ring "twice"',
    "Ça va",
]
HARD_SKUS = ["O'NEIL/42", "AA-QUOTE", "AA-CAFE", "AA-LODZ", "AA-FREE"]


def shopper_orders(rng: random.Random) -> list[dict]:
    skus = [i.sku for i in seed_catalog() if sum(i.qty_by_warehouse.values()) >= 40]
    registered = [f"shopper{n:02d}.{rng.choice('abc')}@example.com" for n in range(40)]
    bodies = []
    for n in range(ORDERS):
        first, last = rng.choice(NAMES)
        guest = n % 5 == 0
        email = f"guest{n}@example.org" if guest else rng.choice(registered)
        if not guest:
            first, last = NAMES[registered.index(email) % len(NAMES)]
        lines = rng.sample(skus, rng.randint(1, 4))
        if n % 7 == 0:
            lines.append(rng.choice([s for s in HARD_SKUS if s in skus] or lines))
        state = rng.choice(["NY", "CA", "TX", "OR", "MA"])
        bodies.append(
            {
                "email": email,
                "guest": guest,
                "items": [
                    {"sku": sku, "amount": rng.randint(1, 3)} for sku in dict.fromkeys(lines)
                ],
                "billing_address": address(first, last, state, phone=f"+1 555 {n:04d}"),
                "payment_method": rng.choice(["Credit Card", "PayPal", "Credit Card"]),
                "payment_action": "auth" if n % 9 == 0 else "sale",
                "currency": "CAD" if n % 4 == 0 else "USD",
                "shipping_cost": rng.choice([0, 4.99, 7.5, 12]),
                "shipping_method": rng.choice(["Courier", "Ground", "Express", "Local pickup"]),
                "coupon": rng.choice([None, None, "SAVE10", "FIVEOFF"]),
                "notes": rng.choice(NOTES),
            }
        )
    for body in bodies:
        if body["coupon"] is None:
            del body["coupon"]
        if body["payment_method"] != "Credit Card":
            del body["payment_action"]
    return bodies


BAD = [
    {"email": "bad.sku@example.net", "items": [{"sku": "WEB-GIFT-25", "amount": 1}]},
    {"email": "bad.method@example.net", "payment_method": "Purchase Order"},
]


@pytest.fixture
def patient_retries(monkeypatch: pytest.MonkeyPatch):
    """More retries for the fault run: 17 % of calls fail, so four failures in a row happen."""
    monkeypatch.setenv("RETRY_MAX", "10")
    get_settings.cache_clear()
    yield
    monkeypatch.delenv("RETRY_MAX")
    get_settings.cache_clear()


FAULTS = {
    "rules": [
        {"path": "^/(api|entity)/", "method": "PUT", "p500": 0.10, "p429": 0.05,
         "ptimeout": 0.02, "after_commit": True},
        {"path": "^/(api|entity)/", "method": "POST", "p500": 0.10, "p429": 0.05,
         "ptimeout": 0.02, "after_commit": True},
        {"path": "^/(api|entity)/", "method": "GET", "p500": 0.10, "p429": 0.05,
         "ptimeout": 0.02},
    ],
    "timeout_seconds": 1,
    "seed": 11,
}  # fmt: skip


def run_checkouts(sandboxes, worker_activity, faults: bool) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    bodies = shopper_orders(random.Random(2026))
    placed = [checkout(xcart, body) for body in bodies]
    bad = [
        checkout(
            xcart,
            {"items": [{"sku": "AA-0009", "amount": 1}], "payment_method": "Credit Card",
             "billing_address": address("Bad", "Order", "NY"), **b},
        )
        for b in BAD
    ]  # fmt: skip
    if faults:
        for url in (xcart, acumatica):
            sandbox(url, "faults", FAULTS)

    order_tasks.poll.delay()

    wait_for(lambda: len(linked("payments")) >= ORDERS, timeout=140, interval=0.5)
    wait_for(lambda: len(open_dead_letters()) >= len(bad), timeout=20)
    for url in (xcart, acumatica):
        sandbox(url, "faults", {"rules": []})
    worker_activity.idle()  # every retry and duplicate has run: nothing more will land

    client = clients.acumatica()
    sales_orders = client.get_list("SalesOrder", expand=["Details", "BillToContact"])
    by_number = {so["CustomerOrder"]: so for so in sales_orders}
    assert len(sales_orders) == ORDERS
    assert set(by_number) == {o["order_number"] for o in placed}
    for order in placed:
        so = by_number[order["order_number"]]
        assert so["OrderTotal"] == pytest.approx(order["total"], abs=0.005), order["order_number"]
        assert so["CurrencyID"] == order["currency"]
        assert [(d["InventoryID"], d["OrderQty"]) for d in so["Details"]] == [
            (i["sku"], i["amount"]) for i in order["items"]
        ]
        assert so["BillToContact"]["Attention"] == (
            f"{order['billing_address']['firstname']} {order['billing_address']['lastname']}"
        )

    payments = client.get_list("Payment", expand=["OrdersToApply"])
    assert len(payments) == ORDERS
    applied = Counter(p["OrdersToApply"][0]["OrderNbr"] for p in payments)
    assert set(applied.values()) == {1} and len(applied) == ORDERS
    for payment in payments:
        so = next(
            s for s in sales_orders if s["OrderNbr"] == payment["OrdersToApply"][0]["OrderNbr"]
        )
        assert payment["PaymentAmount"] == pytest.approx(so["OrderTotal"], abs=0.005)
        assert payment["CustomerID"] == so["CustomerID"]

    registered = {b["email"] for b in bodies if not b["guest"]}
    created = [
        c
        for c in client.get_list("Customer", select=["CustomerID", "Email"])
        if str(c["CustomerID"]).startswith("XC") and c["CustomerID"] != "XCGUEST"
    ]
    assert sorted(c["Email"] for c in created) == sorted(registered)
    customer_by_email = {c["Email"]: c["CustomerID"] for c in created}
    for order, body in zip(placed, bodies, strict=True):
        wanted = "XCGUEST" if body["guest"] else customer_by_email[body["email"]]
        assert by_number[order["order_number"]]["CustomerID"] == wanted, order["order_number"]

    dead = open_dead_letters()
    assert sorted(e.record_id for e in dead) == sorted(str(o["id"]) for o in bad)


def test_200_checkouts_become_200_sales_orders_and_payments(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    run_checkouts(sandboxes, worker_activity, faults=False)


def test_200_checkouts_under_faults_reach_the_same_end_state(
    sandboxes, clean_ledger, patient_retries, celery_worker, worker_activity
) -> None:
    run_checkouts(sandboxes, worker_activity, faults=True)
