"""Connector settings: small frozen dataclasses the foundation builds from its settings object.

Field names are part of the public interface (documented in ``docs/connectors.md``). Secrets are
``repr=False`` so they never reach logs, exception messages or dead-letter ``details``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

AuthMode = Literal["cookie", "oauth"]


@dataclass(frozen=True)
class AcumaticaConfig:
    """How to reach one Acumatica tenant and how gently to treat its licence.

    ``max_sessions`` caps the API sessions the whole fleet holds (shared through Redis);
    ``requests_per_minute`` and ``max_concurrent`` are fleet-wide too. ``rate_window_seconds``
    is the length of a rate "minute" (shrink it only in tests). ``session_idle_seconds`` is the
    instance's idle timeout of a cookie session (Acumatica's default: 10 minutes) and
    ``refresh_token_lifetime_seconds`` the life of an OAuth refresh chain when the token
    endpoint does not state it (Acumatica's default: 30 days); the session pool's Redis keys
    expire with them.
    """

    base_url: str
    username: str
    password: str = field(repr=False)
    tenant: str | None
    branch: str | None = None
    locale: str | None = None
    endpoint_name: str = "Default"
    endpoint_version: str = "24.200.001"
    auth_mode: AuthMode = "cookie"
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    oauth_scope: str = "api offline_access"
    max_sessions: int = 1
    requests_per_minute: int | None = None
    rate_window_seconds: int = 60
    max_concurrent: int | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 120.0
    max_wait_seconds: float = 30.0
    login_backoff_seconds: float = 30.0
    session_lease_seconds: float = 300.0
    session_idle_seconds: float = 600.0
    refresh_token_lifetime_seconds: float = 30 * 24 * 3600.0
    page_size: int = 100
    odata_basic_auth: bool = False
    action_poll_interval: float = 1.0
    action_timeout: float = 600.0
    pool_connections: int = 10

    def __post_init__(self) -> None:
        if self.auth_mode not in ("cookie", "oauth"):
            raise ValueError("auth_mode must be 'cookie' or 'oauth'")
        if self.auth_mode == "oauth" and not (self.client_id and self.client_secret):
            raise ValueError("auth_mode 'oauth' needs client_id and client_secret")
        if self.max_sessions < 1:
            raise ValueError("max_sessions must be at least 1")
        if self.session_idle_seconds <= 0 or self.refresh_token_lifetime_seconds <= 0:
            raise ValueError("session_idle_seconds and refresh_token_lifetime_seconds must be > 0")

    @property
    def limits_name(self) -> str:
        """The name of this tenant's fleet-wide limits in Redis (one per instance and tenant)."""
        return f"acumatica:{self.base_url.rstrip('/')}:{self.tenant or ''}"

    @property
    def endpoint_base(self) -> str:
        """``{base_url}/entity/{endpoint_name}/{endpoint_version}`` without a trailing slash."""
        return f"{self.base_url.rstrip('/')}/entity/{self.endpoint_name}/{self.endpoint_version}"


@dataclass(frozen=True)
class XCartConfig:
    """How to reach one X-Cart 5.5+ store.

    ``state_table_overrides`` maps the store's numeric state ids to ISO 3166-2 codes
    (``{101: "US-CA"}``); it is layered over the built-in US and Canada table.
    ``tracking_endpoint`` is true only when the store has the module that accepts
    ``POST`` on ``tracking_path`` (core X-Cart has no way to write tracking numbers).
    """

    base_url: str
    token: str = field(repr=False)
    requests_per_minute: int | None = None
    rate_window_seconds: int = 60
    max_concurrent: int | None = None
    connect_timeout: float = 5.0
    read_timeout: float = 30.0
    max_wait_seconds: float = 30.0
    tracking_endpoint: bool = False
    tracking_path: str = "/api/orders/{order_id}/tracking_numbers"
    state_table_overrides: Mapping[int, str] | None = None
    page_size: int = 100
    feature_cache_seconds: int = 3600
    pool_connections: int = 10

    def __post_init__(self) -> None:
        if not 1 <= self.page_size <= 100:
            raise ValueError("page_size must be between 1 and 100 (X-Cart caps pages at 100)")

    @property
    def limits_name(self) -> str:
        """The name of this store's fleet-wide limits in Redis."""
        return f"xcart:{self.base_url.rstrip('/')}"
