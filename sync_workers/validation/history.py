"""What the risk rules need to know about a buyer's past, kept in Redis for a week.

Recent orders per e-mail and per shipping address (sorted sets scored by order time), each
order's total per e-mail (a hash, which makes remembering an order idempotent) and, beside it,
the count and the sum in cents of those totals. Written after an order's sales order exists.

Reading a buyer's history costs the same however many orders the buyer has: counts over a
time range and a running sum, never the list of orders (a buyer with thousands of orders a
week made every order of theirs slower to validate than the last).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from sync_workers.dates import parse_optional
from sync_workers.mapping.orders import money
from sync_workers.redis_client import Reader, get_redis, prefixed, read_together
from sync_workers.validation import risk

KEEP_SECONDS = 7 * 24 * 3600

#: Remember one order: its total (replacing the one remembered before, if any) and the running
#: count and sum of the e-mail's totals.
#: KEYS: by_email, by_address, totals, sums.
#: ARGV: order id, score, total in cents, keep seconds, oldest score kept, total.
_REMEMBER = """
local function cents(value)
  local n = tonumber(value)
  if n == nil then return 0 end
  return math.floor(n * 100 + 0.5)
end
local before = redis.call('HGET', KEYS[3], ARGV[1])
local now = tonumber(ARGV[3])
if before then
  redis.call('HINCRBY', KEYS[4], 'cents', now - cents(before))
else
  redis.call('HINCRBY', KEYS[4], 'count', 1)
  redis.call('HINCRBY', KEYS[4], 'cents', now)
end
redis.call('HSET', KEYS[3], ARGV[1], ARGV[6])
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], ARGV[2], ARGV[1])
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', '(' .. ARGV[5])
end
for i = 1, 4 do
  redis.call('EXPIRE', KEYS[i], ARGV[4])
end
return 1
"""


def _keys(order: Mapping[str, Any]) -> tuple[str, str, str, str]:
    email = str(order.get("email") or "").casefold()
    address = risk.address_key(order.get("shipping_address") or order.get("billing_address"))
    return (
        prefixed("risk", "email", email),
        prefixed("risk", "addr", address),
        prefixed("risk", "totals", email),
        prefixed("risk", "sums", email),
    )


def _cents(value: Any) -> int:
    try:
        return int(money(value) * 100)
    except (InvalidOperation, ValueError):
        return 0


def recent(order: Mapping[str, Any], window_minutes: float) -> risk.History:
    """The buyer's history before this order (the order itself is left out): one round trip."""
    history: risk.History = read_together(recent_reader(order, window_minutes))[0]
    return history


def recent_reader(order: Mapping[str, Any], window_minutes: float) -> Reader:
    """:func:`recent` as a reader of :func:`read_together` (one round trip with other reads)."""
    by_email, by_address, totals_key, sums_key = _keys(order)
    now = time.time()
    since = now - window_minutes * 60
    me = str(order["id"])

    def queue(pipe: Any) -> Callable[[list[Any]], risk.History]:
        pipe.zcount(by_email, since, now)
        pipe.zscore(by_email, me)
        pipe.zcount(by_address, since, now)
        pipe.zscore(by_address, me)
        pipe.hmget(sums_key, "count", "cents")
        pipe.hget(totals_key, me)
        return finish

    def finish(replies: list[Any]) -> risk.History:
        emails, my_email_score, addresses, my_address_score, sums, mine = replies

        def without_me(count: int, score: float | None) -> int:
            return count - (1 if score is not None and since <= score <= now else 0)

        count, cents = int(sums[0] or 0), int(sums[1] or 0)
        if mine is not None:
            count, cents = count - 1, cents - _cents(mine)
        return risk.History(
            previous_count=max(count, 0),
            previous_sum=Decimal(cents) / 100 if count > 0 else Decimal(0),
            recent_orders_same_email=without_me(emails, my_email_score),
            recent_orders_same_address=without_me(addresses, my_address_score),
        )

    return queue


def remember(order: Mapping[str, Any]) -> None:
    moment = parse_optional(order.get("create_date"))
    score = moment.timestamp() if moment else time.time()
    script = get_redis().register_script(_REMEMBER)  # sent by its digest (EVALSHA)
    script(
        keys=list(_keys(order)),
        args=[
            str(order["id"]),
            score,
            _cents(order.get("total")),
            KEEP_SECONDS,
            time.time() - KEEP_SECONDS,
            str(order.get("total")),
        ],
    )
