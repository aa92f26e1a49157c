"""Per-record locks in Redis, so a webhook, a poll and a replay never work one record at once.

The lock is an efficiency guard, not the correctness guarantee (that is the ledger's unique
constraints and the remote check before a create). A busy record raises ``TransientError`` so the
base task retries it later instead of blocking a worker slot: a caller may wait ``wait`` seconds
for a young lock (a live holder about to finish), but not for one already held longer than that,
and the error asks for a retry after :func:`busy_wait`.

:func:`record_locks` takes several records' locks in one round trip, all or none, and releases
them in one more: an order's task takes the order's and its payments' at once instead of one
lock per record. Locks are re-entrant within a task (a context variable holds the names taken):
a step that locks a record its task already holds goes on without asking Redis. A lock is a key
``lock:<flow>:<record_id>`` holding ``<holder>/<token>``, with an expiry (``LOCK_TIMEOUT``).

A killed holder's locks are not left until they expire. Each process that takes locks (or a
request slot, :func:`heartbeat_key`) keeps a heartbeat, ``alive:<holder>``, living
``HOLDER_SECONDS`` and renewed every fifth of that by a thread of its own. A lock whose
holder's heartbeat is gone is taken over once it has stayed gone another ``HOLDER_SECONDS``
(noted in ``gone:<holder>``): by then the holder's last request is long answered, and a holder
cut off from Redis for a moment (a Redis restart) has renewed its heartbeat. A holder cut off
for longer starts no write once its heartbeat is
``0.8 x HOLDER_SECONDS`` old (:func:`check_holding`, before each write request), well before
anyone may take its locks. A holder that died during a write leaves a write mark living as
long as that write may be in flight (``writing:<holder>``: its request slot's lease, the
connector's timeouts; :func:`write_mark`): the remote system may still carry it out, so whoever
takes the locks over sends no create again whose earlier PUT is not found until the mark would
have expired (:func:`check_no_write_in_flight`); finding what the write made, it goes on at
once. A waiter behind a holder that is alive retries within ``2 x HOLDER_SECONDS``, so a holder
killed meanwhile is found gone soon after. A lock whose value names no holder (another
client's) only expires. The request slots of the connectors' shared limits name the same
heartbeat (:func:`heartbeat_key`): a dead process's slots are free once it is gone.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
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

log = logging.getLogger(__name__)

#: Lock names this task holds (re-entrancy).
_held: ContextVar[frozenset[str]] = ContextVar("sync_workers_locks_held", default=frozenset())
#: Until when (``time.monotonic()``) a write of a gone holder whose locks this task took over
#: may still be carried out.
_inherited: ContextVar[float] = ContextVar("sync_workers_locks_inherited", default=0.0)

#: How long a holder's heartbeat lives, and how long it must have been gone before the holder's
#: locks are taken over; renewed every fifth of it.
HOLDER_SECONDS = 15.0

#: All or none. ``KEYS``: the locks; ``ARGV``: this lock's value, its expiry (ms), the prefixes
#: of heartbeats, of gone marks and of write marks, ``HOLDER_SECONDS`` in ms. ``{i, ms, beat}``
#: for the first key taken (1-based), with the ms it has left and its holder's heartbeat's ms to
#: live (``-1``: no holder named; ``-2``: gone, ``ms`` being the ms until the take-over), or
#: ``{0, ms, 0}`` once every key is set, ``ms`` being the longest a gone holder's write may still
#: be in flight (its write mark's ms to live; 0 when none).
_ACQUIRE = """
local now = redis.call('time')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local grace = tonumber(ARGV[6])
local inherited = 0
for i, key in ipairs(KEYS) do
    local value = redis.call('get', key)
    if value then
        local holder = string.match(value, '^(.+)/[^/]+$')
        if not holder then return {i, redis.call('pttl', key), -1} end
        local beat = redis.call('pttl', ARGV[3] .. holder)
        if beat ~= -2 then return {i, redis.call('pttl', key), beat} end
        local mark = ARGV[4] .. holder
        local since = tonumber(redis.call('get', mark))
        if not since then
            redis.call('set', mark, ms, 'PX', 10 * grace)
            return {i, grace, -2}
        end
        if ms - since < grace then return {i, grace - (ms - since), -2} end
        inherited = math.max(inherited, redis.call('pttl', ARGV[5] .. holder))
    end
end
for _, key in ipairs(KEYS) do redis.call('set', key, ARGV[1], 'PX', ARGV[2]) end
return {0, inherited, 0}
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


