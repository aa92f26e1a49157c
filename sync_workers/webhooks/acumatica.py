"""``POST /webhooks/acumatica/<flow>``: Acumatica push notifications.

Authenticated before routing by the one custom header a push destination may carry
(:mod:`sync_workers.webhooks.auth`), deduplicated by flow, ``Query`` and ``Id``, and enqueued as
``tasks.<flow>.realtime_on_push`` with the body exactly as received. The ``Id`` is the database
transaction's GUID: Acumatica resends a notification on any non-2xx answer for up to two days,
and one transaction that several push definitions track (a sales order changing both the
``SalesOrders`` and the ``ItemAvailability`` inquiries) sends each definition a notification
with the same ``Id``; each of those is news to its flow. The time of the last accepted
notification per flow is kept in Redis for ``sync-status``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from typing import Any

import redis
from flask import Blueprint, Response, jsonify

from sync_workers.celery import FLOW_QUEUES
from sync_workers.observability import ops_keys
from sync_workers.webhooks.context import receiver
from sync_workers.webhooks.errors import refuse
from sync_workers.webhooks.payload import json_object

log = logging.getLogger(__name__)

bp = Blueprint("acumatica_push", __name__)

#: The generic inquiry each flow's push notifications come from; each flow's
#: ``realtime_on_push`` reads the columns docs/operations.md lists. The inventory flow names its
#: own in its mapping template (``push.query``) and ignores notifications of any other query.
PUSH_QUERIES = {
    "orders": "SalesOrders",
    "customers": "Customers",
    "payments": "Payments",
    "shipments": "Shipments",
    "products": "StockItems",
    "inventory": "ItemAvailability",
}

NOTIFICATION_ID = re.compile(r"^[A-Za-z0-9._:{}-]{1,128}$")


def validate_notification(body: dict[str, Any]) -> str:
    """The notification id; refuses (400) a body that is not a push notification."""
    notification_id = body.get("Id")
    if not isinstance(notification_id, str) or not NOTIFICATION_ID.match(notification_id):
        refuse(400, "Id must be a string of 1-128 letters, digits or -._:{}", field="Id")
    rows_seen = False
    for part in ("Inserted", "Deleted"):
        rows = body.get(part)
        if rows is None:
            continue
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            refuse(400, f"{part} must be a list of objects", field=part)
        rows_seen = True
    if not rows_seen:
        refuse(400, "a push notification has Inserted or Deleted rows", field="Inserted")
    query = body.get("Query")
    if query is not None and not isinstance(query, str):
        refuse(400, "Query must be a string", field="Query")
    return notification_id


def dedupe_id(flow: str, query: str | None, notification_id: str) -> str:
    """What a resent notification repeats: ``<flow>:<Id>:<digest of Query>``. The query (any
    text, or none) is hashed so the id stays short and cannot be confused with its neighbours."""
    digest = hashlib.sha256((query or "").encode()).hexdigest()[:16]
    return f"{flow}:{notification_id}:{digest}"


@bp.post("/webhooks/acumatica/<flow>")
def push(flow: str) -> tuple[Response, int]:
    if flow not in FLOW_QUEUES:
        refuse(404, f"unknown flow {flow!r}; one of {', '.join(FLOW_QUEUES)}")
    body = json_object()
    notification_id = validate_notification(body)
    new, task_id = receiver().enqueue_once(
        "push",
        dedupe_id(flow, body.get("Query"), notification_id),
        f"tasks.{flow}.realtime_on_push",
        {"notification": body},
    )
    _note_arrival(flow)
    if not new:
        return jsonify({"status": "duplicate", "id": notification_id}), 200
    return jsonify({"status": "enqueued", "id": notification_id, "task_id": task_id}), 202


def _note_arrival(flow: str) -> None:
    """Record that Acumatica reaches us for ``flow``. The message is already on the broker, so
    a Redis error here is logged, not answered with an error Acumatica would resend for."""
    context = receiver()
    try:
        ops_keys.record_push(context.redis, context.settings.redis_key_prefix, flow)
    except redis.RedisError as exc:
        log.warning("could not record the push time of %s: %s", flow, type(exc).__name__)
