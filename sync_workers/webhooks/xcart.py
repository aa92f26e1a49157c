"""``POST /webhooks/xcart``: signed webhooks from an X-Cart store module.

X-Cart itself sends no webhooks; a store module (and the sandbox's extension) posts
``{"id", "event", "created_at", "sent_at", "attempt", "data"}`` with
``X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body>``, verified before routing
(:mod:`sync_workers.webhooks.auth`). The timestamp ``sent_at`` is inside the signed body, so a
captured request cannot be replayed outside the window by changing a header. Each delivery id is
enqueued once, as ``tasks.<flow>.realtime_on_webhook``. Events of no flow (``coupon.created``...)
are answered 202 ``ignored`` so the store stops resending.
"""

from __future__ import annotations

import re
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sync_workers.webhooks.auth import sign
from sync_workers.webhooks.context import receiver
from sync_workers.webhooks.errors import refuse
from sync_workers.webhooks.payload import parse_json_object

__all__ = ["EVENT_FLOWS", "bp", "flow_of", "sign"]

bp = Blueprint("xcart_webhooks", __name__)

TIMESTAMP_HEADER = "X-Webhook-Timestamp"
EVENT_FLOWS = {"order": "orders", "product": "products", "profile": "customers"}
EVENT = re.compile(r"^[a-z_]{1,40}\.[a-z_]{1,40}$")
DELIVERY_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
#: ``sent_at`` is a unix time in seconds: up to 2106 (a time in milliseconds is refused).
LATEST_UNIX_TIME = 2**32


def flow_of(event: str) -> str | None:
    return EVENT_FLOWS.get(event.split(".", 1)[0])


def _check_timestamp(body: dict[str, Any]) -> None:
    sent_at = body.get("sent_at")
    if (
        isinstance(sent_at, bool)
        or not isinstance(sent_at, int | float)
        or not 0 <= sent_at <= LATEST_UNIX_TIME  # also false for NaN and infinities
    ):
        refuse(400, "sent_at must be a unix time in seconds", field="sent_at")
    header = request.headers.get(TIMESTAMP_HEADER)
    if header is not None and header.strip() != str(int(sent_at)):
        refuse(400, f"{TIMESTAMP_HEADER} does not match the signed sent_at", field="sent_at")
    window = receiver().settings.webhook_replay_window_seconds
    if abs(time.time() - sent_at) > window:
        refuse(401, f"timestamp outside the {window} s replay window", field="sent_at")


def _validate(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    delivery_id, event, data = body.get("id"), body.get("event"), body.get("data")
    if not isinstance(delivery_id, str) or not DELIVERY_ID.match(delivery_id):
        refuse(400, "id must be a string of 1-128 letters, digits or -._:", field="id")
    if not isinstance(event, str) or not EVENT.match(event):
        refuse(400, "event must look like order.created", field="event")
    if not isinstance(data, dict):
        refuse(400, "data must be an object", field="data")
    return delivery_id, event, data


@bp.post("/webhooks/xcart")
def webhook() -> tuple[Response, int]:
    body = parse_json_object(request.get_data(cache=True))
    _check_timestamp(body)
    delivery_id, event, data = _validate(body)
    flow = flow_of(event)
    if flow is None:
        return jsonify({"status": "ignored", "id": delivery_id, "event": event}), 202
    new, task_id = receiver().enqueue_once(
        "xcart",
        delivery_id,
        f"tasks.{flow}.realtime_on_webhook",
        {"event": event, "data": data},
    )
    if not new:
        return jsonify({"status": "duplicate", "id": delivery_id}), 200
    return jsonify({"status": "enqueued", "id": delivery_id, "task_id": task_id}), 202
