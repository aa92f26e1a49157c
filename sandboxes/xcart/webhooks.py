"""Signed outgoing webhooks: a sandbox EXTENSION, not part of X-Cart (which has none).

Off unless the ``webhooks_enabled`` switch is on. Each delivery is a JSON ``POST``::

    {"id": "<delivery id, same on every retry>", "event": "order.updated",
     "created_at": "<ISO time of the event>", "sent_at": <unix time of this attempt>,
     "attempt": 1, "data": {...the record as the API returns it...}}

with headers ``X-Webhook-Id``, ``X-Webhook-Event``, ``X-Webhook-Timestamp`` (= ``sent_at``) and
``X-Webhook-Signature: sha256=<hex HMAC-SHA256 of the raw body with the subscription secret>``.
Because the timestamp is inside the signed body, a receiver can refuse stale replays. A delivery
that gets no 2xx answer is retried with exponential backoff up to ``webhook_max_attempts``.
"""

from __future__ import annotations

import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from sandboxes.xcart.settings import Settings
from sandboxes.xcart.store import Store

EVENTS = (
    "order.created",
    "order.updated",
    "order.status_changed",
    "product.updated",
    "profile.created",
)


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


@dataclass
class Delivery:
    id: str
    event: str
    url: str
    secret: str
    subscription_id: int
    data: dict[str, Any]
    created_at: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    delivered: bool = False
    given_up: bool = False

    def summary(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "event": self.event,
            "url": self.url,
            "subscription_id": self.subscription_id,
            "created_at": self.created_at,
            "attempts": self.attempts,
            "delivered": self.delivered,
            "given_up": self.given_up,
        }


class WebhookDispatcher:
    """Keeps subscriptions (in the store) and delivers events from one background thread."""

    def __init__(
        self, store: Store, settings: Settings, post: Callable[..., requests.Response] | None = None
    ) -> None:
        self._store = store
        self._settings = settings
        self._post = post or requests.post
        self._lock = threading.Condition()
        self._queue: list[tuple[float, int, Delivery]] = []
        self._counter = itertools.count()
        self._log: deque[Delivery] = deque(maxlen=1000)
        self._thread: threading.Thread | None = None
        self._stopped = False

    # --- subscriptions -------------------------------------------------------------------

    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self._store.get_meta("webhooks", []))

    def subscribe(self, url: str, events: list[str], secret: str) -> dict[str, Any]:
        with self._store.tx():
            subs = self.subscriptions()
            sub = {
                "id": self._store.next_value("webhook"),
                "url": url,
                "events": events,
                "secret": secret,
            }
            self._store.set_meta("webhooks", [*subs, sub])
        return sub

    def unsubscribe(self, sub_id: int) -> bool:
        with self._store.tx():
            subs = self.subscriptions()
            kept = [s for s in subs if s["id"] != sub_id]
            self._store.set_meta("webhooks", kept)
        return len(kept) != len(subs)

    def deliveries(self) -> list[dict[str, Any]]:
        with self._lock:
            return [d.summary() for d in self._log]

    def clear(self) -> None:
        with self._lock:
            self._queue.clear()
            self._log.clear()

    # --- delivery ------------------------------------------------------------------------

    def emit(self, event: str, data: dict[str, Any]) -> None:
        if not self._settings.switches.webhooks_enabled:
            return
        created = datetime.now(UTC).isoformat(timespec="seconds")
        for sub in self.subscriptions():
            if event in sub["events"] or "*" in sub["events"]:
                delivery = Delivery(
                    uuid.uuid4().hex, event, sub["url"], sub["secret"], sub["id"], data, created
                )
                with self._lock:
                    self._log.append(delivery)
                    heapq.heappush(self._queue, (time.monotonic(), next(self._counter), delivery))
                    self._ensure_thread()
                    self._lock.notify()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="xcart-webhooks", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            self._lock.notify()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._stopped:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._lock.wait(wait)
                if self._stopped:
                    return
                _, _, delivery = heapq.heappop(self._queue)
            self._attempt(delivery)

    def _attempt(self, delivery: Delivery) -> None:
        switches = self._settings.switches
        number = len(delivery.attempts) + 1
        sent_at = int(time.time())
        body = json.dumps(
            {
                "id": delivery.id,
                "event": delivery.event,
                "created_at": delivery.created_at,
                "sent_at": sent_at,
                "attempt": number,
                "data": delivery.data,
            },
            ensure_ascii=False,
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "xcart-sandbox-webhooks/1",
            "X-Webhook-Id": delivery.id,
            "X-Webhook-Event": delivery.event,
            "X-Webhook-Timestamp": str(sent_at),
            "X-Webhook-Signature": sign(delivery.secret, body),
        }
        record: dict[str, Any] = {"attempt": number, "at": sent_at}
        try:
            answer = self._post(
                delivery.url, data=body, headers=headers, timeout=switches.webhook_timeout_seconds
            )
            record["status"] = answer.status_code
            ok = 200 <= answer.status_code < 300
        except requests.RequestException as exc:
            record["error"] = type(exc).__name__
            ok = False
        with self._lock:
            delivery.attempts.append(record)
            if ok:
                delivery.delivered = True
            elif number >= switches.webhook_max_attempts:
                delivery.given_up = True
            else:
                delay = switches.webhook_backoff_seconds * 2 ** (number - 1)
                heapq.heappush(
                    self._queue, (time.monotonic() + delay, next(self._counter), delivery)
                )
