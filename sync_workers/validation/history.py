"""What the risk rules need to know about a buyer's past, kept in Redis for a week.

Recent orders per e-mail and per shipping address (sorted sets scored by order time) and order
totals per e-mail. Written after an order's sales order exists; idempotent per order id.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from sync_workers.connectors.dates import parse_optional
from sync_workers.mapping.orders import money
from sync_workers.redis_client import get_redis, prefixed
from sync_workers.validation import risk

KEEP_SECONDS = 7 * 24 * 3600


def _keys(order: Mapping[str, Any]) -> tuple[str, str, str]:
    email = str(order.get("email") or "").casefold()
    address = risk.address_key(order.get("shipping_address") or order.get("billing_address"))
    return (
        prefixed("risk", "email", email),
        prefixed("risk", "addr", address),
        prefixed("risk", "totals", email),
    )


def recent(order: Mapping[str, Any], window_minutes: float) -> risk.History:
    """The buyer's history before this order (the order itself is left out)."""
    redis = get_redis()
    by_email, by_address, totals_key = _keys(order)
    now = time.time()
    since = now - window_minutes * 60
    me = str(order["id"])
    emails = [m for m in redis.zrangebyscore(by_email, since, now) if m != me]
    addresses = [m for m in redis.zrangebyscore(by_address, since, now) if m != me]
    totals = redis.hgetall(totals_key)
    return risk.History(
        previous_totals=[money(v) for k, v in totals.items() if k != me],
        recent_orders_same_email=len(emails),
        recent_orders_same_address=len(addresses),
    )


def remember(order: Mapping[str, Any]) -> None:
    by_email, by_address, totals_key = _keys(order)
    moment = parse_optional(order.get("create_date"))
    score = moment.timestamp() if moment else time.time()
    member = str(order["id"])
    pipe = get_redis().pipeline()
    pipe.zadd(by_email, {member: score})
    pipe.expire(by_email, KEEP_SECONDS)
    pipe.zadd(by_address, {member: score})
    pipe.expire(by_address, KEEP_SECONDS)
    pipe.hset(totals_key, member, str(order.get("total")))
    pipe.expire(totals_key, KEEP_SECONDS)
    pipe.execute()
