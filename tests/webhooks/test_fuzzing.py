"""Property-based: whatever arrives, the receiver answers without a 500 and enqueues only
valid input."""

from __future__ import annotations

import json
import time
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync_workers.webhooks import create_app
from sync_workers.webhooks.acumatica import validate_notification
from sync_workers.webhooks.xcart import EVENT_FLOWS, sign
from tests.webhooks.conftest import PUSH_SECRET, XCART_SECRET, Recorder, receiver_settings

FUZZ = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
push_like = st.fixed_dictionaries(
    {},
    optional={
        "Id": st.one_of(st.uuids().map(str), st.text(max_size=140), st.integers(), st.none()),
        "Inserted": st.one_of(
            st.lists(st.dictionaries(st.text(max_size=8), json_values)), json_values
        ),
        "Deleted": st.one_of(
            st.lists(st.dictionaries(st.text(max_size=8), json_values)), json_values
        ),
        "Query": st.one_of(st.text(max_size=20), json_values),
        "TimeStamp": json_values,
    },
)
bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    push_like.map(lambda v: json.dumps(v).encode()),
)
header_values = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)
flows = st.sampled_from(["orders", "inventory", "shipments", "nope", "ORDERS", "x" * 50])


def _valid_push(kwargs) -> bool:
    from werkzeug.exceptions import HTTPException

    try:
        validate_notification(kwargs["notification"])
    except HTTPException:
        return False
    return True


@FUZZ
@given(
    body=bodies,
    flow=flows,
    secret=st.one_of(st.just(PUSH_SECRET), header_values),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "", "application/x-www-form-urlencoded"]
    ),
)
def test_fuzzed_push_notifications_never_500_nor_enqueue_invalid_input(
    redis_client, body, flow, secret, content_type
) -> None:
    recorder = Recorder()
    client = create_app(receiver_settings(), enqueue=recorder).test_client()
    headers = {"X-Sync-Secret": secret}
    if content_type:
        headers["Content-Type"] = content_type

    answer = client.post(f"/webhooks/acumatica/{flow}", data=body, headers=headers)

    assert answer.status_code < 500, answer.get_data(as_text=True)
    assert answer.is_json
    if answer.status_code >= 400:
        assert answer.json["error"]
        assert recorder.calls == []
    for task, kwargs in recorder.calls:
        assert task == f"tasks.{flow}.realtime_on_push"
        assert _valid_push(kwargs)
        assert json.loads(body) == kwargs["notification"]
        assert secret == PUSH_SECRET


xcart_like = st.fixed_dictionaries(
    {},
    optional={
        "id": st.one_of(st.uuids().map(lambda u: u.hex), st.text(max_size=140), json_values),
        "event": st.one_of(
            st.sampled_from(["order.created", "product.updated", "profile.created", "coupon.x"]),
            st.text(max_size=30),
            json_values,
        ),
        "sent_at": st.one_of(
            st.integers(min_value=-10_000, max_value=10_000).map(lambda d: int(time.time()) + d),
            json_values,
        ),
        "data": json_values,
    },
)


@FUZZ
@given(
    payload=st.one_of(st.binary(max_size=300), xcart_like.map(lambda v: json.dumps(v).encode())),
    sign_it=st.booleans(),
    signature=header_values,
    timestamp=st.one_of(st.none(), header_values),
)
def test_fuzzed_xcart_webhooks_never_500_nor_enqueue_invalid_input(
    redis_client, payload, sign_it, signature, timestamp
) -> None:
    recorder = Recorder()
    client = create_app(receiver_settings(), enqueue=recorder).test_client()
    headers = {"X-Webhook-Signature": sign(XCART_SECRET, payload) if sign_it else signature}
    if timestamp is not None:
        headers["X-Webhook-Timestamp"] = timestamp

    answer = client.post("/webhooks/xcart", data=payload, headers=headers)

    assert answer.status_code < 500, answer.get_data(as_text=True)
    assert answer.is_json
    if answer.status_code >= 400:
        assert recorder.calls == []
    for task, kwargs in recorder.calls:
        body = json.loads(payload)
        assert sign_it
        assert abs(time.time() - body["sent_at"]) <= 300
        assert isinstance(kwargs["data"], dict) and kwargs["data"] == body["data"]
        assert task == f"tasks.{EVENT_FLOWS[kwargs['event'].split('.')[0]]}.realtime_on_webhook"


# -- near-valid input: a valid delivery with zero or more mutations, checked against an oracle --

PUSH_MUTATIONS = ("drop_id", "junk_id", "junk_inserted", "junk_deleted", "drop_both", "junk_query")


