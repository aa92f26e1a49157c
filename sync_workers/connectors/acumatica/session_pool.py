"""One pool of Acumatica API sessions for the whole fleet, shared through Redis.

The licence caps sessions (the trial has 2 seats), so every worker process on every machine
shares at most ``max_sessions`` of them:

* seat ``i`` is a Redis hash holding the session's credential (cookies or OAuth token, a
  secret) and a generation number; any number of processes use a seat at the same time;
* a seat's key expires when its session does: a cookie session ``session_idle_seconds`` after
  the fleet last used it (each process pushes the expiry forward while it works), an OAuth
  credential when both its access token and its refresh chain have ended. A process that has
  not used its session for the idle timeout reads the seat again instead of reusing it, so a
  session past its lifetime is never sent: the next request logs in afresh;
* a process registers a lease on the seats it uses (a sorted set scored by expiry), renewed
  while it works; a process that dies simply lets its lease expire;
* when a request answers 401 the caller calls :meth:`SessionPool.renew` with the stale lease:
  under the seat's Redis lock, the first process logs in again and bumps the generation, the
  others see the new generation and reuse the new credential (one login per expiry);
* "API Login Limit" sets a shared, growing back-off: no process tries to log in again before
  it ends, and callers get a :class:`LoginLimitReached` (transient) with ``retry_after``;
* :meth:`SessionPool.close` (also run at exit) drops this process's leases; the last user of a
  seat signs the session out, freeing the licence seat.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import json
import logging
import os
import time
import weakref
from dataclasses import dataclass, field

import redis

from sync_workers.connectors.acumatica import auth
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import LoginLimitReached
from sync_workers.connectors.http import Transport
from sync_workers.connectors.limits import process_token
from sync_workers.errors import TransientError

log = logging.getLogger(__name__)

_LOGIN_BACKOFF_CAP = 600.0


@dataclass(frozen=True)
class Lease:
    """A seat this process may use; ``generation`` identifies the login behind it."""

    seat: int
    generation: int
    credential: auth.Credential = field(repr=False)

    @property
    def headers(self) -> dict[str, str]:
        return auth.headers_for(self.credential)


class SessionPool:
    def __init__(
        self,
        config: AcumaticaConfig,
        client: redis.Redis,
        transport: Transport,
        *,
        prefix: str = "sync:",
        register_atexit: bool = True,
    ) -> None:
        self.config = config
        self._redis = client
        self._transport = transport
        scope = "|".join(
            (config.base_url.rstrip("/"), config.tenant or "", config.username, config.auth_mode)
        )
        digest = hashlib.sha256(scope.encode()).hexdigest()[:12]
        self._base = f"{prefix}acumatica:{digest}"
        self._token = process_token()
        self._pid = os.getpid()
        self._lease: Lease | None = None
        self._lease_used_at = 0.0
        self._lease_renewed_at = 0.0
        self._seats_used: set[int] = set()
        self._lock_timeout = config.connect_timeout + config.read_timeout + 10.0
        if register_atexit:
            ref = weakref.WeakMethod(self.close)
            atexit.register(lambda: (method := ref()) and method())

    # Redis keys -------------------------------------------------------------------------------
    def _seat_key(self, seat: int) -> str:
        return f"{self._base}:seat:{seat}"

    def _users_key(self, seat: int) -> str:
        return f"{self._base}:seat:{seat}:users"

    @property
    def _backoff_key(self) -> str:
        return f"{self._base}:login_backoff"

    @property
    def _generation_key(self) -> str:
        # Outlives the seats' keys, so a login after an expiry never reuses a generation.
        return f"{self._base}:generation"

    # Lifetimes --------------------------------------------------------------------------------
    @property
    def _touch_every(self) -> float:
        """How often a working process renews its lease and, for a cookie session, the expiry
        of the seat's key."""
        every = self.config.session_lease_seconds / 2
        if self.config.auth_mode == "cookie":
            every = min(every, self.config.session_idle_seconds / 10)
        return every

    @property
    def _idle_ttl_ms(self) -> int:
        """A cookie session's key outlives the session's last use by the idle timeout, plus the
        renewal interval, since the uses between two renewals do not push the key's expiry."""
        return int((self.config.session_idle_seconds + self._touch_every) * 1000)

    def _seat_ttl_ms(self, credential: auth.Credential) -> int:
        """How long a seat's key lives from now: an OAuth credential's ends with its tokens."""
        until = auth.usable_until(credential)
        if until is None:
            return self._idle_ttl_ms
        return max(1, int((until - time.time()) * 1000))

    def _outlived(self) -> bool:
        """This process has not used its cookie session for the idle timeout: the instance may
        have closed it, and only the seat's key (renewed by the processes that did use it)
        tells."""
        return (
            self.config.auth_mode == "cookie"
            and time.time() - self._lease_used_at >= self.config.session_idle_seconds
        )

    # Public -----------------------------------------------------------------------------------
    def acquire(self) -> Lease:
        """The lease to send the next request with (logging in only if no seat has a session)."""
        self._after_fork()
        lease = self._lease
        if lease is not None and self._outlived():
            self._lease = lease = None
        if lease is not None:
            self._lease_used_at = time.time()
            self._touch(lease.seat)
            if self.config.auth_mode == "oauth" and auth.needs_refresh(lease.credential):
                return self.renew(lease)
            return lease
        seat = self._choose_seat()
        self._touch(seat, force=True)
        stored = self._read(seat)
        if stored is None:
            return self._login_into(seat, stale=None)
        self._hold(stored)
        return self.acquire()

    def renew(self, stale: Lease) -> Lease:
        """A working lease after ``stale`` was refused (401) or its token is about to expire."""
        self._after_fork()
        return self._login_into(stale.seat, stale=stale)

    def close(self) -> None:
        """Drop this process's leases; sign out sessions nobody else uses any more."""
        try:
            self._close_seats()
        except redis.RedisError as exc:  # at exit Redis may already be gone
            log.warning("acumatica session pool not released: %s", type(exc).__name__)
        self._seats_used.clear()
        self._lease = None

    def _close_seats(self) -> None:
        for seat in sorted(self._seats_used):
            self._redis.zrem(self._users_key(seat), self._token)
            lock = self._redis.lock(
                f"{self._seat_key(seat)}:lock", timeout=self._lock_timeout, blocking_timeout=10
            )
            if not lock.acquire():
                continue
            try:
                if self._live_users(seat) == 0:
                    stored = self._read(seat)
                    if stored is not None:
                        auth.logout(self._transport, self.config, stored.credential)
                        self._redis.delete(self._seat_key(seat))
            finally:
                _release(lock)

    # Internals --------------------------------------------------------------------------------
    def _after_fork(self) -> None:
        """A forked child is a new fleet member: its own name, no inherited leases."""
        if os.getpid() != self._pid:
            self._pid = os.getpid()
            self._token = process_token()
            self._lease = None
            self._lease_used_at = 0.0
            self._lease_renewed_at = 0.0
            self._seats_used = set()

    def _choose_seat(self) -> int:
        """The seat with the fewest live users (on a tie, one that already has a session)."""
        now_ms = int(time.time() * 1000)
        pipe = self._redis.pipeline()
        for seat in range(self.config.max_sessions):
            pipe.zcount(self._users_key(seat), now_ms, "+inf")
            pipe.hexists(self._seat_key(seat), "credential")
        answers = pipe.execute()
        ranked = sorted(
            (int(answers[2 * seat]), 0 if answers[2 * seat + 1] else 1, seat)
            for seat in range(self.config.max_sessions)
        )
        return ranked[0][2]

    def _hold(self, lease: Lease) -> None:
        self._lease = lease
        self._lease_used_at = time.time()

    def _touch(self, seat: int, force: bool = False) -> None:
        lease_seconds = self.config.session_lease_seconds
        now = time.time()
        if not force and now - self._lease_renewed_at < self._touch_every:
            return
        pipe = self._redis.pipeline(transaction=False)
        pipe.zadd(self._users_key(seat), {self._token: int((now + lease_seconds) * 1000)})
        pipe.pexpire(self._users_key(seat), int(lease_seconds * 2000))
        if self.config.auth_mode == "cookie":
            # The instance keeps a cookie session open while it is used; so does its key. A
            # seat without a session has no key, and PEXPIRE leaves it so.
            pipe.pexpire(self._seat_key(seat), self._idle_ttl_ms)
        pipe.execute()
        self._lease_renewed_at = now
        self._seats_used.add(seat)

    def _live_users(self, seat: int) -> int:
        now_ms = int(time.time() * 1000)
        self._redis.zremrangebyscore(self._users_key(seat), "-inf", now_ms)
        return int(self._redis.zcard(self._users_key(seat)))

    def _read(self, seat: int) -> Lease | None:
        raw = self._redis.hgetall(self._seat_key(seat))
        if not raw:
            return None
        values = {_text(k): _text(v) for k, v in raw.items()}
        if "credential" not in values:
            return None
        return Lease(seat, int(values.get("gen", 0)), json.loads(values["credential"]))

    def _login_into(self, seat: int, stale: Lease | None) -> Lease:
        lock = self._redis.lock(
            f"{self._seat_key(seat)}:lock",
            timeout=self._lock_timeout,
            blocking_timeout=self._lock_timeout,
        )
        if not lock.acquire():
            raise TransientError(
                "acumatica: another process is still logging in",
                retry_after=1.0,
                details={"system": "acumatica", "reason": "login lock busy"},
            )
        try:
            current = self._read(seat)
            fresh = current is not None and (
                stale is None or current.generation != stale.generation
            )
            if (
                fresh
                and current is not None
                and not (
                    self.config.auth_mode == "oauth" and auth.needs_refresh(current.credential)
                )
            ):
                self._hold(current)
                return current
            self._check_backoff()
            if current is not None and self.config.auth_mode == "cookie":
                # Usually already dead (401), but a session refused for another reason would
                # otherwise keep its seat while we open a second one.
                auth.logout(self._transport, self.config, current.credential)
            try:
                credential = auth.renew(
                    self._transport, self.config, current.credential if current else None
                )
            except LoginLimitReached as exc:
                exc.retry_after = self._start_backoff()
                raise
            generation = self._next_generation(current)
            store = self._redis.pipeline(transaction=True)
            store.hset(
                self._seat_key(seat),
                mapping={"credential": json.dumps(credential), "gen": generation},
            )
            store.pexpire(self._seat_key(seat), self._seat_ttl_ms(credential))
            store.delete(f"{self._backoff_key}:strikes")
            store.execute()
            log.info("acumatica session opened on seat %s (generation %s)", seat, generation)
            lease = Lease(seat, generation, credential)
            self._hold(lease)
            self._touch(seat, force=True)
            return lease
        finally:
            _release(lock)

    def _next_generation(self, current: Lease | None) -> int:
        """A generation this seat has not had: the fleet-wide counter, moved past the seat's
        current generation should the counter ever be behind it."""
        generation = int(self._redis.incr(self._generation_key))
        if current is not None and generation <= current.generation:
            generation = current.generation + 1
            self._redis.set(self._generation_key, generation)
        return generation

    def _check_backoff(self) -> None:
        remaining = self._redis.pttl(self._backoff_key)
        if remaining and remaining > 0:
            raise LoginLimitReached(
                "acumatica: API Login Limit, waiting before the next login",
                retry_after=remaining / 1000,
                details={"system": "acumatica", "reason": "login back-off"},
            )

    def _start_backoff(self) -> float:
        strikes = int(self._redis.incr(f"{self._backoff_key}:strikes"))
        self._redis.expire(f"{self._backoff_key}:strikes", int(_LOGIN_BACKOFF_CAP * 2))
        delay = min(self.config.login_backoff_seconds * 2 ** (strikes - 1), _LOGIN_BACKOFF_CAP)
        self._redis.set(self._backoff_key, "1", px=max(1, int(delay * 1000)))
        log.warning("acumatica API Login Limit: no login for %.0f s", delay)
        return delay


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _release(lock: redis.lock.Lock) -> None:
    # The lock may have expired while held; another process may already own it.
    with contextlib.suppress(redis.exceptions.LockError):
        lock.release()
