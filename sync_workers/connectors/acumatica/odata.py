"""OData reads (generic inquiries and DACs): flat rows, cheap for polling many records.

``/t/{tenant}/api/odata/gi/{GI}`` and ``/t/{tenant}/api/odata/dac/{DAC}`` answer
``{"value": [...]}`` with plain (unwrapped) columns. Filters render in the OData v4 dialect.
By default requests carry the pool's session (cookie or bearer), so polling uses no extra
licence seat; ``basic_auth=True`` (``AcumaticaConfig.odata_basic_auth``) sends the user's
credentials instead, as some instances require.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from sync_workers.connectors.acumatica.filters import Expr
from sync_workers.connectors.config import AcumaticaConfig
from sync_workers.connectors.errors import ACUMATICA, SessionExpired
from sync_workers.connectors.http import Transport, query_string, read_json

if TYPE_CHECKING:
    from sync_workers.connectors.acumatica.session_pool import SessionPool


class ODataReader:
    def __init__(
        self,
        config: AcumaticaConfig,
        transport: Transport,
        sessions: SessionPool,
        *,
        basic_auth: bool = False,
    ) -> None:
        self.config = config
        self.transport = transport
        self.sessions = sessions
        self.basic_auth = basic_auth and config.auth_mode == "cookie"

    def _root(self, kind: str) -> str:
        tenant = quote(self.config.tenant or "Company", safe="")
        return f"{self.config.base_url.rstrip('/')}/t/{tenant}/api/odata/{kind}"

    def gi(self, name: str, **options: Any) -> Iterator[dict[str, Any]]:
        """Rows of the generic inquiry ``name`` (exposed via OData on SM208000)."""
        return self._rows(f"{self._root('gi')}/{quote(name, safe='')}", **options)

    def dac(self, name: str, **options: Any) -> Iterator[dict[str, Any]]:
        """Rows of the DAC ``name`` (for example ``PX_Objects_IN_INSiteStatus``)."""
        return self._rows(f"{self._root('dac')}/{quote(name, safe='')}", **options)

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
