"""Console sessions, CSRF tokens and sign-in throttling, kept in Redis.

A session is a random token in an HttpOnly cookie; Redis holds, under the token's SHA-256 (so
a Redis dump holds no usable cookie), the user's name and the session's CSRF token, for
``IDLE_SECONDS`` after its last use. Every gunicorn worker and every replica shares them; a
sign-out deletes the key. The role is read from ``CONSOLE_USERS`` on every request, so a user
removed or demoted there loses their rights at the console's next start.

Failed sign-ins are counted per name and client address: ``MAX_FAILURES`` within
``FAILURE_WINDOW_SECONDS`` refuse further attempts until the window ends.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from dataclasses import dataclass

import redis

COOKIE = "sync_console"
#: The sign-in form's own CSRF token (a double-submit cookie: there is no session yet).
SIGNIN_COOKIE = "sync_console_signin"
IDLE_SECONDS = 8 * 3600
MAX_FAILURES = 10
FAILURE_WINDOW_SECONDS = 900


@dataclass(frozen=True)
class Session:
    token: str
    user: str
    csrf: str
    signed_in_at: float


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class SessionStore:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.redis = client
        self.prefix = prefix

    def _key(self, *parts: str) -> str:
        return self.prefix + "console:" + ":".join(parts)

    def create(self, user: str) -> Session:
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(32), time.time())
        value = json.dumps({"user": user, "csrf": session.csrf, "at": session.signed_in_at})
        self.redis.set(self._key("session", hash_token(session.token)), value, ex=IDLE_SECONDS)
        return session

    def get(self, token: str | None) -> Session | None:
        """The session of ``token``, its idle time restarted; None when unknown or expired."""
        if not token or len(token) > 100:
            return None
        raw = self.redis.getex(self._key("session", hash_token(token)), ex=IDLE_SECONDS)
        if raw is None:
            return None
        data = json.loads(raw)
        return Session(token, str(data["user"]), str(data["csrf"]), float(data["at"]))

    def delete(self, token: str) -> None:
        self.redis.delete(self._key("session", hash_token(token)))

    # -- sign-in throttling ------------------------------------------------------------------

    def _failures_key(self, name: str, address: str) -> str:
        return self._key("signin-failures", hash_token(f"{name}\x00{address}"))

    def throttled(self, name: str, address: str) -> bool:
        count = self.redis.get(self._failures_key(name, address))
        return count is not None and int(count) >= MAX_FAILURES

    def failed(self, name: str, address: str) -> None:
        key = self._failures_key(name, address)
        pipe = self.redis.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, FAILURE_WINDOW_SECONDS, nx=True)
        pipe.execute()

    def succeeded(self, name: str, address: str) -> None:
        self.redis.delete(self._failures_key(name, address))


def same(expected: str | None, given: str | None) -> bool:
    """Constant-time comparison of two tokens; False when either is missing."""
    if not expected or not given:
        return False
    return secrets.compare_digest(expected.encode("utf-8"), given.encode("utf-8"))
