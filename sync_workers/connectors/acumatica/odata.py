"""OData reads (generic inquiries and DACs): flat rows with raw values, cheap for polling.

``/t/{tenant}/api/odata/gi/{GI}`` and ``/t/{tenant}/api/odata/dac/{DAC}`` answer
``{"value": [...]}`` with plain (unwrapped) columns. Filters render in the OData v4 dialect.

Who pays for a read: Acumatica counts a Basic-auth OData sign-in as a conventional user (the
licence's *Concurrent Users*), not as an API user ("DAC-Based OData: General Information").
With ``basic_auth`` (the client turns it on in cookie mode, and in OAuth mode with
``AcumaticaConfig.odata_basic_auth``) every request carries the user's credentials and never
takes or holds one of the fleet's API seats; otherwise it carries the pool's OAuth bearer
token, the seat the fleet holds anyway. Every request takes a slot in the connector's shared
limits (concurrency and, unless the client keeps Basic-auth OData out of it, requests per
minute), like a contract-API request, and is counted apart from them (see
:class:`~sync_workers.connectors.acumatica.client.RequestCounter`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sync_workers.connectors.acumatica.filters import Expr, F, all_of
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import ACUMATICA, SessionExpired
from sync_workers.connectors.http import Transport, query_string, read_json
from sync_workers.dates import parse_datetime

if TYPE_CHECKING:
    from sync_workers.connectors.acumatica.session_pool import SessionPool


#: Rows per page of :meth:`ODataReader.changes`: a key and a date each, so a page this size
#: stays small, and a poll that re-reads a busy overlap still costs one request.
CHANGES_PAGE = 1000


class ODataReader:
    def __init__(
        self,
        config: AcumaticaConfig,
        transport: Transport,
        sessions: SessionPool,
        *,
        basic_auth: bool = False,
        count: Callable[[], None] | None = None,
    ) -> None:
        self.config = config
        self.transport = transport
        self.sessions = sessions
        self.basic_auth = basic_auth
        self._count = count or (lambda: None)

    def _root(self, kind: str) -> str:
        tenant = quote(self.config.tenant or "Company", safe="")
        return f"{self.config.base_url.rstrip('/')}/t/{tenant}/api/odata/{kind}"

    def gi(self, name: str, **options: Any) -> Iterator[dict[str, Any]]:
        """Rows of the generic inquiry ``name`` (exposed via OData on SM208000)."""
        return self._rows(f"{self._root('gi')}/{quote(name, safe='')}", **options)

    def dac(self, name: str, **options: Any) -> Iterator[dict[str, Any]]:
        """Rows of the DAC ``name`` (for example ``PX_Objects_IN_INSiteStatus``)."""
        return self._rows(f"{self._root('dac')}/{quote(name, safe='')}", **options)

    def changes(
        self,
        dac: str,
        *,
        key: str | Sequence[str],
        start: datetime | None,
        end: datetime | None,
        select: Sequence[str] = (),
        filter: Expr | None = None,
        expand: str | None = None,
        field: str = "LastModifiedDateTime",
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Rows of ``dac`` whose ``field`` is in ``[start, end]`` (UTC; ``None``: no bound on
        that side), oldest first, with only ``key`` (one field or several), ``field`` and
        ``select`` as columns, and the navigation properties ``expand`` names.

        Pages are read by keyset (``$orderby=field,key...`` and ``$top``; each next page starts
        after the last row's ``(field, key...)``), so a record that changes while the pages are
        read can neither shift another one out of them nor be read twice from one page to the
        next. An idle window costs one request.
        """
        size = page_size or CHANGES_PAGE
        keys = [key] if isinstance(key, str) else list(key)
        when = F(field)
        bounds = [when >= start] if start is not None else []
        if end is not None:
            bounds.append(when <= end)
        if filter is not None:
            bounds.append(filter)
        window = all_of(*bounds) if bounds else None
        columns = list(dict.fromkeys([*keys, field, *select]))
        url = f"{self._root('dac')}/{quote(dac, safe='')}"
        after: list[Any] | None = None
        while True:
            expr = window
            if after is not None:
                past = _after([field, *keys], after)
                expr = past if window is None else window & past
            query = query_string(
                {
                    "$filter": expr.render("v4") if expr is not None else None,
                    "$select": ",".join(columns),
                    "$expand": expand,
                    "$orderby": ",".join([field, *keys]),
                    "$top": size,
                }
            )
            payload = self._get(url, query)
            rows = payload.get("value", []) if isinstance(payload, dict) else []
            yield from rows
            if len(rows) < size:
                return
            tail = rows[-1]
            if any(tail.get(name) is None for name in [field, *keys]):
                raise ValueError(f"OData row of {dac} without {field} or its key")
            after = [parse_datetime(tail[field]), *(tail[name] for name in keys)]

    def _rows(
        self,
        url: str,
        *,
        filter: Expr | None = None,
        select: Sequence[str] | None = None,
        orderby: Sequence[str] | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        size = page_size or self.config.page_size
        skip = 0
        base = {
            "$filter": filter.render("v4") if filter is not None else None,
            "$select": ",".join(select) if select else None,
            "$orderby": ",".join(orderby) if orderby else None,
        }
        next_url: str | None = None
        while True:
            if next_url:
                payload = self._get(next_url, None)
            else:
                payload = self._get(url, query_string({**base, "$top": size, "$skip": skip}))
            rows = payload.get("value", []) if isinstance(payload, dict) else []
            yield from rows
            next_url = payload.get("@odata.nextLink") if isinstance(payload, dict) else None
            if next_url:
                continue
            if len(rows) < size:
                return
            skip += size

    def _get(self, url: str, query: str | None) -> Any:
        self._count()
        if self.basic_auth:
            auth = (self.config.username, self.config.password)
            return read_json(self.transport.request("GET", url, params=query, auth=auth), ACUMATICA)
        lease = self.sessions.acquire()
        try:
            return read_json(
                self.transport.request("GET", url, params=query, headers=lease.headers), ACUMATICA
            )
        except SessionExpired:
            lease = self.sessions.renew(lease)
            return read_json(
                self.transport.request("GET", url, params=query, headers=lease.headers), ACUMATICA
            )


def _after(fields: Sequence[str], values: Sequence[Any]) -> Expr:
    """Rows that sort after ``values`` in the order of ``fields`` (all ascending):
    ``a gt x or (a eq x and (b gt y or (b eq y and ...)))``."""
    head, value = F(fields[0]), values[0]
    if len(fields) == 1:
        return head > value
    return (head > value) | ((head == value) & _after(fields[1:], values[1:]))
