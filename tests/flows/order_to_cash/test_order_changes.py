"""Orders after their sales order exists: cancel, cancel after shipping, edits; risky orders
held (refunds: ``test_refunds.py``)."""

from __future__ import annotations

import yaml

from sync_workers import clients
from sync_workers.flows import runner
from sync_workers.mapping import templates
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
from tests.flows.order_to_cash.test_shipments_flow import confirmed_shipment


def synced(xcart: str, email: str, **extra) -> tuple[dict, str, str]:
    body = {
        "email": email,
        "items": [{"sku": "AA-0011", "amount": 2}],
        "billing_address": address("Olive", "Kent", "OR"),
        "payment_method": "Credit Card",
        **extra,
    }
    order = checkout(xcart, body)
    runner.start("orders", order["id"])
    key = wait_for(lambda: linked("orders").get(str(order["id"])))
    wait_for(lambda: linked("payments"))
    order_type, order_nbr = key.split("/")
    return order, order_type, order_nbr


def status(order_type: str, order_nbr: str) -> str:
    return clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr)["Status"]


def test_order_cancelled_in_xcart_cancels_its_unshipped_sales_order(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced(xcart, "cancel.me@example.com")
    sandbox(xcart, f"orders/{order['id']}/cancel", {"comment": "changed my mind"})

    order_tasks.poll.delay()

    wait_for(lambda: status(order_type, order_nbr) == "Canceled")
    [record] = ledger_rows("orders")
    wait_for(lambda: ledger_rows("orders")[0].data.get("last_change") == "cancelled")
    assert record.target_key == f"{order_type}/{order_nbr}"
    assert not open_dead_letters()


def test_cancel_after_shipping_is_dead_lettered_with_a_clear_reason(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    shipped, s_type, s_nbr = synced(xcart, "shipped.then.cancelled@example.com")
    confirmed_shipment(s_type, s_nbr, ["Z1"])
    sandbox(xcart, f"orders/{shipped['id']}/cancel", {})

    order_tasks.poll.delay()

    [entry] = wait_for(lambda: open_dead_letters("orders"))
    assert entry.record_id == str(shipped["id"])
    assert "is Completed: cancel or return it in Acumatica" in entry.error_message
    assert entry.field_errors == {"payment_status.code": "cancelled after Completed"}
    assert status(s_type, s_nbr) == "Completed"


def test_risky_order_is_created_on_hold_with_the_reasons_in_its_note(
    sandboxes, clean_ledger, celery_worker, fast_templates
) -> None:
    path = fast_templates / "orders.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["risk"]["hold_threshold"] = 30
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    templates.clear_cache()
    xcart = sandboxes["xcart"].url
    canada = {**address("Léa", "Roy", "OR"), "country_code": "CA", "state_code": "MB",
              "city": "Winnipeg", "zipcode": "R3C 0A1"}  # fmt: skip
    _, order_type, order_nbr = synced(
        xcart, "risky@example.com", shipping_address=canada, currency="CAD"
    )

    so = clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr)
    assert so["Hold"] is True and so["Status"] == "On Hold"
    assert so["note"].startswith("Held for review: billing country US differs from shipping CA")
    assert ledger_rows("orders")[0].data["risk"]["score"] == 30


def test_order_edited_in_xcart_updates_its_open_sales_order_in_place(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced(
        xcart, "edit.me@example.com",
        items=[{"sku": "AA-0030", "amount": 2}, {"sku": "AA-0031", "amount": 1},
               {"sku": "AA-0032", "amount": 1}],
        billing_address=address("Eddie", "Tor", "NY"),
    )  # fmt: skip
    sandbox(
        xcart,
        f"orders/{order['id']}/edit",
        {"items": [{"sku": "AA-0030", "amount": 3}, {"sku": "AA-0031", "amount": 0}],
         "shipping_address": {"street": "2 Broadway", "city": "New York"}},
    )  # fmt: skip
    edited = clients.xcart().get_order(order["id"])

    order_tasks.poll.delay()

    wait_for(lambda: ledger_rows("orders")[0].data.get("last_change") == "edited")
    so = clients.acumatica().get_by_keys(
        "SalesOrder", order_type, order_nbr, expand=["Details", "ShipToAddress"]
    )
    assert [(d["InventoryID"], d["OrderQty"]) for d in so["Details"]] == [
        ("AA-0030", 3), ("AA-0032", 1)
    ]  # fmt: skip
    assert so["OrderTotal"] == edited["total"]
    assert so["ShipToAddress"]["AddressLine1"] == "2 Broadway"
    assert len(clients.acumatica().get_list("SalesOrder")) == 1
    assert not open_dead_letters()
