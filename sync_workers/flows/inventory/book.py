"""X-Cart orders the ERP has not seen: the order book the stock amount deducts.

X-Cart decrements its own stock at checkout, and Acumatica learns of an order only when the
orders flow has created its sales order (ledger flow ``orders`` marked ``synced``). Until then
the order's lines are subtracted from what the store may show. The book lives in Redis and
keeps only open, unsynced orders, so it is as small as the orders flow's backlog.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import select

from sync_workers import clients
from sync_workers.ledger import SyncRecord, session_scope
from sync_workers.ledger.models import Status
from sync_workers.mapping import inventory as mapping
from sync_workers.mapping.inventory import FLOW as NAME
from sync_workers.mapping.inventory import InventoryConfig
from sync_workers.redis_client import get_redis, prefixed

ORDERS_FLOW = "orders"
ORDERS_DIRECTION = "xcart_to_acumatica"
#: Whole-second X-Cart timestamps: re-read this far behind the last read.
ORDERS_OVERLAP_SECONDS = 2.0
ORDERS_FULL_READ_SECONDS = 600.0


def book_key() -> str:
    return prefixed(NAME, "orders")


def released_key() -> str:
    """Orders a read dropped from the book because the ledger shows them synced, with their
    lines: the next poll flushes their SKUs (the amount the store may show has grown)."""
    return prefixed(NAME, "orders", "synced")


def order_summary(order: Mapping[str, Any]) -> dict[str, Any]:
    status = order.get("payment_status") or {}
    return {
        "id": order.get("id"),
        "order_number": order.get("order_number"),
        "payment_status": {"code": status.get("code") if isinstance(status, Mapping) else status},
        "items": [
            {"sku": i.get("sku"), "amount": i.get("amount")} for i in order.get("items") or ()
        ],
    }


def recent_orders(
    cfg: InventoryConfig,
    *,
    after: float | None = None,
    persist: bool = True,
    cached: bool = False,
) -> list[dict]:
    """Open X-Cart orders not yet synced to Acumatica, kept in Redis between reads.

    A full read happens every ten minutes; otherwise only orders changed since the last read
    (minus a small overlap) are fetched. ``after`` (epoch seconds) asks for a book read that
    started at or after that moment; by default one younger than ``cache_seconds`` will do.
    ``cached`` never reads X-Cart: the book as it is (empty when there is none).

    Orders of the book that the ledger now shows synced leave it, and their SKUs are noted for
    the next poll: the amount X-Cart may show has grown.
    """
    redis = get_redis()
    raw = redis.get(book_key())
    book = json.loads(raw) if raw else None
    if cached:
        return list(book["orders"].values()) if book else []
    previous = dict(book["orders"]) if book else {}
    now = time.time()
    if book is None or now - book["full_at"] > ORDERS_FULL_READ_SECONDS:
        since = now - cfg.lookback_hours * 3600
        book = {"full_at": now, "at": now, "orders": {}}
    elif book["at"] < (now - cfg.orders_cache_seconds if after is None else after):
        since = book["at"] - ORDERS_OVERLAP_SECONDS
        book["at"] = now
    else:
        return list(book["orders"].values())
    for order in clients.xcart().orders_changed_since(datetime.fromtimestamp(since, UTC)):
        book["orders"][str(order["id"])] = order_summary(order)
    # Only open orders the ERP has not seen matter; the book stays as small as that backlog.
    synced = synced_order_keys([*book["orders"].values(), *previous.values()])
    book["orders"] = {
        oid: o
        for oid, o in book["orders"].items()
        if mapping.order_is_open(o, cfg)
        and str(o.get("id")) not in synced
        and str(o.get("order_number")) not in synced
    }
    if persist:
        gone = {
            oid: json.dumps(sorted(mapping.order_lines(o)))
            for oid, o in previous.items()
            if oid not in book["orders"]
            and (str(o.get("id")) in synced or str(o.get("order_number")) in synced)
        }
        pipe = redis.pipeline()
        pipe.set(book_key(), json.dumps(book), ex=int(ORDERS_FULL_READ_SECONDS * 2))
        if gone:
            pipe.hset(released_key(), mapping=cast("dict[str | bytes, str]", gone))
        pipe.execute()
    return list(book["orders"].values())


def skus_of(orders: Iterable[Mapping[str, Any]]) -> set[str]:
    return {sku for o in orders for sku in mapping.order_lines(o)}


def synced_order_keys(orders: Iterable[Mapping[str, Any]]) -> set[str]:
    """Ids and numbers of these orders that the orders flow has synced."""
    keys = {str(o[k]) for o in orders for k in ("id", "order_number") if o.get(k) is not None}
    if not keys:
        return set()
    with session_scope() as session:
        rows = session.execute(
            # flow, direction and source id: the unique index (by flow and status, SQLite
            # read every synced order)
            select(SyncRecord.source_id, SyncRecord.status).where(
                SyncRecord.flow == ORDERS_FLOW,
                SyncRecord.direction == ORDERS_DIRECTION,
                SyncRecord.source_id.in_(sorted(keys)),
            )
        )
        return {source_id for source_id, status in rows if status == Status.SYNCED.value}


def unsynced_quantities(
    cfg: InventoryConfig,
    skus: set[str] | None = None,
    *,
    after: float | None = None,
    persist: bool = True,
    cached: bool = False,
) -> dict[str, int]:
    """Units per SKU on open X-Cart orders the ERP has not seen (``skus``: those SKUs only)."""
    orders = recent_orders(cfg, after=after, persist=persist, cached=cached)
    if skus is not None:
        orders = [o for o in orders if skus & set(mapping.order_lines(o))]
    return mapping.unsynced_quantities(orders, synced_order_keys(orders), cfg)
