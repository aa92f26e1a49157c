"""``reconcile`` and ``resync --dry-run`` compare fields for orders, payments and shipments:
drift planted in the sandboxes through their APIs is shown field by field, and ``--repair``
removes what a resync can fix and names what needs a person."""

from __future__ import annotations

import time
from typing import Any

from sync_workers import clients
from tasks import orders as _orders  # noqa: F401  (registers the order steps in the worker)
from tasks import payments as _payments  # noqa: F401
from tasks import shipments as _shipments  # noqa: F401
from tests.cli.test_resync import place_order
from tests.flows.order_to_cash.helpers import linked, wait_for


def synced(cli: Any, xcart_url: str, who: str) -> tuple[str, str]:
    """A new X-Cart order, synced by a real worker: (order id, sales order key)."""
    order_id = str(place_order(xcart_url, who)["id"])
    cli("resync", "orders", "--id", order_id)
    return order_id, wait_for(lambda: linked("orders").get(order_id), timeout=60)


def sales_order(key: str) -> dict:
    order_type, order_nbr = key.split("/", 1)
    found = clients.acumatica().get_by_keys("SalesOrder", order_type, order_nbr, expand=["Details"])
    assert found is not None
    return found


def change_line_quantity(key: str, quantity: int) -> None:
    """Edit the sales order's first line in Acumatica, as a person in the ERP would."""
    current = sales_order(key)
    line = current["Details"][0]
    clients.acumatica().put(
        "SalesOrder",
        {
            "OrderType": current["OrderType"],
            "OrderNbr": current["OrderNbr"],
            "Details": [{"id": line["id"], "OrderQty": quantity}],
        },
    )


def drift_of(cli: Any, flow: str, source: str) -> list[dict]:
    answer = cli("reconcile", flow, "--json").json
    assert "drift" in answer, answer
    return [d for d in answer["drift"] if d["source_id"] == source]


def until_gone(cli: Any, flow: str, source: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while drift_of(cli, flow, source):
        assert time.monotonic() < deadline, drift_of(cli, flow, source)
        time.sleep(0.5)


def test_a_synced_order_shows_no_drift(cli, sandboxes, clean_ledger, celery_worker) -> None:
    synced(cli, sandboxes["xcart"].url, "fields.clean")

    result = cli("reconcile", "orders", "--json")

    assert result.exit_code == 0, result.json
    assert result.json["drift"] == []


def test_a_line_changed_in_acumatica_is_shown_and_repaired(
    cli, sandboxes, clean_ledger, celery_worker
) -> None:
    order_id, key = synced(cli, sandboxes["xcart"].url, "fields.line")
    change_line_quantity(key, 5)

    found = cli("reconcile", "orders", "--json")
    human = cli("reconcile", "orders")
    plan = cli("resync", "orders", "--id", order_id, "--dry-run", "--json")
    plan_text = cli("resync", "orders", "--id", order_id, "--dry-run")

    assert found.exit_code == 1 and human.exit_code == 1
    [drift] = [d for d in found.json["drift"] if d["source_id"] == order_id]
    assert (drift["kind"], drift["target_key"]) == ("mismatch", key)
    assert drift["details"]["repairable"] is True
    assert drift["details"]["fields"] == [
        {"field": "Details[AA-0001].OrderQty", "current": 5, "proposed": 1}
    ]
    assert f"orders {order_id}: Details[AA-0001].OrderQty: 5.0 -> 1" in human.output
    [planned] = plan.json["changes"]
    assert planned["changes"] == [
        {"field": "Details[AA-0001].OrderQty", "current": 5, "proposed": 1}
    ]
    assert f"{order_id}: Details[AA-0001].OrderQty: 5.0 -> 1" in plan_text.output

    repaired = cli("reconcile", "orders", "--repair", "--json")

    assert repaired.json["repair"]["enqueued"][0]["ids"] == [order_id]
    assert repaired.json["repair"]["manual"] == []
    until_gone(cli, "orders", order_id)
    assert sales_order(key)["Details"][0]["OrderQty"] == 1


def test_other_flows_field_details_are_shown_per_field_with_personal_values_masked() -> None:
    from sync_workers.cli.output import field_differences
    from sync_workers.redaction import MASK

    details = {
        "contact": {"Email": {"now": "old@example.com", "expected": "new@example.com"}},
        "terms": {"Terms": {"now": "30D", "expected": "COD"}},
        "note": "seen",
    }

    assert field_differences(details) == [
        ("contact.Email", MASK, MASK),
        ("terms.Terms", "30D", "COD"),
    ]


def test_a_refund_changed_in_acumatica_is_shown_for_a_person(
    cli, sandboxes, clean_ledger, celery_worker
) -> None:
    """A synced refund is compared by amount and reference like a payment: both changed in
    Acumatica are named (with the refund and its transaction); a resync never changes a
    refund, so repair lists it for a person."""
    from tests.flows.order_to_cash.test_refunds import refund, refunds_linked

    xcart = sandboxes["xcart"].url
    order_id, _key = synced(cli, xcart, "fields.refund")
    wait_for(lambda: linked("payments").get(next(iter(linked("payments")), "")))
    made = refund(xcart, int(order_id), 5.0)
    cli("resync", "orders", "--id", order_id)
    [(source, refund_key)] = wait_for(lambda: list(refunds_linked().items()), timeout=60)
    assert source == f"refund:{made['id']}"
    assert [d for d in drift_of(cli, "payments", order_id) if d["kind"] == "mismatch"] == []
    refund_type, reference = refund_key.split("/", 1)
    client = clients.acumatica()
    client.put(
        "Payment",
        {
            "Type": refund_type,
            "ReferenceNbr": reference,
            "PaymentRef": "CHANGED-BY-HAND",
            "PaymentAmount": 6.0,
        },
    )

    result = cli("reconcile", "payments", "--repair", "--json")
    plan = cli("resync", "payments", "--id", order_id, "--dry-run", "--json").json

    [drift] = [
        d for d in result.json["drift"] if d["kind"] == "mismatch" and d["source_id"] == order_id
    ]
    assert drift["target_key"] == refund_key
    assert drift["details"]["fields"] == [
        {"field": "PaymentAmount", "current": 6.0, "proposed": 5.0},
        {"field": "PaymentRef", "current": "CHANGED-BY-HAND", "proposed": f"XC-R{made['id']}"},
    ]
    assert drift["details"]["refund_id"] == str(made["id"])
    assert drift["details"]["repairable"] is False
    assert result.json["repair"]["enqueued"] == []
    assert [m["target_key"] for m in result.json["repair"]["manual"]] == [refund_key]
    [planned] = [c for c in plan["changes"] if c["changes"]]
    assert (planned["action"], planned["source_id"]) == ("skip", source)
    assert client.get_by_keys("Payment", refund_type, reference)["PaymentRef"] == "CHANGED-BY-HAND"
