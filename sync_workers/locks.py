"""Per-record locks in Redis, so a webhook, a poll and a replay never work one record at once.

The lock is an efficiency guard, not the correctness guarantee (that is the ledger's unique
constraints and the remote check before a create). A busy record raises ``TransientError`` so the
base task retries it later instead of blocking a worker slot: a caller may wait ``wait`` seconds
for a young lock (a live holder about to finish), but not for one already held longer than that
(a holder killed with its worker leaves its lock until ``LOCK_TIMEOUT``), and the error asks for
a retry after :func:`busy_wait`.

:func:`record_locks` takes several records' locks in one round trip, all or none, and releases
them in one more: an order's task takes the order's and its payments' at once instead of one
lock per record. Locks are re-entrant within a task (a context variable holds the names taken):
a step that locks a record its task already holds goes on without asking Redis. A lock is a key
``lock:<flow>:<record_id>`` holding the holder's token, with an expiry (``LOCK_TIMEOUT``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import redis

from sync_workers.errors import TransientError
from sync_workers.redis_client import get_redis, prefixed
from sync_workers.settings import get_settings

#: Lock names this task holds (re-entrancy).
_held: ContextVar[frozenset[str]] = ContextVar("sync_workers_locks_held", default=frozenset())

#: All or none: ``{i, ms}``, the 1-based index of the first key already taken and the
#: milliseconds it has left, or ``{0, 0}`` once every key is set.
_ACQUIRE = """
for i, key in ipairs(KEYS) do
    local left = redis.call('pttl', key)
    if left ~= -2 then return {i, left} end
end
for _, key in ipairs(KEYS) do redis.call('set', key, ARGV[1], 'PX', ARGV[2]) end
return {0, 0}
"""
#: Only the keys still holding this token: one that expired meanwhile may be someone else's.
_RELEASE = """
local released = 0
for _, key in ipairs(KEYS) do
    if redis.call('get', key) == ARGV[1] then
        redis.call('del', key)
        released = released + 1
    end
end
return released
"""
#: How often a lock that waits asks again (as redis-py's ``Lock`` does).
POLL_SECONDS = 0.1

_scripts: dict[int, tuple[Any, Any]] = {}


def _registered(client: redis.Redis | None = None) -> tuple[Any, Any]:
    client = client or get_redis()
    scripts = _scripts.get(id(client))
    if scripts is None:  # a Script runs EVALSHA and loads itself again after a Redis restart
        scripts = _scripts[id(client)] = (
            client.register_script(_ACQUIRE),
            client.register_script(_RELEASE),
        )
    return scripts


def busy_wait(left: float, lock_timeout: float) -> float:
    """Seconds to wait before trying a lock taken with ``lock_timeout`` again, ``left``
    seconds before it expires: twice as long as it has been held, never past its expiry. A
    young lock is a live holder's, soon released; an old one may be a killed holder's, which
    only its expiry frees."""
    held = max(0.0, lock_timeout - left)
    return max(0.0, min(left, 2 * held))


@contextmanager
def record_locks(records: Iterable[tuple[str, str]], *, wait: float = 0.0) -> Iterator[None]:
    """Hold the locks of every ``(flow, record_id)`` for the block, taken in one round trip.

    Raise ``TransientError`` naming a busy record when one is still held by another worker after
    ``wait`` seconds, or at once when it has already been held longer than ``wait`` (its
    ``retry_after``: :func:`busy_wait`, at least a second); then none is taken. Records this task
    already holds are not asked for.
    """
    pairs = {
        prefixed("lock", flow, str(record_id)): (flow, str(record_id))
        for flow, record_id in records
    }
    held = _held.get()
    names = [name for name in pairs if name not in held]
    if not names:
        yield
        return
    acquire, release = _registered()
    token = uuid.uuid4().hex
    lock_timeout = get_settings().lock_timeout
    expiry_ms = int(lock_timeout * 1000)
    deadline = time.monotonic() + wait
    while True:
        busy, left_ms = (int(x) for x in acquire(keys=names, args=[token, expiry_ms]))
        if not busy:
            break
        left = left_ms / 1000 if left_ms >= 0 else lock_timeout
        if time.monotonic() >= deadline or lock_timeout - left > wait:
            flow, record_id = pairs[names[busy - 1]]
            raise TransientError(
                f"{flow} record {record_id} is being processed by another worker",
                retry_after=max(1.0, busy_wait(left, lock_timeout)),
                details={"flow": flow, "record_id": record_id, "reason": "locked"},
            )
        time.sleep(POLL_SECONDS)
    restore = _held.set(held | set(names))
    try:
        yield
    finally:
        _held.reset(restore)
        release(keys=names, args=[token])


def compare_and_delete(key: str, value: str, client: redis.Redis | None = None) -> bool:
    """Delete ``key`` (a full key) only while it still holds ``value``: a booking or a pointer
    someone else may have replaced meanwhile. True when it was deleted."""
    return bool(_registered(client)[1](keys=[key], args=[value]))


@contextmanager
def record_lock(flow: str, record_id: str, *, wait: float = 0.0) -> Iterator[None]:
    """Hold ``lock:<flow>:<record_id>`` for the block; raise ``TransientError`` when it is taken."""
    with record_locks([(flow, record_id)], wait=wait):
        yield
