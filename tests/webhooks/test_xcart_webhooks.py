"""Signed X-Cart webhooks: HMAC of the raw body, replay window, event routing, dedupe."""

from __future__ import annotations

import json
import time
import uuid

from sync_workers.webhooks.xcart import sign
from tests.webhooks.conftest import XCART_SECRET


def delivery(event: str = "order.created", sent_at: int | None = None, **changes) -> bytes:
    body = {
        "id": uuid.uuid4().hex,
        "event": event,
        "created_at": "2026-11-27T05:00:00+00:00",
        "sent_at": int(time.time()) if sent_at is None else sent_at,
        "attempt": 1,
        "data": {"id": 42, "orderNumber": "00042", "total": 19.99},
    }
    body.update(changes)
    return json.dumps(body).encode()


def signed(raw: bytes, secret: str = XCART_SECRET) -> dict[str, str]:
    sent_at = json.loads(raw)["sent_at"]
    return {
        "X-Webhook-Signature": sign(secret, raw),
        "X-Webhook-Timestamp": str(sent_at),
        "Content-Type": "application/json",
    }


def test_signed_order_event_enqueues_the_orders_webhook_task(client, recorder) -> None:
    raw = delivery("order.created")

    answer = client.post("/webhooks/xcart", data=raw, headers=signed(raw))

    assert answer.status_code == 202
    data = json.loads(raw)["data"]
    assert recorder.calls == [
        ("tasks.orders.realtime_on_webhook", {"event": "order.created", "data": data})
    ]


def test_events_route_to_their_flows(client, recorder) -> None:
    for event in ("product.updated", "profile.created", "order.status_changed"):
        raw = delivery(event)
        assert client.post("/webhooks/xcart", data=raw, headers=signed(raw)).status_code == 202
    assert [task for task, _ in recorder.calls] == [
        "tasks.products.realtime_on_webhook",
        "tasks.customers.realtime_on_webhook",
        "tasks.orders.realtime_on_webhook",
    ]


def test_event_of_no_flow_is_acknowledged_and_ignored(client, recorder) -> None:
    raw = delivery("coupon.created")

    answer = client.post("/webhooks/xcart", data=raw, headers=signed(raw))

    assert answer.status_code == 202
    assert answer.json["status"] == "ignored"
    assert recorder.calls == []


def test_bad_signature_is_401(client, recorder) -> None:
    raw = delivery()
    forged = signed(raw, secret="not-the-key")
    missing = {"X-Webhook-Timestamp": forged["X-Webhook-Timestamp"]}

    assert client.post("/webhooks/xcart", data=raw, headers=forged).status_code == 401
    assert client.post("/webhooks/xcart", data=raw, headers=missing).status_code == 401
    assert recorder.calls == []


def test_a_body_changed_after_signing_is_401(client, recorder) -> None:
    raw = delivery()
    headers = signed(raw)
    tampered = raw.replace(b"19.99", b"0.01")

    assert client.post("/webhooks/xcart", data=tampered, headers=headers).status_code == 401
    assert recorder.calls == []


def test_an_old_timestamp_is_refused(client, recorder) -> None:
    raw = delivery(sent_at=int(time.time()) - 301)

    answer = client.post("/webhooks/xcart", data=raw, headers=signed(raw))

    assert answer.status_code == 401
    assert "replay window" in answer.json["error"]
    assert recorder.calls == []


def test_a_timestamp_far_in_the_future_is_refused(client, recorder) -> None:
    raw = delivery(sent_at=int(time.time()) + 3600)

    assert client.post("/webhooks/xcart", data=raw, headers=signed(raw)).status_code == 401
    assert recorder.calls == []


def test_a_timestamp_header_that_disagrees_with_the_signed_body_is_400(client, recorder) -> None:
    raw = delivery()
    headers = {**signed(raw), "X-Webhook-Timestamp": str(int(time.time()) + 1000)}

    answer = client.post("/webhooks/xcart", data=raw, headers=headers)

    assert answer.status_code == 400
    assert recorder.calls == []


def test_a_redelivered_webhook_enqueues_once(client, recorder) -> None:
    raw = delivery()
    again = json.loads(raw)
    again.update(attempt=2, sent_at=int(time.time()))
    raw_again = json.dumps(again).encode()

    first = client.post("/webhooks/xcart", data=raw, headers=signed(raw))
    second = client.post("/webhooks/xcart", data=raw_again, headers=signed(raw_again))

    assert (first.status_code, second.status_code) == (202, 200)
    assert len(recorder.calls) == 1


def test_signed_but_malformed_deliveries_get_400(client, recorder) -> None:
    bodies = [
        delivery(data=[1, 2]),
        delivery(event="ORDER CREATED"),
        delivery(id=7),
        json.dumps({"id": "x", "event": "order.created", "sent_at": "yesterday"}).encode(),
        b"[]",
    ]
    for raw in bodies:
        headers = {"X-Webhook-Signature": sign(XCART_SECRET, raw)}
        answer = client.post("/webhooks/xcart", data=raw, headers=headers)
        assert answer.status_code == 400, (raw, answer.json)
    assert recorder.calls == []


def _signed_raw(text: str) -> tuple[bytes, dict[str, str]]:
    raw = text.encode()
    return raw, {"X-Webhook-Signature": sign(XCART_SECRET, raw)}


def test_a_signed_sent_at_that_is_no_unix_time_is_400_not_500(client, recorder) -> None:
    now = int(time.time())
    for sent_at in ("1e999", "-1e999", "NaN", "9" * 400, "1e308", str(now * 1000), "-1"):
        raw, headers = _signed_raw(
            f'{{"id": "{uuid.uuid4().hex}", "event": "order.created", '
            f'"sent_at": {sent_at}, "data": {{"id": 1}}}}'
        )
        for timestamp in (None, str(now), sent_at):
            sent = headers if timestamp is None else {**headers, "X-Webhook-Timestamp": timestamp}
            answer = client.post("/webhooks/xcart", data=raw, headers=sent)
            assert answer.status_code == 400, (sent_at, timestamp, answer.json)
    assert recorder.calls == []


def test_a_key_given_twice_is_400_whichever_value_a_reader_would_take(client, recorder) -> None:
    now = int(time.time())
    raw, headers = _signed_raw(
        f'{{"id": "{uuid.uuid4().hex}", "event": "order.created", "sent_at": {now - 3600}, '
        f'"sent_at": {now}, "data": {{"id": 1}}}}'
    )

    answer = client.post("/webhooks/xcart", data=raw, headers=headers)

    assert answer.status_code == 400
    assert "same key twice" in answer.json["error"]
    assert recorder.calls == []
