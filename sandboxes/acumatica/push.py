"""Push notifications: webhook subscriptions, change detection and at-least-once delivery.

A subscription names a webhook URL, one optional custom header and the inquiries it tracks
(see ``inquiries.INQUIRIES``). After each committed change the notifier compares the affected
inquiry rows before and after; changed rows are sent as the old row in ``Deleted`` and the new
row in ``Inserted``. A background thread POSTs the messages; a message that gets no 2xx answer
is retried up to ``max_attempts`` times in all, then kept as failed (resendable for
``failed_retention_seconds``, two days by default).
"""

from __future__ import annotations

import heapq
import itertools
import json
import random
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import requests

from sandboxes.common.control import masked

from .inquiries import INQUIRIES, Row, skus_in
from .store import Change, Store
from .values import now_iso

DOTNET_EPOCH_OFFSET = 62135596800  # seconds from 0001-01-01 to 1970-01-01
SETTINGS_KEY = "push"


def dotnet_ticks(moment: float) -> int:
    return int((moment + DOTNET_EPOCH_OFFSET) * 10_000_000)


@dataclass
class PushSettings:
    max_attempts: int = 5
    retry_delay_seconds: float = 1.0
    timeout_seconds: float = 10.0
    failed_retention_seconds: float = 2 * 24 * 3600
    # Delivery quirks a receiver must survive (all off by default):
    duplicate: bool = False  # every message is sent twice
    split_pairs: bool = False  # an update's Deleted and Inserted rows go in two requests
    jitter_seconds: float = 0.0  # random delay before the first attempt, so messages overtake


@dataclass(order=True)
class _Job:
    due: float
    seq: int
    message_id: str = field(compare=False)


@dataclass
class _Message:
    id: str
    subscription: str
    url: str
    headers: dict[str, str]
    body: dict[str, Any]
    attempts: int = 0
    status: str = "pending"
    created: float = field(default_factory=time.time)
    last_error: str | None = None


