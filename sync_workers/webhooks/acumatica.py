"""``POST /webhooks/acumatica/<flow>``: Acumatica push notifications.

Authenticated by the one custom header a push destination may carry (name and value from the
settings, compared in constant time), deduplicated by the notification ``Id`` (the database
transaction's GUID; Acumatica resends on any non-2xx answer for up to two days), and enqueued as
``tasks.<flow>.realtime_on_push`` with the body exactly as received.
"""

from __future__ import annotations

import hmac
import re
from typing import Any

from flask import Blueprint, Response, jsonify, request

from sync_workers.celery import FLOW_QUEUES
from sync_workers.webhooks.context import receiver
from sync_workers.webhooks.errors import refuse
from sync_workers.webhooks.payload import json_object

bp = Blueprint("acumatica_push", __name__)

NOTIFICATION_ID = re.compile(r"^[A-Za-z0-9._:{}-]{1,128}$")


def _authenticate() -> None:
    settings = receiver().settings
    secret = settings.webhook_acumatica_secret
    if not secret:
        refuse(403, "push notifications are disabled: WEBHOOK_ACUMATICA_SECRET is not set")
    header = settings.webhook_acumatica_header
    given = request.headers.get(header, "")
    if not given:
        refuse(401, f"missing {header} header")
    if not hmac.compare_digest(given.encode(), str(secret.reveal()).encode()):
        refuse(401, f"wrong {header} header")


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


@bp.post("/webhooks/acumatica/<flow>")
def push(flow: str) -> tuple[Response, int]:
    if flow not in FLOW_QUEUES:
        refuse(404, f"unknown flow {flow!r}; one of {', '.join(FLOW_QUEUES)}")
    _authenticate()
    body = json_object()
    notification_id = validate_notification(body)
    new, task_id = receiver().enqueue_once(
        "push", notification_id, f"tasks.{flow}.realtime_on_push", {"notification": body}
    )
    if not new:
        return jsonify({"status": "duplicate", "id": notification_id}), 200
    return jsonify({"status": "enqueued", "id": notification_id, "task_id": task_id}), 202
