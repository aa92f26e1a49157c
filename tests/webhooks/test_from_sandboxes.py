"""The receiver as the sandboxes call it over HTTP: the X-Cart store module's signed webhooks,
Acumatica's push notifications."""

from __future__ import annotations

import time

import requests

from sandboxes.common.server import serve_in_thread
from sync_workers.webhooks import create_app
from tests.webhooks.conftest import PUSH_SECRET, XCART_SECRET, Recorder, receiver_settings


def test_signed_webhooks_from_the_xcart_sandbox_are_accepted_and_enqueued(
    sandboxes, redis_client
) -> None:
    recorder = Recorder()
    receiver = serve_in_thread(create_app(receiver_settings(), enqueue=recorder))
    xcart = sandboxes["xcart"].url
    try:
        requests.post(f"{xcart}/_sandbox/config", json={"webhooks_enabled": True}, timeout=10)
        requests.post(
            f"{xcart}/_sandbox/webhooks",
            json={"url": f"{receiver.url}/webhooks/xcart", "events": ["*"], "secret": XCART_SECRET},
            timeout=10,
        ).raise_for_status()
        order = requests.post(
            f"{xcart}/_sandbox/checkout",
            json={
                "email": "hook.test@example.com",
                "items": [{"sku": "AA-0001", "amount": 1}],
                "billing_address": {
                    "firstname": "Hook",
                    "lastname": "Test",
                    "country_code": "US",
                    "state_code": "NY",
                    "street": "1 Main St",
                    "city": "New York",
                    "zipcode": "10001",
                },
                "payment_method": "Credit Card",
            },
            timeout=30,
        ).json()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not any(
            kwargs["event"] == "order.created" for _, kwargs in recorder.calls
        ):
            time.sleep(0.05)
        deliveries = requests.get(f"{xcart}/_sandbox/webhooks/deliveries", timeout=10).json()
    finally:
        requests.post(f"{xcart}/_sandbox/config", json={"webhooks_enabled": False}, timeout=10)
        receiver.stop()

    created = [kw for task, kw in recorder.calls if kw["event"] == "order.created"]
    assert len(created) == 1
    assert created[0]["data"]["id"] == order["id"]
    assert all(task.endswith(".realtime_on_webhook") for task, _ in recorder.calls)
    assert deliveries and all(d["delivered"] for d in deliveries)
    assert all(a["status"] in (200, 202) for d in deliveries for a in d["attempts"])


def test_one_acumatica_transaction_reaches_each_flow_whose_definition_tracks_it(
    sandboxes, redis_client
) -> None:
    """A sales order changes two inquiries in one transaction: Acumatica (here its sandbox)
    sends both push definitions a notification with the same Id, each twice."""
    from sync_workers import clients

    recorder = Recorder()
    receiver = serve_in_thread(create_app(receiver_settings(), enqueue=recorder))
    acumatica = sandboxes["acumatica"].url
    definitions = [
        {
            "name": flow,
            "url": f"{receiver.url}/webhooks/acumatica/{flow}",
            "queries": [query],
            "header_name": "X-Sync-Secret",
            "header_value": PUSH_SECRET,
        }
        for flow, query in (("orders", "SalesOrders"), ("inventory", "ItemAvailability"))
    ]
    try:
        requests.post(
            f"{acumatica}/_sandbox/push",
            json={"subscriptions": definitions, "settings": {"duplicate": True}},
            timeout=10,
        ).raise_for_status()
        clients.acumatica().put(
            "SalesOrder",
            {"CustomerID": "XCGUEST", "Details": [{"InventoryID": "AA-0001", "OrderQty": 2}]},
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            log = requests.get(f"{acumatica}/_sandbox/push/log", timeout=10).json()
            if len(log["deliveries"]) >= 4 and not log["pending"]:
                break
            time.sleep(0.05)
    finally:
        requests.post(
            f"{acumatica}/_sandbox/push",
            json={"subscriptions": [], "settings": {"duplicate": False}},
            timeout=10,
        )
        receiver.stop()

    answers = sorted((d["subscription"], d["status"]) for d in log["deliveries"])
    assert answers == [("inventory", 200), ("inventory", 202), ("orders", 200), ("orders", 202)]
    assert len({d["id"] for d in log["deliveries"]}) == 1  # one transaction
    assert sorted(task for task, _ in recorder.calls) == [
        "tasks.inventory.realtime_on_push",
        "tasks.orders.realtime_on_push",
    ]
    assert {kwargs["notification"]["Query"] for _, kwargs in recorder.calls} == {
        "SalesOrders",
        "ItemAvailability",
    }
