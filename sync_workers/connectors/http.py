"""One HTTP call path for both connectors: pooled session, timeouts, shared limits, error table.

:meth:`Transport.request` returns the response for a 2xx answer and raises a
:class:`~sync_workers.errors.TransientError` or :class:`~sync_workers.errors.PermanentError`
(through :mod:`sync_workers.connectors.errors`) for everything else; a raw ``requests``
exception never escapes.

A failed read (``GET``/``HEAD``) is tried again in place, at most ``read_retries`` times
(``HTTP_READ_RETRIES``), when the failure is likely to pass within a second: a 429, 500, 502, 503
or 504 answer, or a connection refused or reset before any answer. Each attempt takes its own
slot in the shared limits. Writes are never repeated here (the tasks handle them exactly once);
timeouts (slow by nature), expired sessions and the licence seat limit are left to the
task-level retry and to the Acumatica client, and so is any wait longer than
``MAX_IN_PLACE_WAIT``.
"""

from __future__ import annotations

import http.cookiejar
import logging
import os
import random
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter

from sync_workers.connectors.errors import (
    LoginLimitReached,
    RateLimited,
    SessionExpired,
    classify_exception,
    classify_response,
)
from sync_workers.connectors.limits import SharedLimits
from sync_workers.errors import TransientError
from sync_workers.locks import check_holding, heartbeat_key, write_mark

log = logging.getLogger(__name__)

#: Methods repeated in place after a transient failure: reads only, never writes.
RETRIED_METHODS = frozenset({"GET", "HEAD"})
#: Answers worth another try in place.
RETRIED_STATUSES = frozenset({429, 500, 502, 503, 504})
#: Delay before in-place retry n (0, 1, ...): uniform in [d/2, d], d = RETRY_DELAY * 2**n.
RETRY_DELAY = 0.2
#: A ``retry_after`` longer than this is not waited out in place: the error goes to the task,
#: whose retry has a longer backoff and does not hold a worker.
MAX_IN_PLACE_WAIT = 2.0


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
        read_retries: int | None = None,
    ) -> None:
        """``read_retries`` (extra attempts of a failed read) defaults to ``HTTP_READ_RETRIES``."""
        self.system = system
        self.timeout = (connect_timeout, read_timeout)
        self.limits = limits
        self._headers = dict(headers or {})
        self._pool_connections = pool_connections
        self._pid = os.getpid()
        self._proxies: dict[tuple[str, str], dict[str, str]] = {}
        self.session = session or pooled_session(pool_connections)
        self.session.headers.update(self._headers)
        self.read_retries = _configured_read_retries() if read_retries is None else read_retries

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
        count: tuple[str, str] | None = None,
        writes: bool | None = None,
    ) -> requests.Response:
        """Send one request under the shared limits; raise the mapped error on failure.

        ``limited=False`` skips the limits (Acumatica's sign-out is never queued). ``count``: a
        Redis hash and field incremented for each attempt sent under the limits, in the round
        trip that takes its slot (nothing is counted without them). ``writes``: whether the
        request changes data, as record locks see it (:func:`check_holding`,
        :func:`write_mark`); by default any method but ``GET`` (a sign-in is sent with
        ``False``). A failed
        ``GET``/``HEAD`` may be sent again first (see the module's docstring); the error of the
        last attempt is the one raised.
        """
        retries = self.read_retries if method.upper() in RETRIED_METHODS else 0
        attempt = 0
        while True:
            try:
                return self._attempt(
                    method,
                    url,
                    params,
                    json,
                    data,
                    headers,
                    auth,
                    limited,
                    allow_redirects,
                    count,
                    method.upper() != "GET" if writes is None else writes,
                )
            except TransientError as error:
                if attempt >= retries:
                    raise
                wait = _in_place_wait(error, attempt)
                if wait is None:
                    raise
                attempt += 1
                log.info(
                    "%s %s %s failed (%s); retry %d of %d in %.2f s",
                    self.system,
                    method.upper(),
                    urlsplit(url).path,
                    error.details.get("status") or error.details.get("reason", "error"),
                    attempt,
                    retries,
                    wait,
                )
                time.sleep(wait)

    def _attempt(
        self,
        method: str,
        url: str,
        params: Mapping[str, Any] | str | None,
        json: Any,
        data: Any,
        headers: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
        limited: bool,
        allow_redirects: bool,
        count: tuple[str, str] | None,
        writes: bool,
    ) -> requests.Response:
        writing = None
        if writes:
            check_holding()
            writing = write_mark()
        if limited and self.limits is not None:
            with self.limits.slot(count, writing, heartbeat_key()):
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


def _configured_read_retries() -> int:
    from sync_workers.settings import get_settings

    return int(get_settings().http_read_retries)


def _in_place_wait(error: TransientError, attempt: int) -> float | None:
    """Seconds to wait before trying a failed read again in place, or ``None`` for "do not"."""
    if isinstance(error, (SessionExpired, LoginLimitReached)):
        return None  # the Acumatica client re-logs in; the session pool backs off the seat limit
    status = error.details.get("status")
    if status is not None:
        if status not in RETRIED_STATUSES:
            return None
    elif not _refused_or_reset(error.__cause__):
        return None  # read timeouts, broken bodies, the shared limiter's own refusals
    if error.retry_after is not None:
        return error.retry_after if error.retry_after <= MAX_IN_PLACE_WAIT else None
    longest = RETRY_DELAY * 2**attempt
    return random.uniform(longest / 2, longest)


def _refused_or_reset(exc: BaseException | None) -> bool:
    """A connection that failed before any answer came (not a timeout: those take long)."""
    return isinstance(exc, requests.ConnectionError) and not isinstance(exc, requests.Timeout)
