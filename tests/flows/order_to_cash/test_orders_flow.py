"""Orders and payments through a real worker, Redis, the ledger and both sandboxes."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import yaml

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.flows import orders as orders_flow
from sync_workers.flows import runner
from sync_workers.flows.orders import steps as order_steps
from sync_workers.ledger import history
from sync_workers.mapping import templates
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    address,
    checkout,
    entity_calls,
    ledger_rows,
    linked,
    open_dead_letters,
    prepared,
    sandbox,
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


def place(xcart: str, email: str, **extra) -> dict:
    body = {
        "email": email,
        "items": [{"sku": "AA-0005", "amount": 1}],
        "billing_address": address("Ana", "Núñez " + email.split("@")[0], "OR"),
        "payment_method": "Credit Card",
        **extra,
    }
    return checkout(xcart, body)


def test_new_paid_order_with_a_known_customer_costs_one_acumatica_call(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    first = place(xcart, "known@example.com")
    runner.start("orders", first["id"])
    wait_for(lambda: linked("payments"))
    sandbox(acumatica, "stats/reset", {})

    second = place(xcart, "known@example.com", items=[{"sku": "AA-0006", "amount": 3}])
    runner.start("orders", second["id"])
    wait_for(lambda: len(linked("payments")) == 2)

    calls = entity_calls(acumatica_stats(acumatica))
    assert calls == {"PUT /entity/Default/24.200.001/SalesOrder": 1}  # with its payment
    assert len(linked("customers")) == 1
    [customer_id] = linked("customers").values()
    assert customer_id == f"XC{second['customer_id']}"
    for order in (first, second):
        [so] = clients.acumatica().get_list(
            "SalesOrder", filter=F("CustomerOrder") == order["order_number"]
        )
        assert so["CustomerID"] == customer_id


def test_new_order_with_a_known_customer_reads_each_ledger_row_it_needs_once(
    sandboxes, clean_ledger, celery_worker
) -> None:
    """The buyer's link is read once (the fetch hands it to the transform), the order and its
    payment are claimed together before their one PUT (a claim reads once and writes its mark,
    or inserts the record, marked), each link writes without reading first, and the task's
    history is one INSERT: 9 statements."""
    from sqlalchemy import event

    from sync_workers.ledger.db import get_engine

    xcart = sandboxes["xcart"].url
    first = place(xcart, "budget@example.com")
    runner.start("orders", first["id"])
    wait_for(lambda: linked("payments"))
    second = place(xcart, "budget@example.com", items=[{"sku": "AA-0007", "amount": 1}])
    statements: list[tuple[str, str]] = []

    test_thread = threading.get_ident()  # its waits read the ledger too

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if threading.get_ident() == test_thread:
            return
        words = statement.split()
        # SQLite's driver takes a tuple of parameters, PostgreSQL's a dict of them
        values = parameters.values() if isinstance(parameters, dict) else parameters or ()
        flow = next((p for p in values if p in FLOWS), "-")
        statements.append((words[0].upper(), flow))

    engine = get_engine()
    event.listen(engine, "before_cursor_execute", seen)
    try:
        runner.start("orders", second["id"])
        wait_for(lambda: len(linked("payments")) == 2)
        wait_for(lambda: history.runs_of("orders", "xcart_to_acumatica", str(second["id"])))
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    reads = Counter(flow for kind, flow in statements if kind == "SELECT")
    writes = Counter(kind for kind, _ in statements if kind != "SELECT")
    # customers: the fetch; orders: the fetch, the claim; payments: the claim, with the order's.
    # The order's row was claimed when it was handed out: its claim marks it (UPDATE); the
    # payment is new to the ledger: its claim inserts its record, marked. Each link is one
    # UPDATE; the history one INSERT.
    assert reads == {"customers": 1, "orders": 2, "payments": 1}, "\n".join(map(str, statements))
    assert writes == {"INSERT": 2, "UPDATE": 3}, statements


FLOWS = ("customers", "orders", "payments")


def test_an_order_and_its_payment_are_locked_in_one_round_trip(
    sandboxes, clean_ledger, celery_worker, monkeypatch
) -> None:
    """The order's task takes its lock and its payment's at once, and each step's own lock is
    then re-entrant: one round trip to take them, one to release them."""
    from sync_workers import locks
    from sync_workers.redis_client import prefixed

    xcart = sandboxes["xcart"].url
    first = place(xcart, "one.lock@example.com")  # the buyer becomes known (no customer lock)
    runner.start("orders", first["id"])
    wait_for(lambda: linked("payments"))
    second = place(xcart, "one.lock@example.com", items=[{"sku": "AA-0007", "amount": 1}])
    sent: list[tuple[str, tuple[str, ...]]] = []
    registered = locks._registered

    def counted() -> tuple:
        acquire, release = registered()

        def counting(kind: str, script):
            def run(keys, args):
                sent.append((kind, tuple(keys)))
                return script(keys=keys, args=args)

            return run

        return counting("take", acquire), counting("release", release)

    monkeypatch.setattr(locks, "_registered", counted)
    known = set(linked("payments"))
    runner.start("orders", second["id"])
    wait_for(lambda: len(linked("payments")) == 2)
    [transaction_id] = set(linked("payments")) - known
    both = (
        prefixed("lock", "orders", str(second["id"])),
        prefixed("lock", "payments", transaction_id),
    )
    assert sent == [("take", both), ("release", both)]


def test_sales_order_applied_but_answer_lost_is_found_not_created_twice(
    sandboxes, clean_ledger, celery_worker
) -> None:
    """The one PUT of an order and its payment is applied, and its answer lost (connection
    reset after commit): the retry looks the order up, finds it with its payment, links both
    and writes nothing again."""
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    order = place(xcart, "lost.answer@example.com")
    sandbox(
        acumatica,
        "faults",
        {
            "rules": [
                {
                    "path": "SalesOrder$|Payment$",
                    "method": "PUT",
                    "preset": 1.0,
                    "after_commit": True,
                }
            ]
        },
    )
    runner.start("orders", order["id"])
    wait_for(lambda: sandbox(acumatica, "stats")["faults_injected"].get("preset", 0) >= 1)
    sandbox(acumatica, "faults", {"rules": []})

    wait_for(lambda: linked("payments"))
    calls = entity_calls(acumatica_stats(acumatica))
    client = clients.acumatica()
    orders = client.get_list("SalesOrder", filter=F("CustomerOrder") == order["order_number"])
    payments = client.get_list("Payment", filter=F("PaymentRef") == f"XC-{order['id']}")
    assert len(orders) == 1 and len(payments) == 1
    assert linked("orders")[str(order["id"])] == f"SO/{orders[0]['OrderNbr']}"
    transaction_id = next(iter(linked("payments")))
    assert linked("payments")[transaction_id] == f"Prepayment/{payments[0]['ReferenceNbr']}"
    assert calls["PUT /entity/Default/24.200.001/SalesOrder"] == 1
    assert "PUT /entity/Default/24.200.001/Payment" not in calls
    assert "GET /entity/Default/24.200.001/Payment" not in calls  # found with its order
    assert not open_dead_letters()


def test_duplicate_triggers_concurrent_polls_and_replays_create_nothing_twice(
    sandboxes, clean_ledger, celery_worker, worker_activity
) -> None:
    xcart = sandboxes["xcart"].url
    placed = [place(xcart, f"dup{i}@example.com") for i in range(4)]
    ids = [str(o["id"]) for o in placed]

    with ThreadPoolExecutor(
        max_workers=3
    ) as pool:  # two polls racing on one cursor, plus the worker
        pool.submit(order_tasks.poll)
        pool.submit(order_tasks.poll)
        order_tasks.poll.delay()
    for order_id in ids:  # a duplicated trigger (webhook and poll)
        order_tasks.realtime_on_webhook.delay(event="order.created", data={"id": int(order_id)})
    wait_for(lambda: len(linked("payments")) == 4, timeout=40)
    # a replayed chain after success, and a push racing with itself on a stale state
    runner.start("orders", ids[0])
    state = prepared(ids[1])
    state.pop("target_key", None)
    with ThreadPoolExecutor(max_workers=2) as pool:
        results = list(pool.map(lambda _: order_steps.push(dict(state)), range(2)))
    worker_activity.idle()  # the replayed chain and every duplicate trigger have run

    client = clients.acumatica()
    for order in placed:
        assert (
            len(client.get_list("SalesOrder", filter=F("CustomerOrder") == order["order_number"]))
            == 1
        )
        assert len(client.get_list("Payment", filter=F("PaymentRef") == f"XC-{order['id']}")) == 1
    assert all(not r.get("created") for r in results)
    assert sorted(linked("orders")) == sorted(ids)
    assert len(linked("customers")) == 4
    assert not open_dead_letters()


def test_bad_orders_are_dead_lettered_with_the_field_and_nothing_written(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    unknown_sku = place(xcart, "bad.sku@example.com", items=[{"sku": "WEB-GIFT-25", "amount": 1}])
    unmapped = place(xcart, "bad.method@example.com", payment_method="Purchase Order")
    no_address = place(xcart, "bad.address@example.com")
    fetched = order_steps.fetch({"record_id": str(no_address["id"])})
    fetched["order"]["shipping_address"] = None
    fetched["order"]["billing_address"] = {**fetched["order"]["billing_address"], "street": ""}

    runner.start("orders", unknown_sku["id"])
    runner.start("orders", unmapped["id"])
    runner.start(
        "orders", no_address["id"], order=fetched["order"]
    )  # the order as a webhook brought it

    entries = wait_for(
        lambda: len(open_dead_letters("orders")) == 3 and open_dead_letters("orders")
    )
    by_record = {e.record_id: e for e in entries}
    assert by_record[str(unknown_sku["id"])].field_errors == {
        "items[0].sku": "SKU 'WEB-GIFT-25' is not known in Acumatica and not mapped"
    }
    assert by_record[str(unmapped["id"])].field_errors == {
        "transactions[0].payment_method": "unmapped payment method 'Purchase Order'"
    }
    assert by_record[str(no_address["id"])].field_errors == {
        "billing_address.street": "missing",
        "shipping_address.street": "missing",  # no shipping address: the billing one is used
    }
    assert all(e.step == "validate" and e.error_class == "PermanentError" for e in entries)
    assert all(e.task == "tasks.orders.sync" for e in entries)
    writes = {
        k: v for k, v in entity_calls(acumatica_stats(acumatica)).items() if k.startswith("PUT")
    }
    assert writes == {}
    assert {r.status for r in ledger_rows("orders")} == {"dead_lettered"}


def test_computed_tax_difference_is_flagged_and_order_statuses_follow_pushes(
    sandboxes, clean_ledger, celery_worker, fast_templates, worker_activity
) -> None:
    path = fast_templates / "orders.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["tax"]["mode"] = "compute"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    xcart = sandboxes["xcart"].url
    order = place(xcart, "tax.nyc@example.com", billing_address=address("Tad", "Ny", "NY"))
    runner.start("orders", order["id"])

    wait_for(lambda: any("tax_difference" in r.data for r in ledger_rows("orders")))
    record = ledger_rows("orders")[0]
    xcart_tax = next(s["value"] for s in order["surcharges"] if s["type"] == "tax")
    assert Decimal(record.data["tax_difference"]) == (
        Decimal(str(record.data["tax_total"])) - Decimal(str(xcart_tax))
    )
    assert Decimal(record.data["tax_difference"]) < 0  # NYSTATE 4 % against 8.875 %
    # Acumatica's total is not known before its PUT: the payment follows in a PUT of its own
    wait_for(lambda: linked("payments"))
    [payment_row] = ledger_rows("payments")
    assert "with_order" not in payment_row.data

    order_type, order_nbr = record.target_key.split("/")
    rows = [
        {"OrderType": order_type, "OrderNbr": order_nbr, "Status": "Shipping",
         "LastModifiedDateTime": "2026-01-02T10:00:00+00:00"},
        {"OrderType": order_type, "OrderNbr": order_nbr, "Status": "Open",
         "LastModifiedDateTime": "2026-01-01T10:00:00+00:00"},  # late, older: ignored
    ]  # fmt: skip
    order_tasks.realtime_on_push.delay(notification={"Id": "s-1", "Inserted": rows[:1]})
    order_tasks.realtime_on_push.delay(notification={"Id": "s-2", "Inserted": rows[1:]})
    wait_for(lambda: ledger_rows("orders")[0].data.get("status_at", "").startswith("2026-01-02"))
    worker_activity.idle()  # the late, older status has been handled too
    assert ledger_rows("orders")[0].data["status"] == "Shipping"
    assert clients.xcart().get_order(order["id"])["shipping_status"]["code"] == "P"
    stats = sandbox(xcart, "stats")["requests"]["by_path"]
    assert stats[f"PUT /api/orders/{order['id']}/shipping_status"] == 1


def test_dry_run_plans_without_writing_anywhere(sandboxes, clean_ledger, celery_worker) -> None:
    xcart, acumatica = sandboxes["xcart"].url, sandboxes["acumatica"].url
    new = place(xcart, "plan.new@example.com")
    synced = place(xcart, "plan.synced@example.com", billing_address=address("Pa", "Ul", "OR"))
    runner.start("orders", synced["id"])
    wait_for(lambda: linked("payments"))
    sandbox(acumatica, "stats/reset", {})
    rows_before = [(r.source_id, r.status, r.target_key) for r in ledger_rows("orders")]

    planned = {p.source_id: p for p in orders_flow.FLOW.plan(all=True)}

    assert planned[str(new["id"])].action == "create"
    assert planned[str(synced["id"])].action == "skip"
    assert planned[str(synced["id"])].reason == "unchanged"
    assert [(r.source_id, r.status, r.target_key) for r in ledger_rows("orders")] == rows_before
    # one batched read of the synced sales order to compare fields; no write
    assert entity_calls(acumatica_stats(acumatica)) == {
        "GET /entity/Default/24.200.001/SalesOrder": 1
    }
