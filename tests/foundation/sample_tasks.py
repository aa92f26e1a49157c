"""Small tasks on the engine's real app, used to exercise the base task through a real worker.

Each task notes its calls in Redis (under the test key prefix) so tests can observe attempts and
the trace id seen by every step. Also the ``-A`` target of the prefork worker subprocess tests.
"""

from __future__ import annotations

import json
import os
import signal
import time

from celery.exceptions import SoftTimeLimitExceeded
from redis.exceptions import BusyLoadingError
from sqlalchemy import select

from sync_workers.celery import app
from sync_workers.connectors.errors import LoginLimitReached
from sync_workers.errors import PermanentError, TransientError
from sync_workers.ledger.db import make_engine, session_scope
from sync_workers.ledger.models import SyncRecord
from sync_workers.redis_client import get_redis, prefixed
from sync_workers.task import SyncTask
from sync_workers.tracing import current_trace_id


def note(kind: str, record_id: str, **extra: object) -> None:
    get_redis().rpush(
        prefixed("test", kind, record_id),
        json.dumps({"at": time.time(), "trace_id": current_trace_id(), **extra}),
    )


def notes(kind: str, record_id: str) -> list[dict]:
    return [json.loads(x) for x in get_redis().lrange(prefixed("test", kind, record_id), 0, -1)]


def switch_on(name: str) -> None:
    get_redis().set(prefixed("test", "switch", name), "1")


def is_on(name: str) -> bool:
    return get_redis().get(prefixed("test", "switch", name)) == "1"


@app.task(name="tests.orders.always_transient", flow="orders")
def always_transient(*, record_id: str) -> None:
    note("calls", record_id)
    raise TransientError("Acumatica answered 503 Service Unavailable")


@app.task(name="tests.orders.permanent_until_fixed", flow="orders")
def permanent_until_fixed(*, record_id: str, sku: str = "NOPE") -> dict:
    note("calls", record_id, sku=sku)
    if sku == "NOPE" and not is_on(f"fixed:{record_id}"):
        raise PermanentError(
            "Inserting 'Sales Order' record raised at least one error.",
            field_errors={"Details[0].InventoryID": f"'{sku}' cannot be found in the system."},
        )
    return {"record_id": record_id, "sku": sku}


@app.task(name="tests.orders.fetch", flow="orders")
def fetch(*, record_id: str) -> dict:
    note("steps", record_id, step="fetch")
    return {"record_id": record_id}


@app.task(name="tests.orders.push", flow="orders", record_arg=0)
def push(previous: dict) -> dict:
    note("steps", previous["record_id"], step="push")
    if not is_on(f"fixed:{previous['record_id']}"):
        raise PermanentError("customer 'C0001' cannot be found")
    return previous


@app.task(name="tests.orders.write_back", flow="orders", record_arg=0)
def write_back(previous: dict) -> None:
    note("steps", previous["record_id"], step="write_back")


@app.task(name="tests.orders.flaky_then_ok", flow="orders")
def flaky_then_ok(*, record_id: str, failures: int) -> dict:
    note("calls", record_id)
    if len(notes("calls", record_id)) <= failures:
        raise TransientError("connection reset by peer")
    return {"record_id": record_id}


class BrokerLoadingOnFirstRetry(SyncTask):
    """Publishing its first retry fails as it does while Redis reloads its data after a restart."""

    def apply_async(self, args=None, kwargs=None, **options):  # type: ignore[no-untyped-def]
        record_id = (kwargs or {}).get("record_id")
        if options.get("retries") and get_redis().incr(prefixed("test", "publish", record_id)) == 1:
            raise BusyLoadingError("Redis is loading the dataset in memory")
        return super().apply_async(args, kwargs, **options)


@app.task(
    name="tests.orders.retry_publish_fails_once", flow="orders", base=BrokerLoadingOnFirstRetry
)
def retry_publish_fails_once(*, record_id: str) -> dict:
    note("calls", record_id)
    if len(notes("calls", record_id)) <= 2:
        raise TransientError("connection reset by peer")
    return {"record_id": record_id}


class SoftLimitWhileNotingFailure(SyncTask):
    """The soft time limit fires while noting the first failure, as it does when Redis is
    unreachable (a host cut off) until the limit."""

    def _note_first_failure(self) -> None:
        record_id = (self.request.kwargs or {}).get("record_id")
        if get_redis().incr(prefixed("test", "soft-limit", record_id)) == 1:
            raise SoftTimeLimitExceeded()
        super()._note_first_failure()


@app.task(
    name="tests.orders.soft_limit_while_noting_failure",
    flow="orders",
    base=SoftLimitWhileNotingFailure,
)
def soft_limit_while_noting_failure(*, record_id: str) -> dict:
    note("calls", record_id)
    if len(notes("calls", record_id)) == 1:
        raise TransientError("connection timed out")
    return {"record_id": record_id}


@app.task(name="tests.orders.sleep_past_hard_limit", flow="orders", soft_time_limit=1, time_limit=2)
def sleep_past_hard_limit(*, record_id: str) -> None:
    """Swallows the soft limit, as a step stuck in C code would, so only the hard limit stops it."""
    note("calls", record_id)
    try:
        time.sleep(30)
    except SoftTimeLimitExceeded:
        time.sleep(30)


@app.task(name="tests.orders.login_limit_then_ok", flow="orders")
def login_limit_then_ok(*, record_id: str, waits: int) -> dict:
    """Finds every Acumatica licence seat taken ``waits`` times, then succeeds."""
    note("calls", record_id)
    if len(notes("calls", record_id)) <= waits:
        raise LoginLimitReached("acumatica: API Login Limit", retry_after=0.05)
    return {"record_id": record_id}


@app.task(name="tests.orders.die", flow="orders")
def die(*, record_id: str) -> None:
    note("calls", record_id, pid=os.getpid())
    os.kill(os.getpid(), signal.SIGKILL)


class CountingRetries(SyncTask):
    """Counts the retries it publishes."""

    def apply_async(self, args=None, kwargs=None, **options):  # type: ignore[no-untyped-def]
        if options.get("retries"):
            get_redis().incr(prefixed("test", "retries", (kwargs or {}).get("record_id")))
        return super().apply_async(args, kwargs, **options)


@app.task(name="tests.orders.fails_after_expiry", flow="orders", base=CountingRetries)
def fails_after_expiry(*, record_id: str, seconds: float) -> None:
    """A scheduled poll that fails once its message's expiry time has passed."""
    note("calls", record_id)
    time.sleep(seconds)
    raise TransientError("Acumatica answered 503 Service Unavailable")


@app.task(name="tests.orders.read_ledger", flow="orders")
def read_ledger(*, record_id: str, url: str) -> int:
    """Counts the records of the ledger at ``url``."""
    note("calls", record_id)
    engine = make_engine(url)
    try:
        with session_scope(engine) as session:
            return len(session.scalars(select(SyncRecord)).all())
    finally:
        engine.dispose()
