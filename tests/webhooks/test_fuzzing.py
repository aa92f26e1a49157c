"""Property-based: whatever arrives, the receiver answers without a 5xx and enqueues only
valid input.

Two oracles that are not the receiver's code: :func:`strictly_valid`, Python's own ``json``
with strict hooks (no non-finite number, no repeated key, no unpaired surrogate, at most 64
levels, UTF-8 only), says which bodies may be enqueued at all; and hostile bodies built from a
valid delivery with one known defect say by construction what the answer must be.
"""

from __future__ import annotations

import json
import math
import time
import uuid

import pytest
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


#: The documented nesting limit of a body (docs/operations.md, "Webhook receiver").
MAX_LEVELS = 64


def _reject(_: str) -> None:
    raise ValueError("not strict JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("not a finite number")
    return value


def _no_repeats(pairs: list) -> dict:
    keys = [key for key, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError("repeated key")
    return dict(pairs)


def _levels(value) -> int:
    if isinstance(value, dict):
        return 1 + max((_levels(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_levels(v) for v in value), default=0)
    return 0


def strictly_valid(raw: bytes) -> bool:
    """Raw bytes a careful reader would take as one JSON object, whatever reads them next."""
    try:
        value = json.loads(
            raw.decode("utf-8", errors="strict"),
            parse_constant=_reject,
            parse_float=_finite,
            object_pairs_hook=_no_repeats,
        )
        json.dumps(value, ensure_ascii=False).encode("utf-8")  # unpaired surrogates fail here
    except (ValueError, RecursionError):
        return False
    return isinstance(value, dict) and _levels(value) <= MAX_LEVELS


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
    if secret != PUSH_SECRET:
        assert answer.status_code == 401  # before anything about the path or the body
    if answer.status_code >= 400:
        assert answer.json["error"]
        assert recorder.calls == []
    for task, kwargs in recorder.calls:
        assert task == f"tasks.{flow}.realtime_on_push"
        assert strictly_valid(body)
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
    if not sign_it and signature != sign(XCART_SECRET, payload):
        assert answer.status_code == 401
    if answer.status_code >= 400:
        assert recorder.calls == []
    for task, kwargs in recorder.calls:
        body = json.loads(payload)
        assert strictly_valid(payload)
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


# -- hostile JSON: a valid delivery with one known defect; the answer is known by construction --

#: (JSON text of a value, whether a strict reader accepts it). Nesting is counted from the
#: value's own level; :func:`_hostile` adds the levels above it.
DEFECTS: dict[str, tuple[bytes, bool]] = {
    "nan": (b"NaN", False),
    "infinity": (b"Infinity", False),
    "minus_infinity": (b"-Infinity", False),
    "overflowing_exponent": (b"1e999", False),
    "overflowing_negative": (b"-1e999", False),
    "overflowing_mantissa": (b"17976931348623159" + b"0" * 292 + b".0", False),
    "largest_double": (b"1.7976931348623157e308", True),
    "underflow_to_zero": (b"1e-999", True),
    "huge_integer": (b"9" * 400, True),
    "integer_of_5000_digits": (b"9" * 5000, False),
    "repeated_key": (b'{"a": 1, "a": 2}', False),
    "repeated_key_deeper": (b'[{"x": {"k": null, "k": null}}]', False),
    "invalid_utf8": (b'"caf\xe9"', False),
    "overlong_utf8": (b'"\xc0\xaf"', False),
    "utf8_encoded_surrogate": (b'"\xed\xa0\x80"', False),
    "truncated_utf8": (b'"\xe2\x82"', False),
    "unpaired_surrogate_escape": (b'"\\ud800"', False),
    "unpaired_low_surrogate_key": (b'{"\\udc00": 1}', False),
    "surrogate_pair_escape": (b'"\\ud83d\\ude00"', True),
    "recursion_bomb": (b"[" * 3000 + b"]" * 3000, False),
}


def _nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def _hostile(base: dict, key: str, defect: bytes) -> bytes:
    """``base`` as JSON with ``defect`` as the raw value of ``key`` (a top-level key)."""
    raw = json.dumps({**base, key: "__DEFECT__"}).encode()
    return raw.replace(b'"__DEFECT__"', defect)


def _cases(levels_above: int) -> list[tuple[str, bytes, bool]]:
    """Every defect, and nesting right at the limit and one level past it."""
    room = MAX_LEVELS - levels_above
    return [
        *((name, raw, ok) for name, (raw, ok) in DEFECTS.items()),
        ("nested_to_the_limit", _nested(room), True),
        ("nested_past_the_limit", _nested(room + 1), False),
    ]


ROOMY = {"WEBHOOK_MAX_BODY_BYTES": str(64 * 1024)}


def _ids(cases: list[tuple[str, bytes, bool]]) -> list[str]:
    return [name for name, _, _ in cases]


PUSH_CASES = _cases(levels_above=1)  # the value of a top-level key of the body


@pytest.mark.parametrize("authentic", [True, False], ids=["signed", "forged"])
@pytest.mark.parametrize("flow", ["orders", "inventory"])
@pytest.mark.parametrize("case", PUSH_CASES, ids=_ids(PUSH_CASES))
def test_hostile_json_in_a_push_notification_is_400_and_never_5xx(
    redis_client, case, flow, authentic
) -> None:
    name, defect, acceptable = case
    recorder = Recorder()
    client = create_app(receiver_settings(**ROOMY), enqueue=recorder).test_client()
    base = {"Inserted": [{"InventoryID": "AA-0001"}], "Deleted": [], "Id": str(uuid.uuid4())}
    raw = _hostile(base, "Extra", defect)
    secret = PUSH_SECRET if authentic else PUSH_SECRET[:-1]

    answer = client.post(f"/webhooks/acumatica/{flow}", data=raw, headers={"X-Sync-Secret": secret})

    assert strictly_valid(raw) is acceptable, name  # the oracle agrees with the construction
    assert answer.is_json, name
    if not authentic:
        assert answer.status_code == 401, (name, answer.json)
        assert recorder.calls == []
    elif acceptable:
        assert answer.status_code == 202, (name, answer.json)
        assert recorder.calls == [
            (f"tasks.{flow}.realtime_on_push", {"notification": json.loads(raw)})
        ]
    else:
        assert answer.status_code == 400, (name, answer.json)
        assert recorder.calls == []


XCART_CASES = [
    *((where, case) for where in ("extra", "sent_at") for case in _cases(levels_above=1)),
    *(("data", case) for case in _cases(levels_above=2)),  # as data["v"]
]


@pytest.mark.parametrize("authentic", [True, False], ids=["signed", "forged"])
@pytest.mark.parametrize("timestamp_header", [True, False], ids=["header", "no-header"])
@pytest.mark.parametrize("case", XCART_CASES, ids=[f"{w}-{c[0]}" for w, c in XCART_CASES])
def test_hostile_json_in_an_xcart_webhook_is_400_and_never_5xx(
    redis_client, case, timestamp_header, authentic
) -> None:
    where, (name, defect, acceptable) = case
    recorder = Recorder()
    client = create_app(receiver_settings(**ROOMY), enqueue=recorder).test_client()
    now = int(time.time())
    base = {"id": uuid.uuid4().hex, "event": "order.created", "sent_at": now, "data": {"id": 7}}
    if where == "data":
        raw = _hostile(base, "data", b'{"v": ' + defect + b"}")
    else:
        raw = _hostile(base, where, defect)
    headers = {"X-Webhook-Signature": sign(XCART_SECRET if authentic else "forged", raw)}
    if timestamp_header:  # the header of the original 500: int() of the body's sent_at
        headers["X-Webhook-Timestamp"] = str(now)

    answer = client.post("/webhooks/xcart", data=raw, headers=headers)

    assert strictly_valid(raw) is acceptable, name
    assert answer.is_json, name
    if not authentic:
        assert answer.status_code == 401, (name, answer.json)
    elif not acceptable:
        assert answer.status_code == 400, (name, where, answer.json)
    elif where == "sent_at":
        # valid JSON but no unix time in seconds (400), or one far outside the window (401:
        # 1e-999 is 0.0, 1970)
        assert answer.status_code in (400, 401), (name, answer.json)
    else:
        assert answer.status_code == 202, (name, answer.json)
        data = json.loads(raw)["data"]
        assert recorder.calls == [
            ("tasks.orders.realtime_on_webhook", {"event": "order.created", "data": data})
        ]
    if answer.status_code != 202:
        assert recorder.calls == []
