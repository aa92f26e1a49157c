"""A confirmed Acumatica shipment marks the X-Cart order shipped, with its tracking numbers, once;
one ledger row per shipment."""

from __future__ import annotations

from sqlalchemy import text

from sync_workers import clients
from sync_workers.flows import runner
from sync_workers.flows.shipments import FLOW
from sync_workers.ledger import Status
from tasks import orders as order_tasks
from tasks import payments as payment_tasks  # noqa: F401  (registers the payment steps)
from tasks import shipments as shipment_tasks
from tests.flows.order_to_cash.helpers import (
    address,
    checkout,
    ledger_rows,
    linked,
    open_dead_letters,
    sandbox,
    wait_for,
)


def synced_order(xcart_url: str) -> tuple[dict, str, str]:
    order = checkout(
        xcart_url,
        {
            "email": "ship.me@example.com",
            "items": [{"sku": "AA-0003", "amount": 1}],
            "billing_address": address("Siobhán", "D'Arcy", "MA"),
            "payment_method": "PayPal",
        },
    )
    order_tasks.poll.delay(ids=[order["id"]])
    key = wait_for(lambda: linked("orders").get(str(order["id"])))
    order_type, order_nbr = key.split("/")
    return order, order_type, order_nbr


def confirmed_shipment(order_type: str, order_nbr: str, tracking: list[str]) -> str:
    client = clients.acumatica()
    shipment = client.put(
        "Shipment",
        {
            "Type": "Shipment",
            "CustomerID": client.get_by_keys("SalesOrder", order_type, order_nbr)["CustomerID"],
            "WarehouseID": "RETAIL",
            "Details": [{"OrderType": order_type, "OrderNbr": order_nbr}],
            "Packages": [{"TrackingNbr": number} for number in tracking],
        },
    )
    client.invoke_action("Shipment", "ConfirmShipment", {"ShipmentNbr": shipment["ShipmentNbr"]})
    return str(shipment["ShipmentNbr"])


def xcart_order(xcart_url: str, order_id: int) -> dict:
    return clients.xcart().get_order(order_id)


