"""Field drift of orders, payments and shipments, planted through the sandboxes' APIs and read
through the command line (``reconcile``, ``resync --dry-run``), repaired by a real worker where a
resync can fix it and listed for a person where it cannot."""

from __future__ import annotations

import time
from typing import Any

from sync_workers import clients
from sync_workers.flows.orders import compare
from sync_workers.redaction import MASK
from tasks import orders as _orders  # noqa: F401  (registers the order steps in the worker)
from tasks import payments as _payments  # noqa: F401
from tasks import shipments as _shipments  # noqa: F401
from tests.cli.conftest import run_cli
from tests.cli.test_reconcile_fields import change_line_quantity, sales_order, synced
from tests.flows.order_to_cash.helpers import (
    acumatica_stats,
    entity_calls,
    linked,
    sandbox,
    wait_for,
)
from tests.flows.order_to_cash.test_shipments_flow import confirmed_shipment


def drifts(flow: str, *extra: str) -> list[dict]:
    answer = run_cli("reconcile", flow, "--json", *extra).json
    assert "drift" in answer, answer
    return answer["drift"]


def until(predicate: Any, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.5)
    return value


def test_a_changed_tracking_number_is_shown_and_repaired(
    sandboxes, clean_ledger, tracking_module, celery_worker
) -> None:
    order_id, key = synced(run_cli, sandboxes["xcart"].url, "fields.ship")
    shipment_nbr = confirmed_shipment(*key.split("/"), ["TRACK-OLD"])
    run_cli("resync", "shipments", "--id", shipment_nbr)
    until(lambda: clients.xcart().get_order(int(order_id))["tracking_numbers"])
    assert drifts("shipments") == []
    client = clients.acumatica()
    shipment = client.get_by_keys("Shipment", shipment_nbr, expand=["Packages"])
    [package] = shipment["Packages"]
    client.put(
        "Shipment",
        {"ShipmentNbr": shipment_nbr, "Packages": [{"id": package["id"], "TrackingNbr": "NEW-9"}]},
    )

    [drift] = drifts("shipments")
    plan = run_cli("resync", "shipments", "--id", shipment_nbr, "--dry-run")

    assert (drift["kind"], drift["source_id"], drift["target_key"]) == (
        "mismatch",
        shipment_nbr,
        order_id,
    )
    assert drift["details"]["fields"] == [
        {"field": "tracking_numbers", "current": ["TRACK-OLD"], "proposed": ["NEW-9", "TRACK-OLD"]}
    ]
    assert f"{shipment_nbr}: {order_id}.tracking_numbers: ['TRACK-OLD'] -> " in plan.output

    repaired = run_cli("reconcile", "shipments", "--repair", "--json").json

    assert repaired["repair"]["enqueued"][0]["ids"] == [shipment_nbr]
    until(lambda: drifts("shipments") == [])
    numbers = clients.xcart().get_order(int(order_id))["tracking_numbers"]
    assert sorted(t["value"] for t in numbers) == ["NEW-9", "TRACK-OLD"]


def test_a_shipped_order_s_changed_line_needs_a_person(
    sandboxes, clean_ledger, celery_worker, redis_client
) -> None:
    order_id, key = synced(run_cli, sandboxes["xcart"].url, "fields.shipped")
    change_line_quantity(key, 3)
    confirmed_shipment(*key.split("/"), [])
    status = sales_order(key)["Status"]
    assert status not in ("Open", "On Hold")

    result = run_cli("reconcile", "orders", "--repair", "--json")
    text = run_cli("reconcile", "orders", "--repair")

    assert result.exit_code == 1
    [drift] = result.json["drift"]
    assert drift["details"]["repairable"] is False
    assert drift["details"]["fields"][0]["field"] == "Details[AA-0001].OrderQty"
    assert result.json["repair"]["enqueued"] == []
    [manual] = result.json["repair"]["manual"]
    assert manual["source_id"] == order_id
    assert f"sales order is {status}" in manual["reason"]
    assert "can no longer be changed in Acumatica" in manual["reason"]
    assert "repair: 1 drifted records need a person:" in text.output
    assert f"orders {order_id}: sales order is {status}" in text.output