def _mutated_push(mutations: list[str], junk) -> dict:
    body = {
        "Inserted": [{"InventoryItem_inventoryCD": "AA-0001", "qty": 3}],
        "Deleted": [{"InventoryItem_inventoryCD": "AA-0001", "qty": 4}],
        "Query": "StockChanges",
        "Id": "6f1c2b9e-0d7a-4a55-9a43-2f0c6f0e8a11",
    }
    for mutation in mutations:
        if mutation == "drop_id":
            body.pop("Id", None)
        elif mutation == "junk_id":
            body["Id"] = junk if not isinstance(junk, str) else junk + " "
        elif mutation == "junk_inserted":
            body["Inserted"] = junk if not isinstance(junk, list) else [junk]
        elif mutation == "junk_deleted":
            body["Deleted"] = junk if not isinstance(junk, list) else [junk]
        elif mutation == "drop_both":
            body.pop("Inserted", None)
            body.pop("Deleted", None)
        elif mutation == "junk_query":
            body["Query"] = junk if not isinstance(junk, str) else 7
    return body


@FUZZ
@given(
    mutations=st.lists(st.sampled_from(PUSH_MUTATIONS), max_size=2, unique=True),
    junk=json_values,
    right_secret=st.booleans(),
)
def test_near_valid_push_notifications_are_enqueued_exactly_when_valid(
    redis_client, mutations, junk, right_secret
) -> None:
    notification_id = str(uuid.uuid4())  # fresh per run: a replayed example is no duplicate
    recorder = Recorder()
    client = create_app(receiver_settings(), enqueue=recorder).test_client()
    body = _mutated_push(mutations, junk)
    if "Id" in body and body["Id"] == "6f1c2b9e-0d7a-4a55-9a43-2f0c6f0e8a11":
        body["Id"] = notification_id
    secret = PUSH_SECRET if right_secret else PUSH_SECRET + "x"

    answer = client.post(
        "/webhooks/acumatica/inventory", json=body, headers={"X-Sync-Secret": secret}
    )

    assert answer.status_code < 500
    if not right_secret:
        assert answer.status_code == 401 and recorder.calls == []
    elif not mutations:
        assert answer.status_code == 202
        assert recorder.calls == [("tasks.inventory.realtime_on_push", {"notification": body})]
    else:
        assert bool(recorder.calls) == _valid_push({"notification": body})


XCART_MUTATIONS = ("drop_id", "junk_id", "junk_event", "junk_data", "junk_time", "tamper")


@FUZZ
@given(
    mutations=st.lists(st.sampled_from(XCART_MUTATIONS), max_size=2, unique=True),
    junk=json_values,
    shift=st.integers(min_value=-900, max_value=900),
    event=st.sampled_from(["order.created", "product.updated", "profile.created"]),
)
def test_near_valid_xcart_webhooks_are_enqueued_exactly_when_valid(
    redis_client, mutations, junk, shift, event
) -> None:
    delivery_id = uuid.uuid4().hex
    recorder = Recorder()
    client = create_app(receiver_settings(), enqueue=recorder).test_client()
    body = {
        "id": delivery_id,
        "event": event,
        "sent_at": int(time.time()) + shift,
        "data": {"id": 1},
    }
    for mutation in mutations:
        if mutation == "drop_id":
            body.pop("id")
        elif mutation == "junk_id":
            body["id"] = junk if not isinstance(junk, str) else junk + " !"
        elif mutation == "junk_event":
            body["event"] = junk if not isinstance(junk, str) else junk + " event"
        elif mutation == "junk_data":
            body["data"] = junk if not isinstance(junk, dict) else [junk]
        elif mutation == "junk_time":
            body["sent_at"] = junk if not isinstance(junk, int | float) else str(junk)
    raw = json.dumps(body).encode()
    headers = {"X-Webhook-Signature": sign(XCART_SECRET, raw)}
    if "tamper" in mutations:
        raw = raw.replace(b'"data"', b'"data" ')

    answer = client.post("/webhooks/xcart", data=raw, headers=headers)

    assert answer.status_code < 500
    if mutations:  # every mutation makes the delivery invalid or unauthentic
        assert recorder.calls == []
        assert answer.status_code >= 400
        if "tamper" in mutations:
            assert answer.status_code == 401
    elif abs(shift) > 305:
        assert answer.status_code == 401 and recorder.calls == []
    elif abs(shift) < 295:
        flow = EVENT_FLOWS[event.split(".")[0]]
        assert answer.status_code == 202
        assert recorder.calls == [
            (f"tasks.{flow}.realtime_on_webhook", {"event": event, "data": {"id": 1}})
        ]