class PushNotifier:
    def __init__(self, store: Store, company: str) -> None:
        self.store = store
        self.company = company
        self.settings = PushSettings(**store.get_setting(SETTINGS_KEY + ".settings", {}))
        self.subscriptions: dict[str, dict[str, Any]] = {
            s["name"]: s for s in store.get_setting(SETTINGS_KEY + ".subscriptions", [])
        }
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: list[_Job] = []
        self._seq = itertools.count()
        self._messages: dict[str, _Message] = {}
        self._log: deque[dict[str, Any]] = deque(maxlen=2000)
        self._cache: dict[str, dict[tuple[Any, ...], Row]] = {}
        self._stopped = False
        self._rng = random.Random()
        self._http = requests.Session()
        self._thread = threading.Thread(target=self._run, name="acumatica-push", daemon=True)
        self._thread.start()
        store.add_listener(self.on_commit)
        self.snapshot_all()

    # --- subscriptions ---------------------------------------------------------------------

    def configure(self, body: dict[str, Any]) -> None:
        if "settings" in body:
            merged = {**self.settings.__dict__, **body["settings"]}
            self.settings = PushSettings(**merged)
            self.store.put_setting(SETTINGS_KEY + ".settings", self.settings.__dict__)
        if "subscriptions" in body:
            self.subscriptions = {}
            for sub in body["subscriptions"]:
                self._add(sub)
        if "url" in body:
            self._add(body)
        if "delete" in body:
            self.subscriptions.pop(str(body["delete"]), None)
        self.store.put_setting(SETTINGS_KEY + ".subscriptions", list(self.subscriptions.values()))
        self.snapshot_all()

    def _add(self, sub: dict[str, Any]) -> None:
        queries = sub.get("queries") or list(INQUIRIES)
        unknown = [q for q in queries if q not in INQUIRIES]
        if unknown:
            raise ValueError(f"unknown queries {unknown}; known: {sorted(INQUIRIES)}")
        if not sub.get("url"):
            raise ValueError("a subscription needs a url")
        name = str(sub.get("name") or sub["url"])
        self.subscriptions[name] = {
            "name": name,
            "url": sub["url"],
            "queries": queries,
            "header_name": sub.get("header_name"),
            "header_value": sub.get("header_value"),
            "active": bool(sub.get("active", True)),
        }

    def describe(self) -> dict[str, Any]:
        return {
            "subscriptions": [
                {**s, "header_value": masked(s.get("header_value"))}
                for s in self.subscriptions.values()
            ],
            "queries": {name: inq.title for name, inq in INQUIRIES.items()},
            "settings": self.settings.__dict__,
        }

    def _watched(self) -> set[str]:
        return {q for s in self.subscriptions.values() if s["active"] for q in s["queries"]}

    # --- change detection ------------------------------------------------------------------

    def snapshot_all(self) -> None:
        """Remember the current rows of every watched inquiry (the baseline for the next diff)."""
        watched = self._watched()
        with self.store.lock:
            self._cache = {
                name: self._keyed(name, INQUIRIES[name].rows(self.store)) for name in watched
            }

    def _keyed(self, name: str, rows: list[Row]) -> dict[tuple[Any, ...], Row]:
        key = INQUIRIES[name].key
        return {tuple(str(r.get(k) or "").upper() for k in key): r for r in rows}

    def on_commit(self, changes: list[Change]) -> None:
        watched = self._watched()
        if not watched or not changes:
            return
        transaction = str(uuid.uuid4())
        for name in watched:
            inquiry = INQUIRIES[name]
            relevant = [c for c in changes if c[0] in inquiry.sources]
            if not relevant:
                continue
            cache = self._cache.setdefault(name, {})
            if inquiry.stock_rows is not None:
                skus = skus_in(r for _, old, new in relevant for r in (old, new))
                if not skus:
                    continue
                current = self._keyed(name, inquiry.stock_rows(self.store, skus))
                before = {k: v for k, v in cache.items() if k[0] in skus}
            else:
                assert inquiry.record_rows is not None
                current, before = {}, {}
                for _, old, new in relevant:
                    if old:
                        for k, row in self._keyed(name, inquiry.record_rows(old)).items():
                            before[k] = cache.get(k, row)
                    if new:
                        current.update(self._keyed(name, inquiry.record_rows(new)))
            deleted = [row for k, row in before.items() if current.get(k) != row]
            inserted = [row for k, row in current.items() if before.get(k) != row]
            for k in before:
                cache.pop(k, None)
            cache.update(current)
            if deleted or inserted:
                self._emit(name, inserted, deleted, transaction)

    def _emit(self, query: str, inserted: list[Row], deleted: list[Row], transaction: str) -> None:
        now = time.time()
        body = {
            "Inserted": inserted,
            "Deleted": deleted,
            "Query": query,
            "CompanyId": self.company,
            "Id": transaction,
            "TimeStamp": dotnet_ticks(now),
            "AdditionalInfo": {
                "PXPerformanceInfoStartTime": datetime.fromtimestamp(now, UTC).strftime(
                    "%m/%d/%Y %H:%M:%S"
                )
            },
        }
        bodies = [body]
        if self.settings.split_pairs and inserted and deleted:
            bodies = [{**body, "Inserted": []}, {**body, "Deleted": []}]
        copies = 2 if self.settings.duplicate else 1
        for sub in self.subscriptions.values():
            if sub["active"] and query in sub["queries"]:
                headers = {"Content-Type": "application/json", "Accept": "application/json"}
                if sub.get("header_name"):
                    headers[str(sub["header_name"])] = str(sub.get("header_value") or "")
                for part in bodies * copies:
                    message = _Message(str(uuid.uuid4()), sub["name"], sub["url"], headers, part)
                    self._enqueue(message, self._rng.uniform(0, self.settings.jitter_seconds))

    # --- delivery --------------------------------------------------------------------------

    def _enqueue(self, message: _Message, delay: float) -> None:
        with self._cond:
            self._messages[message.id] = message
            heapq.heappush(self._queue, _Job(time.monotonic() + delay, next(self._seq), message.id))
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._stopped and (
                    not self._queue or self._queue[0].due > time.monotonic()
                ):
                    timeout = self._queue[0].due - time.monotonic() if self._queue else None
                    self._cond.wait(timeout)
                if self._stopped:
                    return
                job = heapq.heappop(self._queue)
                message = self._messages.get(job.message_id)
            if message is not None:
                self._deliver(message)

    def _deliver(self, message: _Message) -> None:
        message.attempts += 1
        status: int | None = None
        try:
            response = self._http.post(
                message.url,
                data=json.dumps(message.body),
                headers=message.headers,
                timeout=self.settings.timeout_seconds,
            )
            status = response.status_code
            ok = 200 <= status < 300
            error = None if ok else f"HTTP {status}"
        except requests.RequestException as exc:
            ok = False
            error = type(exc).__name__
        with self._lock:
            self._log.append(
                {
                    "message_id": message.id,
                    "subscription": message.subscription,
                    "query": message.body["Query"],
                    "id": message.body["Id"],
                    "attempt": message.attempts,
                    "status": status,
                    "ok": ok,
                    "error": error,
                    "at": now_iso(),
                }
            )
            if ok:
                message.status = "delivered"
                self._messages.pop(message.id, None)
                return
            message.last_error = error
            if message.id not in self._messages:
                return
            if message.attempts >= self.settings.max_attempts:
                message.status = "failed"
                return
        self._enqueue(message, self.settings.retry_delay_seconds * message.attempts)

    def log(self) -> dict[str, Any]:
        now = time.time()
        with self._lock:
            failed = [
                {
                    "message_id": m.id,
                    "subscription": m.subscription,
                    "query": m.body["Query"],
                    "attempts": m.attempts,
                    "last_error": m.last_error,
                    "body": m.body,
                }
                for m in self._messages.values()
                if m.status == "failed"
                and now - m.created <= self.settings.failed_retention_seconds
            ]
            pending = sum(1 for m in self._messages.values() if m.status == "pending")
            return {"deliveries": list(self._log), "failed": failed, "pending": pending}

    def resend(self, ids: list[str] | None) -> int:
        """Queue failed messages again (all when ``ids`` is None); returns how many."""
        now = time.time()
        with self._lock:
            chosen = [
                m
                for m in self._messages.values()
                if m.status == "failed"
                and now - m.created <= self.settings.failed_retention_seconds
                and (ids is None or m.id in ids)
            ]
            for m in chosen:
                m.status = "pending"
                m.attempts = 0
        for m in chosen:
            self._enqueue(m, 0.0)
        return len(chosen)

    def clear(self) -> None:
        """Forget subscriptions, settings, queued and failed messages and the delivery log."""
        with self._lock:
            self._queue.clear()
            self._messages.clear()
            self._log.clear()
        self.subscriptions = {}
        self.store.put_setting(SETTINGS_KEY + ".subscriptions", [])
        self.settings = PushSettings()
        self.store.put_setting(SETTINGS_KEY + ".settings", self.settings.__dict__)
        self._cache = {}

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