def test_a_payment_amount_changed_in_acumatica_is_shown_for_a_person(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order_id, _key = synced(run_cli, sandboxes["xcart"].url, "fields.paid")
    [(txn_id, payment_key)] = wait_for(lambda: list(linked("payments").items()))
    assert [d for d in drifts("payments") if d["kind"] == "mismatch"] == []
    payment_type, reference = payment_key.split("/", 1)
    client = clients.acumatica()
    payment = client.get_by_keys("Payment", payment_type, reference)
    was = payment["PaymentAmount"]
    client.put(
        "Payment",
        {"Type": payment_type, "ReferenceNbr": reference, "PaymentAmount": was + 5},
    )

    result = run_cli("reconcile", "payments", "--repair", "--json")
    plan = run_cli("resync", "payments", "--id", order_id, "--dry-run", "--json").json

    [drift] = [d for d in result.json["drift"] if d["kind"] == "mismatch"]
    assert (drift["source_id"], drift["target_key"]) == (order_id, payment_key)
    assert drift["details"]["fields"] == [
        {"field": "PaymentAmount", "current": was + 5, "proposed": was}
    ]
    assert drift["details"]["transaction_id"] == txn_id
    assert result.json["repair"]["enqueued"] == []
    [manual] = result.json["repair"]["manual"]
    assert "a resync never changes one" in manual["reason"]
    [planned] = [c for c in plan["changes"] if c["changes"]]
    assert (planned["action"], planned["source_id"]) == ("skip", txn_id)


def test_address_differences_name_the_field_and_mask_the_values(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order_id, key = synced(run_cli, sandboxes["xcart"].url, "fields.address")
    order_type, order_nbr = key.split("/")
    clients.acumatica().put(
        "SalesOrder",
        {
            "OrderType": order_type,
            "OrderNbr": order_nbr,
            "ShipToAddressOverride": True,
            "ShipToAddress": {"City": "Springfield"},
        },
    )

    [drift] = drifts("orders")
    text = run_cli("reconcile", "orders").output

    assert drift["details"]["fields"] == [
        {"field": "ShipToAddress.City", "current": MASK, "proposed": MASK}
    ]
    assert "Springfield" not in text and "New York" not in text
    assert f"orders {order_id}: ShipToAddress.City: '{MASK}' -> '{MASK}'" in text


def test_a_cancelled_order_with_an_open_sales_order_is_a_status_difference(
    sandboxes, clean_ledger, celery_worker
) -> None:
    order_id, key = synced(run_cli, sandboxes["xcart"].url, "fields.cancel")
    # cancelled in the store; no poll or webhook runs its chain before reconcile looks
    sandbox(sandboxes["xcart"].url, f"orders/{order_id}/cancel", {})

    [drift] = drifts("orders")
    [planned] = run_cli("resync", "orders", "--id", order_id, "--dry-run", "--json").json["changes"]

    assert drift["details"]["fields"] == [
        {"field": "Status", "current": "Open", "proposed": "Canceled"}
    ]
    assert (planned["action"], planned["changes"]) == ("cancel", drift["details"]["fields"])

    run_cli("reconcile", "orders", "--repair")

    until(lambda: drifts("orders") == [])
    assert sales_order(key)["Status"] == "Canceled"


def test_reconcile_reads_sales_orders_in_batches(sandboxes, clean_ledger, celery_worker) -> None:
    xcart, erp = sandboxes["xcart"].url, sandboxes["acumatica"].url
    keys = [synced(run_cli, xcart, f"fields.batch{n}")[1] for n in range(3)]
    sandbox(erp, "stats/reset", {})

    assert drifts("orders") == []

    calls = entity_calls(acumatica_stats(erp))
    assert calls == {"GET /entity/Default/24.200.001/SalesOrder": 1}
    assert len(compare.read_sales_orders(keys)) == 3


def test_since_covers_sales_orders_changed_in_acumatica(
    sandboxes, clean_ledger, celery_worker
) -> None:
    from datetime import UTC, datetime, timedelta

    xcart = sandboxes["xcart"].url
    sandbox(xcart, "clock", {"offset_seconds": -3600})  # the order was placed an hour ago
    try:
        order_id, key = synced(run_cli, xcart, "fields.since")
    finally:
        sandbox(xcart, "clock", {"offset_seconds": 0})
    since = (datetime.now(UTC) - timedelta(minutes=30)).isoformat()
    assert drifts("orders", "--since", since) == []

    change_line_quantity(key, 4)

    [drift] = drifts("orders", "--since", since)
    assert (drift["source_id"], drift["kind"]) == (order_id, "mismatch")
    assert drift["details"]["fields"][0]["field"] == "Details[AA-0001].OrderQty"
