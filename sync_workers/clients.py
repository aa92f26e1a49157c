"""The connectors of this process, built once from the settings.

Tasks call :func:`acumatica` and :func:`xcart`; the clients share the process-wide Redis client
(session pool, fleet-wide limits) and are closed at worker shutdown, which signs Acumatica
sessions out.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from sync_workers.connectors.acumatica.client import AcumaticaClient
from sync_workers.connectors.config import AcumaticaConfig, XCartConfig
from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.redis_client import get_redis
from sync_workers.settings import Settings, get_settings

_lock = threading.Lock()
_clients: dict[tuple[int, str], Any] = {}


def acumatica_config(settings: Settings) -> AcumaticaConfig:
    def secret(name: str) -> str | None:
        value = getattr(settings, name, None)
        return None if value is None else str(value.reveal())

    return AcumaticaConfig(
        base_url=settings.acumatica_base_url,
        username=settings.acumatica_username or "",
        password=secret("acumatica_password") or "",
        tenant=settings.acumatica_tenant,
        branch=settings.acumatica_branch,
        endpoint_name=settings.acumatica_endpoint_name,
        endpoint_version=settings.acumatica_endpoint_version,
        auth_mode=settings.acumatica_auth_mode,
        client_id=settings.acumatica_client_id,
        client_secret=secret("acumatica_client_secret"),
        max_sessions=settings.acumatica_max_sessions,
        requests_per_minute=settings.acumatica_requests_per_minute,
        max_concurrent=settings.acumatica_max_concurrent,
        connect_timeout=settings.acumatica_connect_timeout,
        read_timeout=settings.acumatica_read_timeout,
        odata_basic_auth=settings.acumatica_odata_auth == "basic",
    )


def xcart_config(settings: Settings) -> XCartConfig:
    return XCartConfig(
        base_url=settings.xcart_base_url,
        token=str(settings.xcart_api_token.reveal()),
        requests_per_minute=settings.xcart_requests_per_minute,
        max_concurrent=settings.xcart_max_concurrent,
        connect_timeout=settings.xcart_connect_timeout,
        read_timeout=settings.xcart_read_timeout,
        tracking_endpoint=settings.xcart_tracking_endpoint,
    )


def _get(kind: str, build: Any) -> Any:
    key = (os.getpid(), kind)
    with _lock:
        client = _clients.get(key)
        if client is None:
            client = _clients[key] = build()
        return client


def acumatica() -> AcumaticaClient:
    """This process's Acumatica client."""
    settings = get_settings()
    return _get(
        "acumatica",
        lambda: AcumaticaClient(
            acumatica_config(settings),
            get_redis(),
            prefix=settings.redis_key_prefix,
            odata_in_rate_limit=settings.acumatica_odata_in_rate_limit,
        ),
    )


def xcart() -> XCartClient:
    """This process's X-Cart client."""
    settings = get_settings()
    return _get(
        "xcart",
        lambda: XCartClient(xcart_config(settings), get_redis(), prefix=settings.redis_key_prefix),
    )


def close_all() -> None:
    """Close this process's clients (signs Acumatica sessions out)."""
    with _lock:
        mine = [k for k in _clients if k[0] == os.getpid()]
        clients = [_clients.pop(k) for k in mine]
    for client in clients:
        client.close()
