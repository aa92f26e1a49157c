"""Sign-in: cookie sessions, OAuth 2.0 tokens, Basic auth for OData, and the seat limit.

Every cookie session and every OAuth grant holds one API seat until it signs out or stays
idle longer than the idle timeout. Basic-auth OData requests hold no seat: Acumatica treats the
basic authentication used for OData as the sign-in of a conventional user, counted against the
licence's Concurrent Users, not its API users ("DAC-Based OData: General Information"). The
sandbox counts such users apart (:attr:`Auth.users_in_use`, one per user name seen within the
idle timeout; how long a real instance keeps a Basic-auth sign-in alive is not documented).
Sessions live in memory: a restart signs everybody out, as an application-pool recycle does.
"""

from __future__ import annotations

import base64
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

USER = "admin"
PASSWORD = "sandbox"
TENANT = "Company"
CLIENT_SECRET = "sandbox"
TOKEN_LIFETIME = 3600
REFRESH_LIFETIME = 30 * 24 * 3600


class LoginLimit(Exception):
    """No API seat is free."""


class InvalidCredentials(Exception):
    pass


class InvalidGrant(Exception):
    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


@dataclass
class Session:
    key: str
    user: str
    tenant: str
    kind: str  # "cookie" or "oauth"
    last_seen: float
    session_id: str = ""
    scope: str = ""
    access_tokens: dict[str, float] = field(default_factory=dict)
    refresh_token: str | None = None
    refresh_expires: float = 0.0
    branch: str | None = None  # the branch given at sign-in (None: the default branch)


