"""Which InventoryIDs Acumatica knows, for the order check, without a call per order line.

The full list is read once per cache period (a few pages of ``$select=InventoryID``) into a
Redis set shared by the fleet; a SKU missing from the set is looked up once by key before an
order is refused, so an item created since the last refresh is not mistaken for an unknown one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from sync_workers import clients
from sync_workers.redis_client import Reader, get_redis, prefixed, read_together

CACHE_SECONDS = 600


def _key(*parts: str) -> str:
    return prefixed("orders", "skus", *parts)


def sku_known(inventory_id: str) -> bool:
    """Whether Acumatica has this InventoryID (case-insensitive, like Acumatica keys)."""
    return checker([inventory_id])(inventory_id)


def checker(inventory_ids: Iterable[str]) -> Callable[[str], bool]:
    """``sku_known`` for the InventoryIDs of one order: their memberships are read in one
    round trip (not two per line); an ID not in the set is then looked up by key."""
    check: Callable[[str], bool] = read_together(checker_reader(inventory_ids))[0]
    return check


def checker_reader(inventory_ids: Iterable[str]) -> Reader:
    """:func:`checker` as a reader of :func:`read_together` (one round trip with other reads)."""
    wanted = sorted({str(i).strip().upper() for i in inventory_ids})

    def queue(pipe: Any) -> Callable[[list[Any]], Callable[[str], bool]]:
        pipe.exists(_key("fresh"))
        if wanted:
            pipe.smismember(_key(), wanted)
        return lambda replies: _check(wanted, replies)

    return queue


def _check(wanted: list[str], replies: list[Any]) -> Callable[[str], bool]:
    redis = get_redis()
    fresh, *flags = replies
    if not fresh:
        refresh()
        flags = [redis.smismember(_key(), wanted)] if wanted else []
    known = {sku for sku, member in zip(wanted, flags[0] if flags else [], strict=True) if member}

    def check(inventory_id: str) -> bool:
        wanted_id = inventory_id.strip().upper()
        if wanted_id in known:
            return True
        item = clients.acumatica().get_by_keys(
            "StockItem", inventory_id, select=["InventoryID"], missing_ok=True
        )
        if item is None:
            return False
        redis.sadd(_key(), wanted_id)
        known.add(wanted_id)
        return True

    return check


def refresh() -> int:
    """Read every InventoryID into the shared set; returns how many."""
    ids = [
        str(row["InventoryID"]).strip().upper()
        for row in clients.acumatica().iter_list("StockItem", select=["InventoryID"])
        if row.get("InventoryID")
    ]
    redis = get_redis()
    if ids:
        redis.sadd(_key(), *ids)
    redis.set(_key("fresh"), "1", ex=CACHE_SECONDS)
    return len(ids)