class _Heartbeat:
    """This process's holder name and the thread renewing its heartbeat (started with the
    first lock or request slot the process takes; a forked child starts its own)."""

    def __init__(self) -> None:
        self.pid = 0
        self.holder = ""
        self.guard = threading.Lock()
        #: When the last renewal that Redis acknowledged was sent (``time.monotonic()``).
        self.renewed = 0.0

    def name(self) -> str:
        with self.guard:
            if self.pid != os.getpid():
                self.pid = os.getpid()
                self.holder = f"{socket.gethostname()}:{self.pid}:{uuid.uuid4().hex[:8]}"
                threading.Thread(
                    target=self.run, args=(self.pid,), name="lock-heartbeat", daemon=True
                ).start()
                self.beat()  # the thread renews it even when this first one fails
            return self.holder

    def beat(self) -> None:
        """Renew the heartbeat, and drop a gone mark a moment without it left (one round trip)."""
        sent = time.monotonic()
        pipe = get_redis().pipeline(transaction=False)
        pipe.set(prefixed("alive", self.holder), "1", px=int(HOLDER_SECONDS * 1000))
        pipe.delete(prefixed("gone", self.holder))
        pipe.execute()
        self.renewed = sent

    def run(self, pid: int) -> None:
        while self.pid == pid:
            time.sleep(HOLDER_SECONDS / 5)
            try:
                self.beat()
            except Exception as exc:  # Redis away for a moment: the next beat tries again
                log.warning("lock heartbeat not renewed: %s", type(exc).__name__)


_heartbeat = _Heartbeat()


def heartbeat_key() -> str:
    """This process's heartbeat key (``alive:<holder>``), its renewals started if they were not:
    a request slot names it, so that a process that dies holding slots frees them once its
    heartbeat is gone instead of when their leases run out
    (:mod:`~sync_workers.connectors.limits`)."""
    return prefixed("alive", _heartbeat.name())


def write_mark() -> str | None:
    """While this task holds record locks, the key its next write request marks for as long as
    the request may be in flight (the request slot sets and removes it, in the round trips it
    makes anyway): whoever takes over a gone holder's locks learns how long the write it was
    making may still be carried out (:func:`check_no_write_in_flight`)."""
    if not _held.get() or _heartbeat.pid != os.getpid():
        return None
    return prefixed("writing", _heartbeat.holder)


def check_no_write_in_flight() -> None:
    """Refuse (``TransientError``, retried once it can no longer land) to send again a create
    whose earlier PUT was sent and is not found, while the locks this task took over were a gone
    holder's whose last write may still be carried out: that PUT may be the one in flight."""
    left = _inherited.get() - time.monotonic()
    if left > 0:
        raise TransientError(
            "the worker that held this record died during a write that may still be carried "
            f"out: nothing is sent again for {left:.0f} s",
            retry_after=max(1.0, left),
            details={"reason": "write in flight"},
        )


def check_holding() -> None:
    """Refuse to go on (``TransientError``) while this task holds record locks and its process's
    heartbeat has not been renewed for ``0.8 x HOLDER_SECONDS``: cut off from Redis, its locks
    are about to be taken over, so it must not start a write another worker may repeat. Called
    before each write request; no Redis round trip."""
    if not _held.get() or _heartbeat.pid != os.getpid():
        return
    stale = time.monotonic() - _heartbeat.renewed
    if stale > 0.8 * HOLDER_SECONDS:
        raise TransientError(
            f"the lock heartbeat was last renewed {stale:.0f} s ago: its record locks may be "
            "taken over, so no write is started",
            retry_after=HOLDER_SECONDS,
            details={"reason": "heartbeat"},
        )


def _retry_after(left: float, beat: float, lock_timeout: float) -> float:
    """Seconds until a busy lock is worth asking for again: its holder gone, the take-over's
    time; a live holder's, :func:`busy_wait` within ``2 x HOLDER_SECONDS``; another client's,
    :func:`busy_wait`."""
    if beat == -2:
        return max(1.0, left)
    wait = busy_wait(left, lock_timeout)
    if beat >= 0:
        wait = min(wait, 2 * HOLDER_SECONDS)
    return max(1.0, wait)


@contextmanager
def record_locks(records: Iterable[tuple[str, str]], *, wait: float = 0.0) -> Iterator[None]:
    """Hold the locks of every ``(flow, record_id)`` for the block, taken in one round trip.

    Raise ``TransientError`` naming a busy record when one is still held by another worker after
    ``wait`` seconds, or at once when it has already been held longer than ``wait`` or its holder
    is gone (its ``retry_after``: :func:`_retry_after`); then none is taken. A lock whose holder
    has been gone ``HOLDER_SECONDS`` is taken over. Records this task already holds are not
    asked for.
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
    token = f"{_heartbeat.name()}/{uuid.uuid4().hex}"
    lock_timeout = get_settings().lock_timeout
    args = [
        token,
        int(lock_timeout * 1000),
        prefixed("alive", ""),
        prefixed("gone", ""),
        prefixed("writing", ""),
        int(HOLDER_SECONDS * 1000),
    ]
    deadline = time.monotonic() + wait
    while True:
        busy, left_ms, beat = (int(x) for x in acquire(keys=names, args=args))
        if not busy:
            inherited = time.monotonic() + left_ms / 1000
            break
        left = left_ms / 1000 if left_ms >= 0 else lock_timeout
        if beat == -2 or time.monotonic() >= deadline or lock_timeout - left > wait:
            flow, record_id = pairs[names[busy - 1]]
            raise TransientError(
                f"{flow} record {record_id} is being processed by another worker",
                retry_after=_retry_after(left, beat, lock_timeout),
                details={"flow": flow, "record_id": record_id, "reason": "locked"},
            )
        time.sleep(POLL_SECONDS)
    restore = _held.set(held | set(names))
    restore_inherited = _inherited.set(max(_inherited.get(), inherited))
    try:
        yield
    finally:
        _inherited.reset(restore_inherited)
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