class Auth:
    """Thread-safe registry of sessions and seats."""

    def __init__(
        self,
        *,
        max_sessions: Callable[[], int],
        idle_timeout: Callable[[], float],
        on_change: Callable[[str], None] | None = None,
        token_lifetime: Callable[[], float] = lambda: TOKEN_LIFETIME,
    ) -> None:
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}
        self._by_cookie: dict[str, str] = {}
        self._by_token: dict[str, str] = {}
        self._by_refresh: dict[str, str] = {}
        self._max_sessions = max_sessions
        self._idle_timeout = idle_timeout
        self._on_change = on_change or (lambda _event: None)
        self.peak_sessions = 0
        self._token_lifetime = token_lifetime
        # Conventional (non-API) users signed in with Basic auth for OData: name -> last seen.
        self._users: dict[str, float] = {}
        self.peak_users = 0
        self.basic_requests = 0

    # --- credentials -----------------------------------------------------------------------

    @staticmethod
    def check_credentials(user: str | None, password: str | None, tenant: str | None) -> bool:
        if tenant and tenant.lower() != TENANT.lower():
            return False
        return (user or "").lower() == USER and password == PASSWORD

    def basic_auth_ok(self, header: str | None) -> bool:
        if not header or not header.lower().startswith("basic "):
            return False
        try:
            decoded = base64.b64decode(header[6:].strip()).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            return False
        user, _, password = decoded.partition(":")
        name, _, tenant = user.partition("@")
        if not self.check_credentials(name, password, tenant or None):
            return False
        self._user_signed_in(name.lower())
        return True

    def _user_signed_in(self, name: str) -> None:
        now = time.monotonic()
        with self._lock:
            self.basic_requests += 1
            self._users[name] = now
            self._expire_users_locked(now)
            self.peak_users = max(self.peak_users, len(self._users))

    def _expire_users_locked(self, now: float) -> None:
        idle = self._idle_timeout()
        for name, seen in list(self._users.items()):
            if now - seen > idle:
                del self._users[name]

    @property
    def users_in_use(self) -> int:
        """Conventional users signed in with Basic auth (OData), never API seats."""
        with self._lock:
            self._expire_users_locked(time.monotonic())
            return len(self._users)

    # --- seats -----------------------------------------------------------------------------

    def _expire_locked(self, now: float) -> None:
        idle = self._idle_timeout()
        for key, session in list(self._sessions.items()):
            dead_tokens = [t for t, exp in session.access_tokens.items() if exp <= now]
            for token in dead_tokens:
                session.access_tokens.pop(token, None)
                self._by_token.pop(token, None)
            idle_out = now - session.last_seen > idle
            oauth_dead = (
                session.kind == "oauth"
                and not session.access_tokens
                and (session.refresh_token is None or session.refresh_expires <= now)
            )
            if idle_out or oauth_dead:
                self._drop_locked(key)
                self._on_change("expired")

    def _drop_locked(self, key: str) -> None:
        session = self._sessions.pop(key, None)
        if session is None:
            return
        self._by_cookie = {c: k for c, k in self._by_cookie.items() if k != key}
        for token in session.access_tokens:
            self._by_token.pop(token, None)
        if session.refresh_token:
            self._by_refresh.pop(session.refresh_token, None)

    def _take_seat_locked(self, now: float) -> None:
        self._expire_locked(now)
        if len(self._sessions) >= self._max_sessions():
            self._on_change("login_limit")
            raise LoginLimit("API Login Limit")

    def _register_locked(self, session: Session) -> None:
        self._sessions[session.key] = session
        self.peak_sessions = max(self.peak_sessions, len(self._sessions))

    @property
    def sessions_in_use(self) -> int:
        with self._lock:
            self._expire_locked(time.monotonic())
            return len(self._sessions)

    # --- cookie sessions -------------------------------------------------------------------

    def login(self, user: str, tenant: str, branch: str | None = None) -> tuple[str, str]:
        """Open a cookie session; returns (.ASPXAUTH value, ASP.NET_SessionId value)."""
        now = time.monotonic()
        with self._lock:
            self._take_seat_locked(now)
            auth = secrets.token_hex(64).upper()
            session_id = "".join(
                secrets.choice("abcdefghijklmnopqrstuvwxyz012345") for _ in range(24)
            )
            key = secrets.token_hex(8)
            self._register_locked(
                Session(key, user, tenant, "cookie", now, session_id=session_id, branch=branch)
            )
            self._by_cookie[auth] = key
        self._on_change("login")
        return auth, session_id

    def session_for_cookie(self, auth_cookie: str | None) -> Session | None:
        if not auth_cookie:
            return None
        now = time.monotonic()
        with self._lock:
            self._expire_locked(now)
            key = self._by_cookie.get(auth_cookie)
            session = self._sessions.get(key) if key else None
            if session is not None:
                session.last_seen = now
            return session

    def session_for_bearer(self, header: str | None) -> Session | None:
        if not header or not header.lower().startswith("bearer "):
            return None
        token = header[7:].strip()
        now = time.monotonic()
        with self._lock:
            self._expire_locked(now)
            key = self._by_token.get(token)
            session = self._sessions.get(key) if key else None
            if session is not None:
                session.last_seen = now
            return session

    def logout(self, session: Session | None) -> None:
        if session is None:
            return
        with self._lock:
            self._drop_locked(session.key)
        self._on_change("logout")

    def clear(self) -> None:
        with self._lock:
            self._sessions.clear()
            self._by_cookie.clear()
            self._by_token.clear()
            self._by_refresh.clear()
            self.peak_sessions = 0
            self._users.clear()
            self.peak_users = 0
            self.basic_requests = 0

    # --- OAuth 2.0 -------------------------------------------------------------------------

    def password_grant(self, user: str, scope: str) -> dict[str, object]:
        now = time.monotonic()
        with self._lock:
            self._take_seat_locked(now)
            session = Session(secrets.token_hex(8), user, TENANT, "oauth", now, scope=scope)
            self._register_locked(session)
            answer = self._issue_locked(session, now)
        self._on_change("login")
        return answer

    def refresh_grant(self, refresh_token: str) -> dict[str, object]:
        now = time.monotonic()
        with self._lock:
            self._expire_locked(now)
            key = self._by_refresh.pop(refresh_token, None)
            session = self._sessions.get(key) if key else None
            if session is None or session.refresh_expires <= now:
                raise InvalidGrant("invalid_grant", "The refresh token is invalid or expired.")
            session.last_seen = now
            return self._issue_locked(session, now, rotate_only=True)

    def _issue_locked(
        self, session: Session, now: float, *, rotate_only: bool = False
    ) -> dict[str, object]:
        token = secrets.token_urlsafe(32)
        lifetime = self._token_lifetime()
        session.access_tokens[token] = now + lifetime
        self._by_token[token] = session.key
        answer: dict[str, object] = {
            "access_token": token,
            "expires_in": int(lifetime) if float(lifetime).is_integer() else lifetime,
            "token_type": "Bearer",
            "scope": session.scope,
        }
        if "offline_access" in session.scope.split():
            refresh = secrets.token_urlsafe(32)
            session.refresh_token = refresh
            if not rotate_only or not session.refresh_expires:
                session.refresh_expires = now + REFRESH_LIFETIME
            self._by_refresh[refresh] = session.key
            answer["refresh_token"] = refresh
        return answer