def test_confirmed_shipment_marks_order_shipped_with_tracking_once(
    sandboxes, clean_ledger, tracking_module, celery_worker, worker_activity
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced_order(xcart)
    shipment_nbr = confirmed_shipment(order_type, order_nbr, ["1Z999AA10123456784", "1Z999AA1"])

    shipment_tasks.poll.delay()
    [row] = wait_for(lambda: ledger_rows("shipments", "acumatica_to_xcart"))
    assert (row.source_id, row.target_key) == (shipment_nbr, f"{order['id']}/{shipment_nbr}")
    # the same shipment again: a second poll over the whole history, a duplicated push, a replay
    shipment_tasks.poll.delay(all=True)
    notification = {
        "Id": "n-1",
        "Query": "Shipments",
        "Deleted": [],
        "Inserted": [{"ShipmentNbr": shipment_nbr, "Status": "Confirmed"}],
    }
    shipment_tasks.realtime_on_push.delay(notification=notification)
    shipment_tasks.realtime_on_push.delay(notification=notification)
    worker_activity.idle()  # the poll, both pushes and every run they started have finished

    shipped = xcart_order(xcart, order["id"])
    assert shipped["shipping_status"]["code"] == "S"
    assert sorted(t["value"] for t in shipped["tracking_numbers"]) == [
        "1Z999AA1",
        "1Z999AA10123456784",
    ]
    stats = sandbox(xcart, "stats")["requests"]["by_path"]
    assert stats.get(f"PUT /api/orders/{order['id']}/shipping_status") == 1
    assert stats.get(f"POST /api/orders/{order['id']}/tracking_numbers") == 2
    assert not open_dead_letters()
    [row] = ledger_rows("shipments", "acumatica_to_xcart")  # still one row for the shipment
    assert row.data["orders"][str(order["id"])]["tracking_numbers"] == [
        "1Z999AA1",
        "1Z999AA10123456784",
    ]
    [planned] = FLOW.plan(ids=[shipment_nbr])
    assert (planned.action, planned.reason) == ("skip", "already written back")


def test_lost_answers_to_tracking_writes_still_write_each_number_once(
    sandboxes, clean_ledger, tracking_module, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced_order(xcart)
    shipment_nbr = confirmed_shipment(order_type, order_nbr, ["TRACK-ONE"])
    sandbox(
        xcart,
        "faults",
        {
            "rules": [
                {
                    "path": "tracking_numbers$|shipping_status$",
                    "method": "*",
                    "preset": 1.0,
                    "after_commit": True,
                }
            ],
            "seed": 3,
        },
    )
    runner.start("shipments", shipment_nbr)
    tracking_write = f"POST /api/orders/{order['id']}/tracking_numbers"
    # a tracking write was applied and its answer lost before the faults are lifted
    wait_for(lambda: sandbox(xcart, "stats")["requests"]["by_path"].get(tracking_write))
    sandbox(xcart, "faults", {"rules": []})

    wait_for(lambda: ledger_rows("shipments", "acumatica_to_xcart"), timeout=20)
    shipped = xcart_order(xcart, order["id"])
    assert shipped["shipping_status"]["code"] == "S"
    assert [t["value"] for t in shipped["tracking_numbers"]] == ["TRACK-ONE"]
    assert not open_dead_letters()


def test_shipment_of_an_order_not_synced_yet_waits_instead_of_failing(
    sandboxes, clean_ledger, tracking_module, celery_worker, task_runs
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced_order(xcart)
    shipment_nbr = confirmed_shipment(order_type, order_nbr, ["WAIT-1"])
    with clean_ledger.begin() as conn:  # the link is not there (yet)
        conn.exec_driver_sql("update sync_records set target_key = null where flow = 'orders'")

    runner.start("shipments", shipment_nbr)
    [first] = task_runs.wait(shipment_nbr, 1)  # the run has looked for the order's link
    assert first.state == "RETRY"
    assert xcart_order(xcart, order["id"])["shipping_status"]["code"] == "N"
    with clean_ledger.begin() as conn:
        conn.execute(
            text("update sync_records set target_key = :key where flow = 'orders'"),
            {"key": f"{order_type}/{order_nbr}"},
        )

    wait_for(lambda: xcart_order(xcart, order["id"])["shipping_status"]["code"] == "S")
    assert not open_dead_letters()


def test_without_the_tracking_module_the_order_is_only_marked_shipped(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced_order(xcart)
    confirmed_shipment(order_type, order_nbr, ["NOT-SENT-1"])

    shipment_tasks.poll.delay()

    wait_for(lambda: xcart_order(xcart, order["id"])["shipping_status"]["code"] == "S")
    [row] = wait_for(lambda: ledger_rows("shipments", "acumatica_to_xcart"))
    assert row.data["tracking_written"] is False
    assert xcart_order(xcart, order["id"])["tracking_numbers"] == []
    stats = sandbox(xcart, "stats")["requests"]["by_path"]
    assert not any(path.endswith("/tracking_numbers") for path in stats)


def test_a_dead_lettered_shipment_marks_its_ledger_row_and_is_planned_again(
    sandboxes, clean_ledger, celery_worker
) -> None:
    xcart = sandboxes["xcart"].url
    order, order_type, order_nbr = synced_order(xcart)
    shipment_nbr = confirmed_shipment(order_type, order_nbr, ["GONE-1"])
    with clean_ledger.begin() as conn:  # the order is linked to one the store does not have
        conn.exec_driver_sql("update sync_records set source_id = '999999' where flow = 'orders'")

    runner.start("shipments", shipment_nbr)

    [entry] = wait_for(lambda: open_dead_letters("shipments"))
    assert (entry.task, entry.step, entry.record_id) == (
        "tasks.shipments.sync",
        "write_back",
        shipment_nbr,
    )
    [row] = wait_for(
        lambda: [
            r
            for r in ledger_rows("shipments", "acumatica_to_xcart")
            if r.status == Status.DEAD_LETTERED.value
        ]
    )
    assert (row.source_id, row.target_key) == (shipment_nbr, None)
    [planned] = FLOW.plan(ids=[shipment_nbr])
    assert planned.action == "update"
    assert xcart_order(xcart, order["id"])["shipping_status"]["code"] == "N"
