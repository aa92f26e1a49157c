"""X-Cart 5.5+ REST client: streaming reads, change detection, and the few writes core allows.

Collections are bare JSON arrays without totals; iterators fetch one page (``itemsPerPage`` up
to 100) at a time and stop at the first short page, so memory stays flat at any size.
Unknown keys (add-ons add many) pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import redis
import requests

from sync_workers.connectors.config import XCartConfig
from sync_workers.connectors.errors import XCART, NotSupported
from sync_workers.connectors.http import Transport, read_json
from sync_workers.connectors.limits import limits_for
from sync_workers.connectors.xcart.states import StateTable
from sync_workers.dates import parse_datetime, parse_optional, to_utc_iso, utcnow
from sync_workers.hashing import DEFAULT_VOLATILE_KEYS, content_hash

log = logging.getLogger(__name__)

PRODUCT_VOLATILE_KEYS = DEFAULT_VOLATILE_KEYS
PROFILE_VOLATILE_KEYS = DEFAULT_VOLATILE_KEYS | {"first_login_date"}
_FAR_FUTURE = timedelta(days=3650)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _moment(record: Mapping[str, Any]) -> datetime | None:
    return parse_optional(record.get("update_date"))


class XCartClient:
    """One store. Share the Redis client; create one client per process."""

    def __init__(
        self,
        config: XCartConfig,
        client: redis.Redis,
        *,
        prefix: str = "sync:",
        session: requests.Session | None = None,
    ) -> None:
        self.config = config
        self._redis = client
        base = config.base_url.rstrip("/")
        self._base = base
        self._feature_key = f"{prefix}xcart:{base}:last_renew_filter"
        self._last_renew_filter: bool | None = None
        limits = limits_for(client, config.limits_name, config, prefix=prefix)
        self.transport = Transport(
            XCART,
            connect_timeout=config.connect_timeout,
            read_timeout=config.read_timeout,
            limits=limits,
            headers={"X-Auth-Token": config.token, "Accept": "application/json"},
            session=session,
            pool_connections=config.pool_connections,
        )
        self.states = StateTable(config.state_table_overrides)

    # Plumbing ---------------------------------------------------------------------------------
    def request(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> requests.Response:
        return self.transport.request(method, f"{self._base}{path}", params=params, json=json)

    def _json(
        self, method: str, path: str, *, params: Mapping[str, Any] | None = None, json: Any = None
    ) -> Any:
        return read_json(self.request(method, path, params=params, json=json), XCART)

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        return self._json("GET", path, params=params)

    def iter_collection(
        self, path: str, params: Mapping[str, Any] | None = None, *, page_size: int | None = None
    ) -> Iterator[dict[str, Any]]:
        """Every item of a collection, one page in memory at a time."""
        size = page_size or self.config.page_size
        page = 1
        while True:
            rows = self.get(path, {**(params or {}), "page": page, "itemsPerPage": size})
            yield from rows
            if len(rows) < size:
                return
            page += 1

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> XCartClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # Orders -----------------------------------------------------------------------------------
    def get_order(self, order_id: int) -> dict[str, Any]:
        return self.get(f"/api/orders/{int(order_id)}")

    def get_order_by_number(self, order_number: str) -> dict[str, Any]:
        return self.get(f"/api/orders/by_number/{quote(str(order_number), safe='')}")

    def payment_transactions(self, order_id: int) -> list[dict[str, Any]]:
        return list(self.iter_collection(f"/api/orders/{int(order_id)}/payment_transactions"))

    def supports_last_renew_filter(self) -> bool:
        """Whether ``GET /api/orders`` honours ``lastRenewDate[after]`` (asked once, cached).

        X-Cart ignores unknown filters silently, so the probe asks for orders renewed after a
        date ten years ahead: a store that honours the filter answers an empty page. A store
        without any order cannot tell; the answer is then not cached.
        """
        if self._last_renew_filter is not None:
            return self._last_renew_filter
        cached = self._redis.get(self._feature_key)
        if cached is not None:
            self._last_renew_filter = cached in (b"1", "1")
            return self._last_renew_filter
        probe = to_utc_iso(utcnow() + _FAR_FUTURE)
        rows = self.get("/api/orders", {"lastRenewDate[after]": probe, "itemsPerPage": 1})
        if rows:
            supported = False
        elif self.get("/api/orders", {"itemsPerPage": 1}):
            supported = True
        else:
            return True  # empty store: either path is right, ask again later
        self._redis.set(
            self._feature_key, "1" if supported else "0", ex=self.config.feature_cache_seconds
        )
        self._last_renew_filter = supported
        log.info("x-cart lastRenewDate filter %s", "supported" if supported else "absent")
        return supported

    def orders_changed_since(
        self,
        since: datetime | None,
        *,
        until: datetime | None = None,
        page_size: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Orders whose ``update_date`` is in ``[since, until]`` (inclusive; ``None``: open).

        With the filter: ascending by update date, keyset on the last date seen (orders sharing
        that date are skipped by id, and a page made only of one date moves on by page), so an
        order edited during the scan cannot shift another one out of sight. Without it: newest
        first down to ``since``, where edits only shift already-read orders into the next page
        (they are dropped by ``(id, update_date)``). Orders may come more than once across
        runs; dedupe with :class:`~sync_workers.cursor.PollCursor`.
        """
        size = page_size or self.config.page_size
        since = parse_datetime(since) if since is not None else _EPOCH
        if self.supports_last_renew_filter():
            yield from self._changed_ascending(since, until, size)
        else:
            yield from self._changed_descending(since, until, size)

    def _changed_ascending(
        self, since: datetime, until: datetime | None, size: int
    ) -> Iterator[dict[str, Any]]:
        bound, page = since, 1
        at_bound: set[Any] = set()
        while True:
            params: dict[str, Any] = {
                "lastRenewDate[after]": to_utc_iso(bound),
                "order[lastRenewDate]": "asc",
                "page": page,
                "itemsPerPage": size,
            }
            if until is not None:
                params["lastRenewDate[before]"] = to_utc_iso(until)
            rows = self.get("/api/orders", params)
            last = bound
            for row in rows:
                moment = _moment(row)
                if moment is None or moment < since:
                    continue
                if until is not None and moment > until:
                    return
                if moment == bound and row.get("id") in at_bound:
                    continue
                last = max(last, moment)
                yield row
            if len(rows) < size:
                return
            if last > bound:
                at_bound = {row.get("id") for row in rows if _moment(row) == last}
                bound, page = last, 1
            else:
                at_bound |= {row.get("id") for row in rows}
                page += 1

    def _changed_descending(
        self, since: datetime, until: datetime | None, size: int
    ) -> Iterator[dict[str, Any]]:
        page = 1
        previous: set[tuple[Any, datetime]] = set()
        while True:
            rows = self.get(
                "/api/orders",
                {"order[lastRenewDate]": "desc", "page": page, "itemsPerPage": size},
            )
            current: set[tuple[Any, datetime]] = set()
            for row in rows:
                moment = _moment(row)
                if moment is None:
                    continue
                if moment < since:
                    return
                key = (row.get("id"), moment)
                current.add(key)
                if (until is not None and moment > until) or key in previous:
                    continue
                yield row
            if len(rows) < size:
                return
            previous = current
            page += 1

    def set_shipping_status(self, order_id: int, code: str) -> dict[str, Any]:
        """``PUT /api/orders/{id}/shipping_status`` (X-Cart then notifies the shopper)."""
        path = f"/api/orders/{int(order_id)}/shipping_status"
        return self._json("PUT", path, json={"code": code})

    def set_payment_status(self, order_id: int, code: str) -> dict[str, Any]:
        path = f"/api/orders/{int(order_id)}/payment_status"
        return self._json("PUT", path, json={"code": code})

    @property
    def supports_tracking(self) -> bool:
        return self.config.tracking_endpoint

    def add_tracking_number(self, order_id: int, value: str) -> dict[str, Any]:
        """Add a tracking number through the store module's endpoint (absent in core X-Cart)."""
        if not self.config.tracking_endpoint:
            raise NotSupported(
                "x-cart: no tracking-number endpoint configured (core X-Cart has none)",
                details={"system": XCART, "order_id": order_id},
            )
        path = self.config.tracking_path.format(order_id=int(order_id))
        return self._json("POST", path, json={"value": value})

    # Products and variants --------------------------------------------------------------------
    def get_product(self, product_id: int) -> dict[str, Any]:
        return self.get(f"/api/products/{int(product_id)}")

    def iter_products(self, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self.iter_collection("/api/products", page_size=page_size)

    def product_page(self, page: int, *, page_size: int | None = None) -> list[dict[str, Any]]:
        """One page of products (``page`` from 1; a page shorter than ``page_size`` is the
        last), for a reader that does something between two pages."""
        size = page_size or self.config.page_size
        return list(self.get("/api/products", {"page": int(page), "itemsPerPage": size}))

    def create_product(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/api/products", json=dict(fields))

    def scan_products(
        self, *, page_size: int | None = None
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Every product with its content hash (products have no updated-since filter)."""
        for product in self.iter_products(page_size=page_size):
            yield product, content_hash(product, PRODUCT_VOLATILE_KEYS)

    def iter_variants(self, product_id: int) -> Iterator[dict[str, Any]]:
        return self.iter_collection(f"/api/products/{int(product_id)}/variants")

    def update_product(self, product_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Partial ``PUT``: fields not sent keep their stored values."""
        return self._json("PUT", f"/api/products/{int(product_id)}", json=dict(fields))

    def set_product_stock(self, product_id: int, amount: int) -> dict[str, Any]:
        return self.update_product(product_id, {"amount": int(amount)})

    def get_variant(self, product_id: int, variant_id: int) -> dict[str, Any]:
        return self.get(f"/api/products/{int(product_id)}/variants/{int(variant_id)}")

    def update_variant(
        self, product_id: int, variant_id: int, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Partial ``PUT`` of one variant: fields not sent keep their stored values."""
        path = f"/api/products/{int(product_id)}/variants/{int(variant_id)}"
        return self._json("PUT", path, json=dict(fields))

    def set_variant_stock(self, product_id: int, variant_id: int, amount: int) -> dict[str, Any]:
        """Variant stock; ``default_amount: false`` stops the variant inheriting the product's."""
        body = {"amount": int(amount), "default_amount": False}
        return self.update_variant(product_id, variant_id, body)

    # Profiles and addresses -------------------------------------------------------------------
    def get_profile(self, profile_id: int) -> dict[str, Any]:
        return self.get(f"/api/profiles/{int(profile_id)}")

    def iter_profiles(self, *, page_size: int | None = None) -> Iterator[dict[str, Any]]:
        return self.iter_collection("/api/profiles", page_size=page_size)

    def scan_profiles(
        self, *, page_size: int | None = None
    ) -> Iterator[tuple[dict[str, Any], str]]:
        """Every profile with its content hash (profiles have no updated-since filter)."""
        for profile in self.iter_profiles(page_size=page_size):
            yield profile, content_hash(profile, PROFILE_VOLATILE_KEYS)

    def find_profile_by_login(self, login: str) -> dict[str, Any] | None:
        """The profile whose login is ``login`` (compared case-insensitively, as X-Cart's
        uniqueness check does), else ``None``. ``login`` filters by substring: the exact one is
        picked from the matches."""
        wanted = login.strip().casefold()
        for profile in self.iter_collection("/api/profiles", {"login": login.strip()}):
            if str(profile.get("login") or "").casefold() == wanted:
                return profile
        return None

    def memberships(self) -> dict[int, str]:
        """The store's memberships: id -> name (``GET /api/memberships``)."""
        return {
            int(row["id"]): str(row.get("name") or "")
            for row in self.iter_collection("/api/memberships")
        }

    def create_profile(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("POST", "/api/profiles", json=dict(fields))

    def update_profile(self, profile_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        return self._json("PUT", f"/api/profiles/{int(profile_id)}", json=dict(fields))

    def addresses(self, profile_id: int) -> list[dict[str, Any]]:
        return list(self.iter_collection(f"/api/profiles/{int(profile_id)}/addresses"))

    def create_address(self, profile_id: int, fields: Mapping[str, Any]) -> dict[str, Any]:
        path = f"/api/profiles/{int(profile_id)}/addresses"
        return self._json("POST", path, json=dict(fields))

    def update_address(
        self, profile_id: int, address_id: int, fields: Mapping[str, Any]
    ) -> dict[str, Any]:
        path = f"/api/profiles/{int(profile_id)}/addresses/{int(address_id)}"
        return self._json("PUT", path, json=dict(fields))
