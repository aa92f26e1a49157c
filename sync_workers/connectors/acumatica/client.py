"""Acumatica contract-based REST client.

Records go in and come out as plain dicts (see :mod:`.wrapping`); filters are
:class:`~.filters.Expr` objects, never strings. Every call goes through the fleet's session
pool and shared limits, re-logs in once on a 401, and raises only the engine's error classes.
Its :attr:`AcumaticaClient.odata` reads the OData services under the same shared limits but
outside the session pool (see :mod:`.odata`); :class:`RequestCounter` counts the two kinds of
request apart, fleet-wide.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote, urljoin

import redis
import requests

from sync_workers.connectors.acumatica.filters import Expr, all_of
from sync_workers.connectors.acumatica.filters import F as Field
from sync_workers.connectors.acumatica.odata import ODataReader
from sync_workers.connectors.acumatica.session_pool import SessionPool
from sync_workers.connectors.acumatica.wrapping import unwrap, wrap
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import ACUMATICA, NotFound, SessionExpired
from sync_workers.connectors.http import Transport, query_string, read_json
from sync_workers.connectors.limits import limits_for
from sync_workers.errors import TransientError

PutMode = Literal["upsert", "insert", "update"]

# Key fields of the entities the flows use, for reads whose key values cannot go in a URL.
KEY_FIELDS: dict[str, tuple[str, ...]] = {
    "SalesOrder": ("OrderType", "OrderNbr"),
    "StockItem": ("InventoryID",),
    "NonStockItem": ("InventoryID",),
    "Customer": ("CustomerID",),
    "Payment": ("Type", "ReferenceNbr"),
    "Shipment": ("ShipmentNbr",),
    "SalesInvoice": ("Type", "ReferenceNbr"),
}
_UNSAFE_IN_PATH = ("/", "\\", "|", "?", "#", "%")


class RequestCounter:
    """Fleet-wide counts of Acumatica requests by interface, in the Redis hash
    ``{prefix}ops:acumatica_requests`` (fields :data:`CONTRACT` and :data:`ODATA`), read by
    ``sync-status`` and ``/metrics``. Each contract-API request sent counts (a resend after a
    401, a retried read), in the round trip that takes its slot under the shared limits. Sign-in
    and sign-out are not counted."""

    CONTRACT = "contract"
    ODATA = "odata"
    NAME = "acumatica_requests"

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.key = f"{prefix}ops:{self.NAME}"

    def count(self, interface: str) -> None:
        self.client.hincrby(self.key, interface, 1)

    def counts(self) -> dict[str, int]:
        raw = self.client.hgetall(self.key) or {}
        return {_text(k): int(v) for k, v in raw.items()}


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _csv(values: Iterable[str] | None) -> str | None:
    if values is None:
        return None
    joined = ",".join(values)
    return joined or None


class AcumaticaClient:
    """One Acumatica tenant. Share the Redis client; create one client per process.

    ``odata_in_rate_limit=False`` keeps Basic-auth OData requests out of the fleet's
    requests-per-minute window (they still take a concurrency slot); bearer-token OData
    requests are an API user's and always count.
    """

    def __init__(
        self,
        config: AcumaticaConfig,
        client: redis.Redis,
        *,
        prefix: str = "sync:",
        session: requests.Session | None = None,
        register_atexit: bool = True,
        odata_in_rate_limit: bool = True,
    ) -> None:
        self.config = config
        limits = limits_for(client, config.limits_name, config, prefix=prefix)
        self.transport = Transport(
            ACUMATICA,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            limits=limits,
            headers={"Accept": "application/json"},
            session=session,
            pool_connections=config.pool_connections,
        )
        basic_odata = config.odata_basic_auth or config.auth_mode == "cookie"
        odata_transport = self.transport
        if basic_odata and not odata_in_rate_limit:
            # Basic-auth OData is a conventional user's request: it keeps its concurrency slot
            # and the shared 429 cool-down, but stays out of the API requests-per-minute window.
            odata_transport = Transport(
                ACUMATICA,
                connect_timeout=config.connect_timeout,
                read_timeout=config.read_timeout,
                limits=limits.without_rate_window(),
                headers={"Accept": "application/json"},
                session=session,
                pool_connections=config.pool_connections,
            )
        self._odata_transport = odata_transport
        self.sessions = SessionPool(
            config, client, self.transport, prefix=prefix, register_atexit=register_atexit
        )
        self.requests = RequestCounter(client, prefix)
        # Basic auth (always in cookie mode): a poll over OData never takes a seat of the pool.
        self.odata = ODataReader(
            config,
            odata_transport,
            self.sessions,
            basic_auth=basic_odata,
            count=lambda: self.requests.count(RequestCounter.ODATA),
        )

    # Plumbing ---------------------------------------------------------------------------------
    def url(self, entity: str, *parts: str) -> str:
        path = "/".join([entity, *parts])
        return f"{self.config.endpoint_base}/{path}"

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Send with the pool's session; on 401 re-login once (fleet-wide) and resend."""
        query = query_string(params) if params else None
        count = (self.requests.key, RequestCounter.CONTRACT)
        if self.transport.limits is None:  # counted here, else with the request's slot
            self.requests.count(RequestCounter.CONTRACT)
        lease = self.sessions.acquire()
        for attempt in (1, 2):
            try:
                return self.transport.request(
                    method,
                    url,
                    params=query,
                    json=json,
                    headers={**(headers or {}), **lease.headers},
                    count=count if self.transport.limits is not None else None,
                )
            except SessionExpired:
                if attempt == 2:
                    raise
                lease = self.sessions.renew(lease)
        raise AssertionError("unreachable")

    def close(self) -> None:
        """Sign out (when this process is the session's last user) and release the pool."""
        self.sessions.close()
        self.transport.close()
        if self._odata_transport is not self.transport:
            self._odata_transport.close()

    def __enter__(self) -> AcumaticaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Reads ------------------------------------------------------------------------------------
    def get_list(
        self,
        entity: str,
        *,
        filter: Expr | None = None,
        select: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
        custom: Sequence[str] | None = None,
        top: int | None = None,
        skip: int | None = None,
    ) -> list[dict[str, Any]]:
        """One page of ``GET /{entity}`` (everything when ``top`` is None)."""
        if filter is not None and not isinstance(filter, Expr):
            raise TypeError("filter must be built with sync_workers.connectors.acumatica.filters")
        params = {
            "$filter": filter.render() if filter is not None else None,
            "$select": _csv(select),
            "$expand": _csv(expand),
            "$custom": _csv(custom),
            "$top": top,
            "$skip": skip or None,
        }
        rows = read_json(self.request("GET", self.url(entity), params=params), ACUMATICA)
        return [unwrap(row) for row in rows]

    def iter_list(
        self,
        entity: str,
        *,
        filter: Expr | None = None,
        select: Sequence[str] | None = None,
        expand: Sequence[str] | None = None,
        custom: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching record, one page (``$top``/``$skip``) in memory at a time."""
        size = page_size or self.config.page_size
        skip = 0
        while True:
            page = self.get_list(
                entity,
                filter=filter,
                select=select,
                expand=expand,
                custom=custom,
                top=size,
                skip=skip,
            )
            yield from page
            if len(page) < size:
                return
            skip += size

    def get_by_keys(
        self,
        entity: str,
        *keys: str,
        expand: Sequence[str] | None = None,
        select: Sequence[str] | None = None,
        missing_ok: bool = False,
    ) -> dict[str, Any] | None:
        """``GET /{entity}/{k1}/{k2}``; keys holding ``/`` and similar are read by filter."""
        if any(ch in str(key) for key in keys for ch in _UNSAFE_IN_PATH):
            return self._get_by_key_filter(entity, keys, expand, select, missing_ok)
        url = self.url(entity, *(quote(str(key), safe="'") for key in keys))
        return self._get_one(url, expand, select, missing_ok)

    def _get_one(
        self, url: str, expand: Sequence[str] | None, select: Sequence[str] | None, missing_ok: bool
    ) -> dict[str, Any] | None:
        params = {"$expand": _csv(expand), "$select": _csv(select)}
        try:
            return unwrap(read_json(self.request("GET", url, params=params), ACUMATICA))
        except NotFound:
            if missing_ok:
                return None
            raise

    def _get_by_key_filter(
        self,
        entity: str,
        keys: Sequence[str],
        expand: Sequence[str] | None,
        select: Sequence[str] | None,
        missing_ok: bool,
    ) -> dict[str, Any] | None:
        fields = KEY_FIELDS.get(entity)
        if fields is None or len(fields) != len(keys):
            raise NotFound(
                f"acumatica: cannot address {entity} by keys holding '/', '|' or '%'",
                details={"system": ACUMATICA, "entity": entity},
            )
        expr = all_of(*(Field(name) == value for name, value in zip(fields, keys, strict=True)))
        rows = self.get_list(entity, filter=expr, expand=expand, select=select, top=1)
        if rows:
            return rows[0]
        if missing_ok:
            return None
        raise NotFound(
            f"acumatica: no {entity} with keys {list(keys)!r}",
            details={"system": ACUMATICA, "entity": entity},
        )

    # Writes -----------------------------------------------------------------------------------
    def put(
        self,
        entity: str,
        record: Mapping[str, Any],
        *,
        expand: Sequence[str] | None = None,
        select: Sequence[str] | None = None,
        filter: Expr | None = None,
        mode: PutMode = "upsert",
    ) -> dict[str, Any]:
        """``PUT /{entity}``, an upsert; ``mode`` insert/update adds If-None-Match/If-Match.

        A timeout or dropped connection raises a ``TransientError`` whose details say
        ``maybe_applied``: look the record up before writing again.
        """
        headers = {"insert": {"If-None-Match": "*"}, "update": {"If-Match": "*"}}.get(mode, {})
        params = {
            "$expand": _csv(expand),
            "$select": _csv(select),
            "$filter": filter.render() if filter is not None else None,
        }
        response = self.request(
            "PUT", self.url(entity), params=params, json=wrap(record), headers=headers
        )
        return unwrap(read_json(response, ACUMATICA)) if response.content else {}

    def invoke_action(
        self,
        entity: str,
        action: str,
        record: Mapping[str, Any],
        parameters: Mapping[str, Any] | None = None,
        *,
        wait: bool = True,
    ) -> str | None:
        """``POST /{entity}/{action}``. On 202, poll ``Location`` until 204 when ``wait``.

        Returns the status URL of a still-running action (``wait=False``), else ``None``.
        """
        body = {"entity": wrap(record), "parameters": wrap(parameters or {})}
        response = self.request("POST", self.url(entity, action), json=body)
        if response.status_code != 202:
            return None
        location = urljoin(
            self.config.base_url.rstrip("/") + "/", response.headers.get("Location", "")
        )
        if not wait:
            return location
        self.wait_for_action(location)
        return None

    def wait_for_action(self, location: str) -> None:
        """Poll an action's status URL: 202 means running, 204 (or 200) means done."""
        deadline = time.monotonic() + self.config.action_timeout
        while True:
            response = self.request("GET", location)
            if response.status_code != 202:
                return
            if time.monotonic() > deadline:
                raise TransientError(
                    "acumatica action still running after the timeout",
                    details={"system": ACUMATICA, "url": location.split("?")[0]},
                )
            time.sleep(self.config.action_poll_interval)
