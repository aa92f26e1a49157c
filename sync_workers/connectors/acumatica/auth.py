"""Signing in and out of Acumatica: cookie login, OAuth 2.0 tokens, sign-out.

A credential is a small JSON-safe dict kept in Redis by the session pool: ``{"cookies": {...}}``
for a cookie session or ``{"access_token", "refresh_token", "expires_at", "refresh_expires_at"}``
for OAuth (times in epoch seconds). It is a secret: never logged, never put in an error.

Lifetimes: a cookie session lives while it is used and closes after the instance's idle timeout
(``AcumaticaConfig.session_idle_seconds``). An access token lives ``expires_in`` seconds (one hour
when the token endpoint does not say). A refresh chain ends ``refresh_token_expires_in`` seconds
after a token answer that states it; otherwise ``refresh_token_lifetime_seconds`` after its first
token (Acumatica's default: 30 days from the first issue, not extended by refreshes).
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any

from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import AuthError, LoginLimitReached, ValidationFailed
from sync_workers.connectors.http import Transport
from sync_workers.errors import TransientError

Credential = dict[str, Any]

#: An access token's lifetime when the token endpoint does not state ``expires_in``.
ACCESS_TOKEN_SECONDS = 3600.0


def headers_for(credential: Credential) -> dict[str, str]:
    """The request headers that present ``credential``."""
    if "access_token" in credential:
        return {"Authorization": f"Bearer {credential['access_token']}"}
    cookies = credential.get("cookies", {})
    return {"Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def login(transport: Transport, config: AcumaticaConfig) -> Credential:
    """Open one API session (one licence seat)."""
    if config.auth_mode == "oauth":
        return _token(transport, config, _password_grant(config))
    body: dict[str, Any] = {"name": config.username, "password": config.password}
    for key, value in (
        ("tenant", config.tenant),
        ("branch", config.branch),
        ("locale", config.locale),
    ):
        if value:
            body[key] = value
    url = f"{config.base_url.rstrip('/')}/entity/auth/login"
    response = transport.request("POST", url, json=body, writes=False)
    cookies = {cookie.name: cookie.value for cookie in response.cookies}
    if not cookies:
        raise TransientError(
            "acumatica login answered without session cookies",
            details={"system": "acumatica", "status": response.status_code},
        )
    return {"cookies": cookies}


def renew(transport: Transport, config: AcumaticaConfig, stale: Credential | None) -> Credential:
    """A fresh credential after expiry: an OAuth refresh when possible, else a new login."""
    if config.auth_mode == "oauth" and stale and _refreshable(stale):
        try:
            return refresh(transport, config, stale)
        except (AuthError, ValidationFailed):
            pass  # refresh chain expired: fall back to the password grant
    return login(transport, config)


def refresh(transport: Transport, config: AcumaticaConfig, credential: Credential) -> Credential:
    """A new OAuth credential from ``credential``'s refresh token (the refresh grant only: no
    fall-back to the password grant, so a refused refresh raises)."""
    form = {
        "grant_type": "refresh_token",
        "refresh_token": credential.get("refresh_token") or "",
        "client_id": config.client_id or "",
        "client_secret": config.client_secret or "",
    }
    return _token(transport, config, form, chain_ends_at=credential.get("refresh_expires_at"))


def logout(transport: Transport, config: AcumaticaConfig, credential: Credential) -> None:
    """Close the session; failures are ignored (the session times out by itself)."""
    url = f"{config.base_url.rstrip('/')}/entity/auth/logout"
    with contextlib.suppress(Exception):  # sign-out must never break shutdown
        transport.request("POST", url, headers=headers_for(credential), limited=False, writes=False)


def needs_refresh(credential: Credential, margin: float = 60.0) -> bool:
    """True when an OAuth access token expires within ``margin`` seconds."""
    expires_at = credential.get("expires_at")
    return expires_at is not None and float(expires_at) - margin <= time.time()


def usable_until(credential: Credential) -> float | None:
    """When an OAuth credential is of no more use: the later of its access token's expiry and
    its refresh chain's end (epoch seconds). ``None`` for a cookie session, which lives as long
    as it keeps being used."""
    if "access_token" not in credential:
        return None
    return max(
        float(credential.get("expires_at") or 0.0),
        float(credential.get("refresh_expires_at") or 0.0),
    )


def _refreshable(credential: Credential) -> bool:
    ends_at = credential.get("refresh_expires_at")
    return bool(credential.get("refresh_token")) and (
        ends_at is None or float(ends_at) > time.time()
    )


def _seconds(value: Any) -> float | None:
    """A positive, finite number of seconds from a token answer, else ``None``."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _password_grant(config: AcumaticaConfig) -> dict[str, str]:
    return {
        "grant_type": "password",
        "username": config.username,
        "password": config.password,
        "client_id": config.client_id or "",
        "client_secret": config.client_secret or "",
        "scope": config.oauth_scope,
    }


def _token(
    transport: Transport,
    config: AcumaticaConfig,
    form: dict[str, str],
    *,
    chain_ends_at: float | None = None,
) -> Credential:
    """Ask the token endpoint; ``chain_ends_at`` is when the refresh chain being continued ends."""
    url = f"{config.base_url.rstrip('/')}/identity/connect/token"
    response = transport.request("POST", url, data=form, writes=False)
    try:
        payload = response.json()
        access = payload["access_token"]
    except (ValueError, KeyError, TypeError):
        if "API Login Limit" in response.text:
            raise LoginLimitReached("acumatica: API Login Limit on token request") from None
        raise TransientError(
            "acumatica token endpoint answered without a token",
            details={"system": "acumatica", "status": response.status_code},
        ) from None
    now = time.time()
    credential: Credential = {
        "access_token": access,
        "refresh_token": payload.get("refresh_token"),
        "expires_at": now + (_seconds(payload.get("expires_in")) or ACCESS_TOKEN_SECONDS),
    }
    if credential["refresh_token"]:
        stated = _seconds(payload.get("refresh_token_expires_in"))
        if stated is not None:
            credential["refresh_expires_at"] = now + stated
        elif chain_ends_at is not None:
            credential["refresh_expires_at"] = float(chain_ends_at)
        else:
            credential["refresh_expires_at"] = now + config.refresh_token_lifetime_seconds
    return credential
