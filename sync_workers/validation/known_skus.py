"""Which InventoryIDs Acumatica knows, for the order check, without a call per order line.

The full list is read once per cache period (a few pages of ``$select=InventoryID``) into a
Redis set shared by the fleet; a SKU missing from the set is looked up once by key before an
order is refused, so an item created since the last refresh is not mistaken for an unknown one.
"""

from __future__ import annotations

from sync_workers import clients
from sync_workers.redis_client import get_redis, prefixed

CACHE_SECONDS = 600


def _key(*parts: str) -> str:
    return prefixed("orders", "skus", *parts)


def sku_known(inventory_id: str) -> bool:
    """Whether Acumatica has this InventoryID (case-insensitive, like Acumatica keys)."""
    redis = get_redis()
    if not redis.exists(_key("fresh")):
        refresh()
    wanted = inventory_id.strip().upper()
    if redis.sismember(_key(), wanted):
        return True
    item = clients.acumatica().get_by_keys(
        "StockItem", inventory_id, select=["InventoryID"], missing_ok=True
    )
    if item is None:
        return False
    redis.sadd(_key(), wanted)
    return True


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
