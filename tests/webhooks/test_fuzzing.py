"""Property-based: whatever arrives, the receiver answers without a 500 and enqueues only
valid input."""

from __future__ import annotations

import json
import time

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
