"""Acumatica push notifications: authentication before routing, validation, dedupe per flow,
query and id, 2xx only once enqueued."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import requests

from sandboxes.common.server import serve_in_thread
from sync_workers.observability import ops_keys
from sync_workers.settings import get_settings
from sync_workers.webhooks import create_app
from sync_workers.webhooks.enqueue import BrokerUnavailable
from tests.webhooks.conftest import PUSH_SECRET, Recorder, receiver_settings

HEADERS = {"X-Sync-Secret": PUSH_SECRET}


def notification(**changes):
    body = {
        "Inserted": [{"InventoryItem_inventoryCD": "SKU-1", "INSiteStatus_qtyOnHand": 7}],
        "Deleted": [{"InventoryItem_inventoryCD": "SKU-1", "INSiteStatus_qtyOnHand": 9}],
        "Query": "StockChanges",
        "CompanyId": "Company",
        "Id": str(uuid.uuid4()),
        "TimeStamp": 638465233453014192,
        "AdditionalInfo": {"PXPerformanceInfoStartTime": "03/20/2025 09:22:24"},
    }
    body.update(changes)
    return body


def queued_messages(redis_client, queue: str = "realtime") -> list[dict]:
    key = get_settings().redis_key_prefix + queue
    out = []
    for raw in redis_client.lrange(key, 0, -1):
        message = json.loads(raw)
        _args, kwargs, _ = json.loads(base64.b64decode(message["body"]))
        out.append({"task": message["headers"]["task"], "kwargs": kwargs})
    return out


def test_push_notification_is_published_to_the_realtime_queue_as_received(redis_client) -> None:
    client = create_app(receiver_settings()).test_client()
    body = notification()

    answer = client.post("/webhooks/acumatica/inventory", json=body, headers=HEADERS)

    assert answer.status_code == 202
    assert answer.json["status"] == "enqueued"
    assert queued_messages(redis_client) == [
        {"task": "tasks.inventory.realtime_on_push", "kwargs": {"notification": body}}
    ]


def test_duplicated_push_notification_enqueues_once(redis_client) -> None:
    client = create_app(receiver_settings()).test_client()
    body = notification()

    first = client.post("/webhooks/acumatica/shipments", json=body, headers=HEADERS)
    second = client.post("/webhooks/acumatica/shipments", json=body, headers=HEADERS)

    assert (first.status_code, second.status_code) == (202, 200)
    assert second.json["status"] == "duplicate"
    assert len(queued_messages(redis_client)) == 1


def seen_marks(redis_client, notification_id: str) -> list[str]:
    pattern = get_settings().redis_key_prefix + f"seen:push:*{notification_id}*"
    return list(redis_client.scan_iter(match=pattern))


def test_the_same_id_is_remembered_for_two_days(client, redis_client) -> None:
    body = notification()
    client.post("/webhooks/acumatica/orders", json=body, headers=HEADERS)

    [key] = seen_marks(redis_client, body["Id"])
    assert key.startswith(get_settings().redis_key_prefix + f"seen:push:orders:{body['Id']}:")
    assert 172800 - 5 <= redis_client.ttl(key) <= 172800


def test_one_transaction_reaches_every_flow_and_query_that_tracks_it_once(client, recorder) -> None:
    """One Acumatica transaction notifies each push definition tracking it with the same Id."""
    transaction = str(uuid.uuid4())
    stock = notification(Id=transaction, Query="ItemAvailability")
    order = notification(Id=transaction, Query="SalesOrders")
    other_inquiry = notification(Id=transaction, Query="StockChanges")

    answers = [
        client.post("/webhooks/acumatica/inventory", json=stock, headers=HEADERS),
        client.post("/webhooks/acumatica/orders", json=order, headers=HEADERS),
        client.post("/webhooks/acumatica/inventory", json=other_inquiry, headers=HEADERS),
        client.post("/webhooks/acumatica/inventory", json=stock, headers=HEADERS),  # resent
        client.post("/webhooks/acumatica/orders", json=order, headers=HEADERS),  # resent
    ]

    assert [a.status_code for a in answers] == [202, 202, 202, 200, 200]
    assert [a.json["status"] for a in answers[3:]] == ["duplicate", "duplicate"]
    assert recorder.calls == [
        ("tasks.inventory.realtime_on_push", {"notification": stock}),
        ("tasks.orders.realtime_on_push", {"notification": order}),
        ("tasks.inventory.realtime_on_push", {"notification": other_inquiry}),
    ]


def test_a_failed_publish_answers_503_and_the_redelivery_is_accepted(redis_client) -> None:
    def broker_down(task, kwargs):
        raise BrokerUnavailable("ConnectionRefusedError")

    body = notification()
    down = create_app(receiver_settings(), enqueue=broker_down).test_client()
    refused = down.post("/webhooks/acumatica/orders", json=body, headers=HEADERS)

    recorder = Recorder()
    up = create_app(receiver_settings(), enqueue=recorder).test_client()
    accepted = up.post("/webhooks/acumatica/orders", json=body, headers=HEADERS)

    assert refused.status_code == 503
    assert "broker is unavailable" in refused.json["error"]
    assert accepted.status_code == 202
    assert recorder.calls == [("tasks.orders.realtime_on_push", {"notification": body})]


def test_redis_outage_is_a_503_not_a_500() -> None:
    settings = receiver_settings(REDIS_URL="redis://127.0.0.1:1/0")
    recorder = Recorder()
    client = create_app(settings, enqueue=recorder).test_client()

    answer = client.post("/webhooks/acumatica/orders", json=notification(), headers=HEADERS)

    assert answer.status_code == 503
    assert recorder.calls == []


def test_unknown_flow_is_404_once_authenticated(client, recorder) -> None:
    answer = client.post("/webhooks/acumatica/invoices", json=notification(), headers=HEADERS)

    assert answer.status_code == 404
    assert "unknown flow" in answer.json["error"]
    assert recorder.calls == []


def test_anything_unauthenticated_under_webhooks_is_401_before_routing(client, recorder) -> None:
    wrong = {"X-Sync-Secret": "guess", "X-Webhook-Signature": "sha256=" + "0" * 64}
    requests_made = [
        ("POST", "/webhooks/acumatica/invoices", {}),  # unknown flow
        ("POST", "/webhooks/acumatica/invoices", wrong),
        ("GET", "/webhooks/acumatica/orders", {}),  # wrong method
        ("DELETE", "/webhooks/acumatica/orders", wrong),
        ("POST", "/webhooks/nothing-here", {}),  # unknown path
        ("POST", "/webhooks//acumatica/orders", {}),
        ("GET", "/webhooks/xcart", {}),
        ("POST", "/webhooks/xcart/extra", wrong),
        ("OPTIONS", "/webhooks/xcart", {}),
        ("POST", "/webhooks", {}),
    ]
    for method, path, headers in requests_made:
        answer = client.open(path, method=method, json=notification(), headers=headers)
        assert answer.status_code == 401, (method, path, answer.status_code)
        assert answer.is_json
        text = answer.get_data(as_text=True)
        assert "orders" not in text and "inventory" not in text, (method, path, text)
    assert recorder.calls == []
    assert client.get("/healthz").status_code == 200  # outside /webhooks/: no credentials
    authenticated = client.get("/webhooks/acumatica/orders", headers=HEADERS)
    assert authenticated.status_code == 405


def test_webhooks_without_a_configured_secret_are_403_whatever_the_path(redis_client) -> None:
    recorder = Recorder()
    settings = receiver_settings(WEBHOOK_ACUMATICA_SECRET="", WEBHOOK_XCART_SECRET="")
    client = create_app(settings, enqueue=recorder).test_client()

    for path in ("/webhooks/acumatica/invoices", "/webhooks/anything", "/webhooks/xcart"):
        answer = client.post(path, json=notification(), headers=HEADERS)
        assert answer.status_code == 403, path
    assert recorder.calls == []


def test_missing_or_wrong_secret_header_is_401(client, recorder) -> None:
    missing = client.post("/webhooks/acumatica/orders", json=notification())
    wrong = client.post(
        "/webhooks/acumatica/orders", json=notification(), headers={"X-Sync-Secret": "guess"}
    )

    assert (missing.status_code, wrong.status_code) == (401, 401)
    assert PUSH_SECRET not in wrong.get_data(as_text=True)
    assert recorder.calls == []


def test_pushes_are_refused_when_no_secret_is_configured(redis_client) -> None:
    recorder = Recorder()
    settings = receiver_settings(WEBHOOK_ACUMATICA_SECRET="")
    client = create_app(settings, enqueue=recorder).test_client()

    answer = client.post("/webhooks/acumatica/orders", json=notification(), headers=HEADERS)

    assert answer.status_code == 403
    assert "WEBHOOK_ACUMATICA_SECRET" in answer.json["error"]
    assert recorder.calls == []


def test_header_name_comes_from_the_settings(redis_client) -> None:
    recorder = Recorder()
    settings = receiver_settings(WEBHOOK_ACUMATICA_HEADER="X-Erp-Token")
    client = create_app(settings, enqueue=recorder).test_client()

    default_header = client.post("/webhooks/acumatica/orders", json=notification(), headers=HEADERS)
    custom = client.post(
        "/webhooks/acumatica/orders", json=notification(), headers={"X-Erp-Token": PUSH_SECRET}
    )

    assert (default_header.status_code, custom.status_code) == (401, 202)


def test_malformed_notifications_get_400_with_the_reason(client, recorder) -> None:
    cases = {
        b"not json": "not valid JSON",
        b"[1, 2]": "JSON object",
        b"\xff\xfe": "not UTF-8",
        json.dumps(notification(Id=None)).encode(): "Id",
        json.dumps(notification(Id="a b")).encode(): "Id",
        json.dumps(notification(Inserted={"a": 1})).encode(): "Inserted",
        json.dumps(notification(Deleted=[1])).encode(): "Deleted",
        json.dumps({"Id": "x"}).encode(): "Inserted or Deleted",
        b'{"Id": "x", "Inserted": [], "TimeStamp": NaN}': "not valid JSON",
        b'{"Id": "x", "Inserted": [], "TimeStamp": 1e999}': "out of range",
        b'{"Id": "x", "Id": "y", "Inserted": []}': "same key twice",
        b'{"Id": "x", "Inserted": [{"q": "\\ud800"}]}': "unpaired surrogate",
        b'{"Id": "x", "Inserted": [], "X": ' + b"[" * 64 + b"]" * 64 + b"}": "64 levels",
        b'{"Id": "x", "Inserted": [], "X": ' + b"[" * 2000 + b"]" * 2000 + b"}": "64 levels",
    }
    for raw, reason in cases.items():
        answer = client.post("/webhooks/acumatica/orders", data=raw, headers=HEADERS)
        assert answer.status_code == 400, raw
        assert reason in answer.json["error"], (raw, answer.json)
    assert recorder.calls == []


def test_oversized_body_is_413_as_json(client, recorder) -> None:
    body = notification(Inserted=[{"note": "x" * 5000}])

    answer = client.post("/webhooks/acumatica/orders", json=body, headers=HEADERS)

    assert answer.status_code == 413
    assert answer.json["status"] == 413
    assert recorder.calls == []


def test_wrong_method_is_405_as_json_once_authenticated(client) -> None:
    answer = client.get("/webhooks/acumatica/orders", headers=HEADERS)

    assert answer.status_code == 405
    assert answer.is_json


def test_health_endpoint_reports_redis(client) -> None:
    assert client.get("/healthz").json == {"status": "ok"}
    down = create_app(receiver_settings(REDIS_URL="redis://127.0.0.1:1/0")).test_client()
    assert down.get("/healthz").status_code == 503


def test_an_unreachable_broker_is_a_quick_503_and_leaves_no_mark(redis_client, monkeypatch) -> None:
    import time

    from celery import Celery

    import sync_workers.celery as engine_celery

    down = Celery("down", broker="redis://127.0.0.1:1/0")
    down.conf.broker_connection_timeout = 1
    monkeypatch.setattr(engine_celery, "app", down)
    client = create_app(receiver_settings()).test_client()
    body = notification()

    started = time.monotonic()
    answer = client.post("/webhooks/acumatica/orders", json=body, headers=HEADERS)

    assert answer.status_code == 503
    # The receiver's short publish retry policy (3 tries, about 1 s of pauses, 1 s connection
    # timeouts), not the default one that keeps a request hanging; 15 s is generous on a loaded
    # machine and still tells the two apart.
    assert time.monotonic() - started < 15
    assert seen_marks(redis_client, body["Id"]) == []


def test_the_time_of_each_flows_last_accepted_push_is_recorded(redis_client) -> None:
    server = serve_in_thread(create_app(receiver_settings()))
    base = f"http://127.0.0.1:{server.port}/webhooks/acumatica"
    before = datetime.now(UTC).replace(microsecond=0)
    try:
        wrong = requests.post(
            f"{base}/orders", json=notification(), headers={"X-Sync-Secret": "guess"}, timeout=10
        )
        malformed = requests.post(
            f"{base}/customers", json={"Id": "x"}, headers=HEADERS, timeout=10
        )
        body = notification()
        accepted = requests.post(f"{base}/inventory", json=body, headers=HEADERS, timeout=10)
        shipments = notification()
        requests.post(f"{base}/shipments", json=shipments, headers=HEADERS, timeout=10)
        redis_client.delete(ops_keys.key(get_settings().redis_key_prefix, "last_push"))
        repeated = requests.post(f"{base}/shipments", json=shipments, headers=HEADERS, timeout=10)
        requests.post(f"{base}/inventory", json=body, headers=HEADERS, timeout=10)
    finally:
        server.stop()

    assert (wrong.status_code, malformed.status_code) == (401, 400)
    assert (accepted.status_code, repeated.status_code) == (202, 200)
    pushes = ops_keys.last_pushes(redis_client, get_settings().redis_key_prefix)
    assert set(pushes) == {"inventory", "shipments"}  # a duplicate still shows Acumatica reaches us
    for at in pushes.values():
        assert before <= datetime.fromisoformat(at) <= datetime.now(UTC)
