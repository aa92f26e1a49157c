"""The store side of the catalogue: every X-Cart product and variant by SKU.

Inventory writes amounts through it; products matches records with it. The index lives in
Redis (one hash for the fleet) and is trusted while its last complete build is younger than the
inventory template's ``store_index_seconds``.

X-Cart lists variants per product only, so a build costs the product pages plus one variant
list per product. A build is therefore incremental and resumable:

* each product's variant list is kept in Redis with the product's ``update_date`` (X-Cart moves
  it when a variant is edited) and re-read only when that date moved, when it is missing, or
  after ``store_index_variants_seconds`` (a variant added or removed may not move the date);
* a failing call is retried in place a few times; a product whose variants still cannot be
  read is left out of this build, everything else is kept, and the build counts as incomplete;
  the next build (a Celery retry, the next poll or flush) reads only what is still missing;
* one process builds at a time (a Redis lock); the others wait briefly, then use the previous
  index.

A SKU missing from an incomplete index is never guessed: :func:`find_target` raises
:class:`IndexIncomplete` (a ``TransientError``) so the caller retries later.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar

from redis.exceptions import LockError

from sync_workers import clients
from sync_workers.errors import PermanentError, TransientError
from sync_workers.mapping.inventory import load_config as inventory_config
from sync_workers.mapping.inventory import sku_key
from sync_workers.redis_client import get_redis, prefixed

log = logging.getLogger(__name__)

#: Redis keys stay under the inventory flow's names, where the index was first kept.
INDEX_FLOW = "inventory"
#: An unknown SKU triggers a build at most this often (after a complete build).
INDEX_MIN_REBUILD_SECONDS = 60
#: Attempts per X-Cart call inside a build, and the longest pause between two of them.
CALL_ATTEMPTS = 3
CALL_PAUSE_MAX = 1.0
#: How long a builder may hold the lock, and how long the others wait for it.
BUILD_LOCK_SECONDS = 120
BUILD_WAIT_SECONDS = 5.0
PAGE_SIZE = 100

T = TypeVar("T")


class IndexIncomplete(TransientError):
    """The store index could not be read completely (or is being built): try again shortly."""


@dataclass(frozen=True)
class StoreTarget:
    sku: str
    product_id: int
    variant_id: int | None = None
    traceable: bool = True
    amount: int | None = None  # as seen when the index was built (plan/drift only)

    @property
    def key(self) -> str:
        if self.variant_id is None:
            return f"product:{self.product_id}"
        return f"variant:{self.product_id}:{self.variant_id}"


def _index_key() -> str:
    return prefixed(INDEX_FLOW, "index")


def _stamp_key() -> str:
    return prefixed(INDEX_FLOW, "index", "at")


def _lock_key() -> str:
    return prefixed(INDEX_FLOW, "index", "build")


def _incomplete_key() -> str:
    return prefixed(INDEX_FLOW, "index", "incomplete")


def _variants_key(product_id: int) -> str:
    return prefixed(INDEX_FLOW, "index", "variants", str(product_id))


def scan_store() -> dict[str, StoreTarget]:
    """Every product and variant of the store by SKU, with its current amount (reads only)."""
    xcart = clients.xcart()
    found: dict[str, StoreTarget] = {}
    for product in xcart.iter_products():
        pid = int(product["id"])
        traceable = bool(product.get("inventory_traceable", True))
        if product.get("sku"):
            found[sku_key(product["sku"])] = StoreTarget(
                sku_key(product["sku"]), pid, None, traceable, int(product.get("amount") or 0)
            )
        for variant in xcart.iter_variants(pid):
            if variant.get("sku"):
                found[sku_key(variant["sku"])] = StoreTarget(
                    sku_key(variant["sku"]),
                    pid,
                    int(variant["id"]),
                    traceable,
                    int(variant.get("amount") or 0),
                )
    return found


def _call(fn: Callable[[], T]) -> T:
    """``fn()`` with a few quick in-place retries on transient errors."""
    for attempt in range(CALL_ATTEMPTS):
        try:
            return fn()
        except TransientError as exc:
            if attempt == CALL_ATTEMPTS - 1:
                raise
            pause = exc.retry_after if exc.retry_after is not None else 0.1 * 2**attempt
            time.sleep(min(CALL_PAUSE_MAX, max(0.0, pause)))
    raise AssertionError("unreachable")


def _variants(product: dict[str, Any], max_age: float) -> list[list[Any]] | None:
    """``[[sku, variant id], ...]`` of one product, from the cache when still valid; None when
    X-Cart did not answer."""
    redis = get_redis()
    pid = int(product["id"])
    stamp = str(product.get("update_date") or "")
    raw = redis.get(_variants_key(pid))
    if raw:
        cached = json.loads(raw)
        if cached.get("updated") == stamp and time.time() - cached.get("at", 0) < max_age:
            return list(cached["variants"])
    xcart = clients.xcart()
    try:
        rows = _call(lambda: list(xcart.iter_variants(pid)))
    except TransientError as exc:
        log.info("store index: variants of product %s not read this time (%s)", pid, exc)
        return None
    except PermanentError:
        return []  # the product went away between the page and this read
    variants = [[sku_key(v["sku"]), int(v["id"])] for v in rows if v.get("sku")]
    entry = {"updated": stamp, "at": time.time(), "variants": variants}
    redis.set(_variants_key(pid), json.dumps(entry), ex=int(max_age) + 60)
    return variants


def _page(xcart: Any, page: int) -> list[dict[str, Any]]:
    return list(xcart.get("/api/products", {"page": page, "itemsPerPage": PAGE_SIZE}))


def _build(keep: Callable[[], object]) -> tuple[dict[str, StoreTarget], bool]:
    """Read the store, reusing cached variant lists; (index, complete). ``keep`` is called
    after each page to keep the build lock."""
    xcart = clients.xcart()
    max_age = inventory_config().store_index_variants_seconds
    found: dict[str, StoreTarget] = {}
    complete = True
    page = 1
    while True:
        products = _call(partial(_page, xcart, page))
        for product in products:
            pid = int(product["id"])
            traceable = bool(product.get("inventory_traceable", True))
            if product.get("sku"):
                found[sku_key(product["sku"])] = StoreTarget(
                    sku_key(product["sku"]), pid, None, traceable
                )
            variants = _variants(product, max_age)
            if variants is None:
                complete = False
                continue
            for sku, vid in variants:
                found[sku] = StoreTarget(sku, pid, vid, traceable)
        if len(products) < PAGE_SIZE:
            return found, complete
        keep()
        page += 1


def _save(found: dict[str, StoreTarget], complete: bool) -> None:
    """A complete build replaces the index; an incomplete one only adds what it found."""
    redis = get_redis()
    pipe = redis.pipeline()
    if complete:
        pipe.delete(_index_key())
    if found:
        pipe.hset(
            _index_key(),
            mapping={
                s: json.dumps([t.product_id, t.variant_id, t.traceable]) for s, t in found.items()
            },
        )
    if complete:
        pipe.set(_stamp_key(), str(time.time()))
        pipe.delete(_incomplete_key())
    else:
        pipe.set(_incomplete_key(), "1")
    pipe.execute()


def _cached() -> dict[str, StoreTarget]:
    raw = get_redis().hgetall(_index_key())
    return {sku: StoreTarget(sku, *json.loads(v)) for sku, v in raw.items()}


def index_age() -> float:
    """Seconds since the last complete build (infinite when there was none)."""
    built = float(get_redis().get(_stamp_key()) or 0)
    return time.time() - built if built else float("inf")


def rebuild(*, wait: float = BUILD_WAIT_SECONDS) -> bool:
    """Bring the index up to date; True when it is complete.

    One process builds at a time. Another caller waits up to ``wait`` seconds for that build
    and takes its result; when it is still running, this returns False (use the previous index).
    Transient failures of single calls leave the index incomplete (False), never empty.
    """
    redis = get_redis()
    asked = time.time()
    lock = redis.lock(
        _lock_key(),
        timeout=BUILD_LOCK_SECONDS,
        blocking=wait > 0,
        blocking_timeout=wait or None,
    )
    if not lock.acquire():
        return False
    try:
        if float(redis.get(_stamp_key()) or 0) >= asked:
            return True  # someone completed a build while we waited
        try:
            found, complete = _build(partial(lock.extend, BUILD_LOCK_SECONDS, replace_ttl=True))
        except TransientError as exc:
            log.info("store index: product pages not read this time (%s)", exc)
            redis.set(_incomplete_key(), "1")
            return False
        _save(found, complete)
        return complete
    finally:
        with suppress(LockError):  # expired while we worked: someone else may hold it now
            lock.release()


def store_index(*, refresh: bool = False, partial: bool = False) -> dict[str, StoreTarget]:
    """The SKU index, from Redis while its last complete build is younger than
    ``store_index_seconds``; otherwise built again (incrementally, see the module docstring).

    When the build cannot complete, ``partial`` returns what is known (the previous index plus
    what this build read); otherwise :class:`IndexIncomplete` is raised.
    """
    stale = index_age() >= inventory_config().store_index_seconds
    if refresh or stale:
        complete = rebuild()
        if not complete and not partial:
            raise IndexIncomplete(
                "inventory: the X-Cart SKU index is incomplete; trying again shortly",
                retry_after=1.0,
                details={"reason": "store index incomplete"},
            )
    return _cached()


def find_target(sku: str) -> StoreTarget | None:
    """The store record of ``sku``; None when a complete, recent index does not know it.

    A SKU found in the index is used while the index is younger than ``store_index_seconds``
    (or while another process rebuilds it). An unknown SKU brings the index up to date at most
    once a minute, which costs the product pages and the variants of new or changed products.
    When the index is incomplete and the SKU is not in it, :class:`IndexIncomplete` asks the
    caller to retry instead of skipping a SKU the store may well have.
    """
    redis = get_redis()
    sku = sku_key(sku)
    raw = redis.hget(_index_key(), sku)
    if raw is not None:
        if index_age() < inventory_config().store_index_seconds:
            return StoreTarget(sku, *json.loads(raw))
        complete = rebuild()
    else:
        miss = prefixed(INDEX_FLOW, "index", "miss")
        if not redis.set(miss, "1", nx=True, ex=INDEX_MIN_REBUILD_SECONDS):
            # Looked for recently: unknown, unless that index is unfinished or being built.
            if redis.exists(_incomplete_key(), _lock_key()) or index_age() == float("inf"):
                raise _incomplete(sku)
            return None
        complete = rebuild()
        if not complete:
            redis.delete(miss)  # the retry may look again at once
    raw = redis.hget(_index_key(), sku)
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


def store_amount_of(target: StoreTarget) -> int:
    xcart = clients.xcart()
    if target.variant_id is None:
        record = xcart.get_product(target.product_id)
    else:
        record = xcart.get(f"/api/products/{target.product_id}/variants/{target.variant_id}")
    return int(record.get("amount") or 0)


def write_store_amount(target: StoreTarget, amount: int) -> None:
    xcart = clients.xcart()
    if target.variant_id is None:
        xcart.set_product_stock(target.product_id, amount)
    else:
        xcart.set_variant_stock(target.product_id, target.variant_id, amount)
