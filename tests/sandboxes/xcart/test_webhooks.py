from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time

import pytest
from flask import Flask, request

from sandboxes.common.server import serve_in_thread


class Receiver:
    """A webhook endpoint that fails its first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls: list[tuple[dict, bytes]] = []
        self.lock = threading.Lock()
        app = Flask("receiver")

        @app.post("/hook")
        def hook():
            with self.lock:
                self.calls.append((dict(request.headers), request.get_data()))
                if len(self.calls) <= self.failures:
                    return "boom", 500
            return "", 204

        self.server = serve_in_thread(app)
        self.url = f"{self.server.url}/hook"

    def wait_for(self, count: int, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return
            time.sleep(0.02)
        raise AssertionError(f"got {len(self.calls)} calls, wanted {count}")


@pytest.fixture
def receiver():
    made: list[Receiver] = []

    def make(failures: int = 0) -> Receiver:
        made.append(Receiver(failures))
        return made[-1]

    yield make
    for r in made:
        r.server.stop()


def _subscribe(api, url: str, events: list[str]) -> None:
    answer = api.client.post(
        "/_sandbox/webhooks", json={"url": url, "events": events, "secret": "s3cret"}
    )
    assert answer.status_code == 201


def test_webhooks_are_off_by_default(api, receiver):
    hook = receiver()
    _subscribe(api, hook.url, ["*"])
    api.checkout()
    time.sleep(0.2)
    assert hook.calls == []
    assert api.client.get("/_sandbox/webhooks").get_json()["enabled"] is False


def test_order_created_is_delivered_signed(api, receiver):
    hook = receiver()
    api.config(webhooks_enabled=True)
    _subscribe(api, hook.url, ["order.created"])
    order = api.checkout()
    hook.wait_for(1)
    headers, body = hook.calls[0]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers["X-Webhook-Signature"] == expected
    payload = json.loads(body)
    assert payload["event"] == "order.created"
    assert str(payload["sent_at"]) == headers["X-Webhook-Timestamp"]
    assert payload["data"] == order


def test_failed_deliveries_are_retried_with_the_same_id(api, receiver):
    hook = receiver(failures=2)
    api.config(webhooks_enabled=True, webhook_backoff_seconds=0.05)
    _subscribe(api, hook.url, ["product.updated"])
    api.put("/api/products/1", json={"amount": 3})
    hook.wait_for(3)
    ids = {h["X-Webhook-Id"] for h, _ in hook.calls}
    assert len(ids) == 1
    assert [json.loads(b)["attempt"] for _, b in hook.calls] == [1, 2, 3]
    time.sleep(0.1)
    delivery = api.client.get("/_sandbox/webhooks/deliveries").get_json()[0]
    assert delivery["delivered"] is True
    assert [a["status"] for a in delivery["attempts"]] == [500, 500, 204]


def test_delivery_gives_up_after_max_attempts(api, receiver):
    hook = receiver(failures=100)
    api.config(webhooks_enabled=True, webhook_backoff_seconds=0.02, webhook_max_attempts=2)
    _subscribe(api, hook.url, ["profile.created"])
    api.post("/api/profiles", json={"login": "hooked@example.com"})
    hook.wait_for(2)
    time.sleep(0.2)
    assert len(hook.calls) == 2
    assert api.client.get("/_sandbox/webhooks/deliveries").get_json()[0]["given_up"] is True


def test_status_change_emits_order_updated_and_status_changed(api, receiver):
    hook = receiver()
    api.config(webhooks_enabled=True)
    _subscribe(api, hook.url, ["order.updated", "order.status_changed"])
    order = api.checkout()
    api.put(f"/api/orders/{order['id']}/shipping_status", json={"code": "S"})
    hook.wait_for(2)
    events = sorted(json.loads(b)["event"] for _, b in hook.calls)
    assert events == ["order.status_changed", "order.updated"]


def test_subscription_validation_and_removal(api):
    bad = api.client.post("/_sandbox/webhooks", json={"url": "ftp://x", "secret": "s"})
    assert bad.status_code == 400
    assert bad.get_json()["field"] == "url"
    assert (
        api.client.post(
            "/_sandbox/webhooks", json={"url": "http://x", "secret": "s", "events": ["order.nope"]}
        ).status_code
        == 400
    )
    created = api.client.post(
        "/_sandbox/webhooks", json={"url": "http://x/y", "secret": "s"}
    ).get_json()
    assert api.client.delete(f"/_sandbox/webhooks/{created['id']}").status_code == 204
    assert api.client.get("/_sandbox/webhooks").get_json()["subscriptions"] == []
