"""One HTTP call path for both connectors: pooled session, timeouts, shared limits, error table.

:meth:`Transport.request` returns the response for a 2xx answer and raises a
:class:`~sync_workers.errors.TransientError` or :class:`~sync_workers.errors.PermanentError`
(through :mod:`sync_workers.connectors.errors`) for everything else; a raw ``requests``
exception never escapes.
"""

from __future__ import annotations

import http.cookiejar
import logging
import os
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from sync_workers.connectors.errors import RateLimited, classify_exception, classify_response
from sync_workers.connectors.limits import SharedLimits
from sync_workers.errors import TransientError

log = logging.getLogger(__name__)


_QUERY_SAFE = ",'()$"


def query_string(params: Mapping[str, Any]) -> str:
    """Encode query parameters with ``%20`` for spaces and ``%2B`` for ``+`` (never ``+``);
    ``None`` values are left out."""
    parts = []
    for key, value in params.items():
        if value is None:
            continue
        parts.append(f"{quote(key, safe='$[]')}={quote(str(value), safe=_QUERY_SAFE)}")
    return "&".join(parts)


def pooled_session(pool_connections: int = 10) -> requests.Session:
    """A session with a connection pool, no automatic retries and no cookie jar.

    Cookies are handled explicitly (the Acumatica session pool shares them through Redis), so
    the jar is told to refuse everything.
    """
    session = requests.Session()
    # The environment (proxies, CA bundle) is read once, not on every request: requests scans
    # every environment variable per request when trust_env is on (~6 % of a sync step's CPU,
    # measured with cProfile). Transport resolves the proxies once per host.
    session.trust_env = False
    session.verify = (
        os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or True
    )
    adapter = HTTPAdapter(
        pool_connections=pool_connections, pool_maxsize=pool_connections, max_retries=0
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
    return session


def read_json(response: requests.Response, system: str) -> Any:
    """The JSON body of a successful answer; a broken body is a :class:`TransientError`
    (for a write, one that was applied: the status said so)."""
    try:
        return response.json()
    except ValueError:
        method = (response.request.method or "GET").upper() if response.request else "GET"
        details: dict[str, Any] = {
            "system": system,
            "method": method,
            "url": (response.url or "").split("?")[0],
            "status": response.status_code,
            "reason": "unreadable JSON body",
        }
        if method not in ("GET", "HEAD", "OPTIONS"):
            details["maybe_applied"] = True
        raise TransientError(
            f"{system} {method} {details['url']}: answer is not JSON", details=details
        ) from None


class Transport:
    """Sends requests to one system; ``system`` names its rows in the error table."""

    def __init__(
        self,
        system: str,
        *,
        connect_timeout: float,
        read_timeout: float,
        limits: SharedLimits | None = None,
        headers: Mapping[str, str] | None = None,
        session: requests.Session | None = None,
        pool_connections: int = 10,
    ) -> None:
        self.system = system
        self.timeout = (connect_timeout, read_timeout)
        self.limits = limits
        self._headers = dict(headers or {})
        self._pool_connections = pool_connections
        self._pid = os.getpid()
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}
        self.session = session or pooled_session(pool_connections)
        self.session.headers.update(self._headers)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | str | None = None,
        json: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        limited: bool = True,
        allow_redirects: bool = False,
    ) -> requests.Response:
        """Send one request under the shared limits; raise the mapped error on failure.

        ``limited=False`` skips the limits (Acumatica's sign-out is never queued).
        """
        if limited and self.limits is not None:
            with self.limits.slot():
                response = self._send(
                    method, url, params, json, data, headers, auth, allow_redirects
                )
        else:
            response = self._send(method, url, params, json, data, headers, auth, allow_redirects)
        error = classify_response(self.system, response)
        if error is None:
            if self.limits is not None:
                self.limits.relax()
            return response
        if isinstance(error, RateLimited) and self.limits is not None:
            pause = self.limits.penalize(error.retry_after)
            error.retry_after = max(error.retry_after or 0.0, pause)
        log.debug("%s", error.message)
        raise error

    def _send(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | str | None,
        json: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        allow_redirects: bool,
    ) -> requests.Response:
        if os.getpid() != self._pid:  # forked: never share pooled sockets with the parent
            self._pid = os.getpid()
            self.session = pooled_session(self._pool_connections)
            self.session.headers.update(self._headers)
        try:
            return self.session.request(
                method,
                url,
                proxies=self.proxies_for(url),
                params=params,
                json=json,
                data=data,
                headers=dict(headers or {}),
                auth=auth,
                timeout=self.timeout,
                allow_redirects=allow_redirects,
            )
        except requests.RequestException as exc:
            raise classify_exception(self.system, exc, method, url) from exc

    def proxies_for(self, url: str) -> dict[str, str]:
        """``HTTP(S)_PROXY`` / ``NO_PROXY`` for this URL's host, read once per host."""
        host = urlsplit(url)[:2]
        found = self._proxies.get(host)
        if found is None:
            found = self._proxies[host] = dict(requests.utils.get_environ_proxies(url))
        return found

    def close(self) -> None:
        self.session.close()
