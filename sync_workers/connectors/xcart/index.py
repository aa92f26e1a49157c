"""The store side of the catalogue: every X-Cart product and variant by SKU.

Inventory writes amounts through it; products matches records with it. The index lives in
Redis (one hash for the fleet) and is trusted while its last complete build is younger than the
inventory template's ``store_index_seconds``.

X-Cart lists variants per product only, so a build costs the product pages plus one variant
list per product. A build is therefore incremental and resumable:

* each product's variant list is kept in Redis with the product's ``update_date`` (X-Cart moves
  it when a variant is edited) and re-read only when that date moved, when it is missing, or
  after ``store_index_variants_seconds`` (a variant added or removed may not move the date);
* a product whose variants cannot be read (after the HTTP layer's in-place retries of a read)
  is left out of this build, everything else is kept, and the build counts as incomplete; the
  next build (a task's retry, the next poll or flush) reads only what is still missing;
* one process builds at a time (a Redis lock); the others wait briefly, then use the previous
  index.

A SKU missing from an incomplete index is never guessed: :meth:`StoreIndex.find` raises
:class:`IndexIncomplete` (a ``TransientError``) so the caller's task retries later.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

from redis.exceptions import LockError

from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.errors import PermanentError, TransientError
from sync_workers.mapping.inventory import load_config as inventory_config
from sync_workers.mapping.inventory import sku_key
from sync_workers.redis_client import get_redis, prefixed

log = logging.getLogger(__name__)

#: Redis keys are under the inventory flow's names (its template says how long the index is trusted).
INDEX_FLOW = "inventory"
#: An unknown SKU triggers a build at most this often (after a complete build).
INDEX_MIN_REBUILD_SECONDS = 60
#: How long a builder may hold the lock, and how long the others wait for it.
BUILD_LOCK_SECONDS = 120
BUILD_WAIT_SECONDS = 5.0
PAGE_SIZE = 100


class IndexIncomplete(TransientError):
    """The store index could not be read completely (or is being built): try again shortly."""


@dataclass(frozen=True)
class StoreTarget:
    sku: str
    product_id: int
    variant_id: int | None = None
    traceable: bool = True
    amount: int | None = None  # as seen when the store was scanned (plan/drift only)

    @property
    def key(self) -> str:
        if self.variant_id is None:
            return f"product:{self.product_id}"
        return f"variant:{self.product_id}:{self.variant_id}"


def _key(*parts: str) -> str:
    return prefixed(INDEX_FLOW, "index", *parts)


class StoreIndex:
    """SKU -> product or variant of the store ``xcart`` serves (see the module's docstring)."""

    def __init__(self, xcart: XCartClient) -> None:
        self.xcart = xcart

    # -- reading the store ----------------------------------------------------------------------

    def scan(self) -> dict[str, StoreTarget]:
        """Every product and variant of the store by SKU, with its current amount (reads only,
        nothing cached or stored)."""
        found: dict[str, StoreTarget] = {}
        for product in self.xcart.iter_products():
            pid = int(product["id"])
            traceable = bool(product.get("inventory_traceable", True))
            if product.get("sku"):
                sku = sku_key(product["sku"])
                found[sku] = StoreTarget(sku, pid, None, traceable, int(product.get("amount") or 0))
            for variant in self.xcart.iter_variants(pid):
                if variant.get("sku"):
                    sku = sku_key(variant["sku"])
                    found[sku] = StoreTarget(
                        sku, pid, int(variant["id"]), traceable, int(variant.get("amount") or 0)
                    )
        return found

    def _variants(self, product: dict[str, Any], max_age: float) -> list[list[Any]] | None:
        """``[[sku, variant id], ...]`` of one product, from the cache when still valid; None
        when X-Cart did not answer."""
        redis = get_redis()
        pid = int(product["id"])
        stamp = str(product.get("update_date") or "")
        raw = redis.get(_key("variants", str(pid)))
        if raw:
            cached = json.loads(raw)
            if cached.get("updated") == stamp and time.time() - cached.get("at", 0) < max_age:
                return list(cached["variants"])
        try:
            rows = list(self.xcart.iter_variants(pid))
        except TransientError as exc:
            log.info("store index: variants of product %s not read this time (%s)", pid, exc)
            return None
        except PermanentError:
            return []  # the product went away between the page and this read
        variants = [[sku_key(v["sku"]), int(v["id"])] for v in rows if v.get("sku")]
        entry = {"updated": stamp, "at": time.time(), "variants": variants}
        redis.set(_key("variants", str(pid)), json.dumps(entry), ex=int(max_age) + 60)
        return variants

    def _build(self, keep: Callable[[], object]) -> tuple[dict[str, StoreTarget], bool]:
        """Read the store, reusing cached variant lists; (index, complete). ``keep`` is called
        after each page to keep the build lock."""
        max_age = inventory_config().store_index_variants_seconds
        found: dict[str, StoreTarget] = {}
        complete = True
        page = 1
        while True:
            products = self.xcart.product_page(page, page_size=PAGE_SIZE)
            for product in products:
                pid = int(product["id"])
                traceable = bool(product.get("inventory_traceable", True))
                if product.get("sku"):
                    sku = sku_key(product["sku"])
                    found[sku] = StoreTarget(sku, pid, None, traceable)
                variants = self._variants(product, max_age)
                if variants is None:
                    complete = False
                    continue
                for sku, vid in variants:
                    found[sku] = StoreTarget(sku, pid, vid, traceable)
            if len(products) < PAGE_SIZE:
                return found, complete
            keep()
            page += 1

    # -- the index in Redis ---------------------------------------------------------------------

    @staticmethod
    def _save(found: dict[str, StoreTarget], complete: bool) -> None:
        """A complete build replaces the index; an incomplete one only adds what it found."""
        pipe = get_redis().pipeline()
        if complete:
            pipe.delete(_key())
        if found:
            pipe.hset(
                _key(),
                mapping={
                    s: json.dumps([t.product_id, t.variant_id, t.traceable])
                    for s, t in found.items()
                },
            )
        if complete:
            pipe.set(_key("at"), str(time.time()))
            pipe.delete(_key("incomplete"))
        else:
            pipe.set(_key("incomplete"), "1")
        pipe.execute()

    @staticmethod
    def add(target: StoreTarget) -> None:
        """Note a record just created in the store, so that a retry finds it before the next
        build (an unknown SKU builds the index at most once a minute)."""
        value = json.dumps([target.product_id, target.variant_id, target.traceable])
        get_redis().hset(_key(), target.sku, value)

    @staticmethod
    def _cached() -> dict[str, StoreTarget]:
        raw = get_redis().hgetall(_key())
        return {sku: StoreTarget(sku, *json.loads(v)) for sku, v in raw.items()}

    @staticmethod
    def age() -> float:
        """Seconds since the last complete build (infinite when there was none)."""
        built = float(get_redis().get(_key("at")) or 0)
        return time.time() - built if built else float("inf")

    def rebuild(self, *, wait: float = BUILD_WAIT_SECONDS) -> bool:
        """Bring the index up to date; True when it is complete.

        One process builds at a time. Another caller waits up to ``wait`` seconds for that build
        and takes its result; when it is still running, this returns False (use the previous
        index). Transient failures leave the index incomplete (False), never empty.
        """
        redis = get_redis()
        asked = time.time()
        lock = redis.lock(
            _key("build"),
            timeout=BUILD_LOCK_SECONDS,
            blocking=wait > 0,
            blocking_timeout=wait or None,
        )
        if not lock.acquire():
            return False
        try:
            if float(redis.get(_key("at")) or 0) >= asked:
                return True  # someone completed a build while we waited
            try:
                found, complete = self._build(
                    partial(lock.extend, BUILD_LOCK_SECONDS, replace_ttl=True)
                )
            except TransientError as exc:
                log.info("store index: product pages not read this time (%s)", exc)
                redis.set(_key("incomplete"), "1")
                return False
            self._save(found, complete)
            return complete
        finally:
            with suppress(LockError):  # expired while we worked: someone else may hold it now
                lock.release()

    def current(self, *, refresh: bool = False, partial: bool = False) -> dict[str, StoreTarget]:
        """The SKU index, from Redis while its last complete build is younger than
        ``store_index_seconds``; otherwise built again (incrementally, see the module docstring).

        When the build cannot complete, ``partial`` returns what is known (the previous index
        plus what this build read); otherwise :class:`IndexIncomplete` is raised.
        """
        stale = self.age() >= inventory_config().store_index_seconds
        if (refresh or stale) and not self.rebuild() and not partial:
            raise IndexIncomplete(
                "inventory: the X-Cart SKU index is incomplete; trying again shortly",
                retry_after=1.0,
                details={"reason": "store index incomplete"},
            )
        return self._cached()

    def find(self, sku: str) -> StoreTarget | None:
        """The store record of ``sku``; None when a complete, recent index does not know it.

        A SKU found in the index is used while the index is younger than ``store_index_seconds``
        (or while another process rebuilds it). An unknown SKU brings the index up to date at
        most once a minute, which costs the product pages and the variants of new or changed
        products. When the index is incomplete and the SKU is not in it,
        :class:`IndexIncomplete` asks the caller to retry instead of skipping a SKU the store
        may well have.
        """
        redis = get_redis()
        sku = sku_key(sku)
        raw = redis.hget(_key(), sku)
        if raw is not None:
            if self.age() < inventory_config().store_index_seconds:
                return StoreTarget(sku, *json.loads(raw))
            complete = self.rebuild()
        else:
            if not redis.set(_key("miss"), "1", nx=True, ex=INDEX_MIN_REBUILD_SECONDS):
                # Looked for recently: unknown, unless that index is unfinished or being built.
                if redis.exists(_key("incomplete"), _key("build")) or self.age() == float("inf"):
                    raise _incomplete(sku)
                return None
            complete = self.rebuild()
            if not complete:
                redis.delete(_key("miss"))  # the retry may look again at once
        raw = redis.hget(_key(), sku)
        if raw is not None:
            return StoreTarget(sku, *json.loads(raw))
        if complete:
            return None
        raise _incomplete(sku)


def _incomplete(sku: str) -> IndexIncomplete:
    return IndexIncomplete(
        f"inventory: {sku} is not in the X-Cart SKU index yet and the index is incomplete",
        retry_after=1.0,
        details={"sku": sku, "reason": "store index incomplete"},
    )
