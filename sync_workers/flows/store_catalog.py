"""The store side of the catalogue: every X-Cart product and variant by SKU.

Inventory writes amounts through it; products matches records with it. The index lives in
Redis (one hash for the fleet) and is rebuilt when older than the inventory template's
``store_index_seconds``; an unknown SKU re-reads the product pages at most once a minute.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from sync_workers import clients
from sync_workers.mapping.inventory import load_config as inventory_config
from sync_workers.mapping.inventory import sku_key
from sync_workers.redis_client import get_redis, prefixed

#: Redis keys stay under the inventory flow's names, where the index was first kept.
INDEX_FLOW = "inventory"
INDEX_MIN_REBUILD_SECONDS = 60


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


def scan_store() -> dict[str, StoreTarget]:
    """Every product and variant of the store by SKU, with its current amount."""
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


def store_index(*, refresh: bool = False) -> dict[str, StoreTarget]:
    """The SKU index, from Redis while younger than ``store_index_seconds``."""
    redis = get_redis()
    key, stamp = prefixed(INDEX_FLOW, "index"), prefixed(INDEX_FLOW, "index", "at")
    built = float(redis.get(stamp) or 0)
    if not refresh and time.time() - built < inventory_config().store_index_seconds:
        raw = redis.hgetall(key)
        if raw:
            return {sku: StoreTarget(sku, *json.loads(v)) for sku, v in raw.items()}
    found = scan_store()
    pipe = redis.pipeline()
    pipe.delete(key)
    if found:
        pipe.hset(
            key,
            mapping={
                s: json.dumps([t.product_id, t.variant_id, t.traceable]) for s, t in found.items()
            },
        )
    pipe.set(stamp, str(time.time()))
    pipe.execute()
    return found


def find_target(sku: str) -> StoreTarget | None:
    """The store record of ``sku``.

    An unknown SKU re-reads the product pages (cheap: a hundred products per request) at most
    once a minute and adds new products to the index; new variants wait for the next full
    rebuild, which costs one request per product.
    """
    redis = get_redis()
    fresh = time.time() - float(redis.get(prefixed(INDEX_FLOW, "index", "at")) or 0)
    raw = (
        redis.hget(prefixed(INDEX_FLOW, "index"), sku)
        if fresh < inventory_config().store_index_seconds
        else None
    )
    if raw is not None:
        return StoreTarget(sku, *json.loads(raw))
    target = store_index().get(sku)
    if target is None and redis.set(
        prefixed(INDEX_FLOW, "index", "miss"), "1", nx=True, ex=INDEX_MIN_REBUILD_SECONDS
    ):
        added = {
            sku_key(p["sku"]): StoreTarget(
                sku_key(p["sku"]), int(p["id"]), None, bool(p.get("inventory_traceable", True))
            )
            for p in clients.xcart().iter_products()
            if p.get("sku")
        }
        known = set(redis.hkeys(prefixed(INDEX_FLOW, "index")))
        new = {s: t for s, t in added.items() if s not in known}
        if new:
            redis.hset(
                prefixed(INDEX_FLOW, "index"),
                mapping={s: json.dumps([t.product_id, None, t.traceable]) for s, t in new.items()},
            )
        target = new.get(sku)
    return target


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
