"""Push notifications: payload shape, Deleted/Inserted pairs, custom header, retries, resend."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask, request

from sandboxes.common.server import serve_in_thread

from .client import Api


class Receiver:
    """A webhook endpoint that records what it receives and can fail on purpose."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hook")
        def hook() -> tuple[str, int]:
            with self.lock:
                if self.fail_next:
                    self.fail_next -= 1
                    return "busy", 500
                self.received.append(request.get_json())
                self.headers.append(dict(request.headers))
            return "", 200

        self.server = serve_in_thread(app)
        self.url = f"{self.server.url}/hook"

    def wait(
        self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float = 5.0
    ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if predicate(self.received):
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"not received in time: {self.received}")


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()
    yield rec
    rec.server.stop()


def subscribe(api: Api, receiver: Receiver, *queries: str) -> None:
    api.control(
        "POST",
        "/push",
        {
            "name": "engine",
            "url": receiver.url,
            "queries": list(queries),
            "header_name": "X-Push-Secret",
            "header_value": "s3cret",
        },
    )


def of(query: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    return lambda messages: [m for m in messages if m["Query"] == query]


def test_new_order_is_pushed_with_the_real_payload_shape(api: Api, receiver: Receiver) -> None:
    subscribe(api, receiver, "SalesOrders")
    api.order(CustomerOrder="XC-9")
    message = receiver.wait(lambda ms: len(ms) == 1)[0]
    assert set(message) == {
        "Inserted",
        "Deleted",
        "Query",
        "CompanyId",
        "Id",
        "TimeStamp",
        "AdditionalInfo",
    }
    assert message["CompanyId"] == "Company" and message["Deleted"] == []
    assert (
        message["Inserted"][0]["CustomerOrder"] == "XC-9"
        and message["Inserted"][0]["Status"] == "Open"
    )
    ticks = datetime(1, 1, 1, tzinfo=UTC) + timedelta(microseconds=message["TimeStamp"] // 10)
    assert abs((ticks - datetime.now(UTC)).total_seconds()) < 60
    assert "PXPerformanceInfoStartTime" in message["AdditionalInfo"]
    assert receiver.headers[0]["X-Push-Secret"] == "s3cret"
    described = api.control("GET", "/push")["subscriptions"][0]
    assert described["header_value"] == "***"


def test_update_is_a_deleted_and_inserted_pair(api: Api, receiver: Receiver) -> None:
    order = api.order()
    subscribe(api, receiver, "SalesOrders")
    api.put("SalesOrder", {"id": order["id"], "Hold": {"value": True}})
    message = receiver.wait(lambda ms: len(ms) == 1)[0]
    assert message["Deleted"][0]["Status"] == "Open"
    assert message["Inserted"][0]["Status"] == "On Hold"


def test_unchanged_put_sends_nothing(api: Api, receiver: Receiver) -> None:
    subscribe(api, receiver, "Customers")
    api.put(
        "Customer", {"CustomerID": {"value": "XCGUEST"}, "CustomerName": {"value": "Renamed guest"}}
    )
    receiver.wait(lambda ms: len(ms) == 1)
    api.put(
        "Customer", {"CustomerID": {"value": "XCGUEST"}, "CustomerName": {"value": "Renamed guest"}}
    )
    time.sleep(0.3)
    assert len(receiver.received) == 1
    assert receiver.received[0]["Inserted"][0]["CustomerName"] == "Renamed guest"


def test_released_adjustment_pushes_stock_change(api: Api, receiver: Receiver) -> None:
    subscribe(api, receiver, "ItemAvailability")
    body = {
        "Details": [
            {
                "InventoryID": {"value": "AA-LODZ"},
                "WarehouseID": {"value": "RETAIL"},
                "Qty": {"value": -5},
            }
        ]
    }
    adjustment = api.put("InventoryAdjustment", body).json()
    api.action("InventoryAdjustment", "ReleaseAdjustment", {"id": adjustment["id"]})
    message = receiver.wait(lambda ms: len(ms) == 1)[0]
    assert message["Deleted"] == [
        {
            "InventoryID": "AA-LODZ",
            "WarehouseID": "RETAIL",
            "QtyOnHand": 15.0,
            "QtyAvailable": 15.0,
            "QtyAvailableForShipment": 15.0,
        }
    ]
    assert message["Inserted"][0]["QtyOnHand"] == 10.0


def test_order_allocation_and_shipment_confirmation_are_pushed(
    api: Api, receiver: Receiver
) -> None:
    subscribe(api, receiver, "ItemAvailability", "Shipments")
    order = api.order(lines=[("AA-CAFE", 4)])
    stock = receiver.wait(lambda ms: len(of("ItemAvailability")(ms)) == 1)
    assert of("ItemAvailability")(stock)[0]["Inserted"][0]["QtyAvailable"] == 196.0
    api.action(
        "SalesOrder", "SalesOrderCreateShipment", {"id": order["id"]}, WarehouseID="WHOLESALE"
    )
    nbr = api.get(f"SalesOrder/{order['id']}", **{"$expand": "Shipments"}).json()["Shipments"][0][
        "ShipmentNbr"
    ]["value"]
    api.action("Shipment", "ConfirmShipment", {"ShipmentNbr": {"value": nbr}})
    messages = receiver.wait(
        lambda ms: any(
            i["Status"] == "Confirmed" for m in of("Shipments")(ms) for i in m["Inserted"]
        )
    )
    confirmed = next(
        m for m in of("Shipments")(messages) if m["Inserted"][0]["Status"] == "Confirmed"
    )
    assert confirmed["Deleted"][0]["Status"] == "Open"
    receiver.wait(
        lambda ms: any(
            i["QtyOnHand"] == 196.0 for m in of("ItemAvailability")(ms) for i in m["Inserted"]
        )
    )


def test_failed_delivery_is_retried_until_accepted(api: Api, receiver: Receiver) -> None:
    subscribe(api, receiver, "Customers")
    receiver.fail_next = 2
    api.put("Customer", {"CustomerID": {"value": "XCGUEST"}, "Terms": {"value": "COD"}})
    receiver.wait(lambda ms: len(ms) == 1)
    deadline = time.monotonic() + 5  # the log records a delivery once its answer was read
    while True:
        log = api.control("GET", "/push/log")
        attempts = [d for d in log["deliveries"] if d["query"] == "Customers"]
        if len(attempts) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert [d["ok"] for d in attempts] == [False, False, True]
    assert [d["status"] for d in attempts] == [500, 500, 200]


def test_five_failures_move_the_message_to_failed_and_resend_delivers(
    api: Api, receiver: Receiver
) -> None:
    subscribe(api, receiver, "Customers")
    receiver.fail_next = 5
    api.put("Customer", {"CustomerID": {"value": "XCGUEST"}, "Terms": {"value": "NET30"}})
    deadline = time.monotonic() + 5
    while not api.control("GET", "/push/log")["failed"] and time.monotonic() < deadline:
        time.sleep(0.05)
    log = api.control("GET", "/push/log")
    assert len(log["failed"]) == 1 and log["failed"][0]["attempts"] == 5
    assert receiver.received == []
    assert api.control("POST", "/push/resend", {})["resent"] == 1
    receiver.wait(lambda ms: len(ms) == 1)
    assert api.control("GET", "/push/log")["failed"] == []


def test_unreachable_url_counts_as_a_failure(api: Api, receiver: Receiver) -> None:
    api.control(
        "POST",
        "/push",
        {"name": "dead", "url": "http://127.0.0.1:9/none", "queries": ["Customers"]},
    )
    api.control("POST", "/push", {"settings": {"max_attempts": 2, "retry_delay_seconds": 0.01}})
    api.put("Customer", {"CustomerID": {"value": "XCGUEST"}, "Terms": {"value": "COD"}})
    deadline = time.monotonic() + 5
    while not api.control("GET", "/push/log")["failed"] and time.monotonic() < deadline:
        time.sleep(0.05)
    failed = api.control("GET", "/push/log")["failed"]
    assert failed and failed[0]["last_error"] == "ConnectionError"


def test_unknown_query_is_refused(anon: Api) -> None:
    import requests

    response = requests.post(
        f"{anon.url}/_sandbox/push", json={"url": "http://x", "queries": ["Nope"]}, timeout=10
    )
    assert response.status_code == 400


def test_quirks_duplicate_and_split_pairs(api: Api, receiver: Receiver) -> None:
    order = api.order()
    subscribe(api, receiver, "SalesOrders")
    api.control("POST", "/push", {"settings": {"duplicate": True, "split_pairs": True}})
    api.put("SalesOrder", {"id": order["id"], "Hold": {"value": True}})
    messages = receiver.wait(lambda ms: len(ms) == 4)
    assert len({m["Id"] for m in messages}) == 1
    deleted_only = [m for m in messages if m["Deleted"] and not m["Inserted"]]
    inserted_only = [m for m in messages if m["Inserted"] and not m["Deleted"]]
    assert len(deleted_only) == len(inserted_only) == 2
    assert inserted_only[0]["Inserted"][0]["Status"] == "On Hold"


def test_jitter_lets_later_changes_overtake(api: Api, receiver: Receiver) -> None:
    subscribe(api, receiver, "Customers")
    api.control("POST", "/push", {"settings": {"jitter_seconds": 0.4}})
    for n in range(10):
        api.put(
            "Customer",
            {"CustomerID": {"value": "XCGUEST"}, "CustomerName": {"value": f"Guest {n}"}},
        )
    messages = receiver.wait(lambda ms: len(ms) == 10)
    assert len({m["Id"] for m in messages}) == 10
    stamps = [m["TimeStamp"] for m in messages]
    assert stamps != sorted(stamps)
