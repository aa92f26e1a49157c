"""The buyer history the risk rules read, in the real Redis: counts and sums, not lists."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sync_workers.redis_client import prefixed
from sync_workers.validation import history

ADDRESS = {"street": "1 Main St", "city": "Springfield", "zipcode": "11111", "country_code": "US"}


def order(order_id: int, total: Any, *, minutes_ago: float = 0, **extra: Any) -> dict[str, Any]:
    created = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    return {
        "id": order_id,
        "email": "Buyer@Example.com",
        "total": total,
        "create_date": created.isoformat(),
        "shipping_address": ADDRESS,
        **extra,
    }


def test_history_counts_earlier_orders_and_sums_their_totals(redis_client) -> None:
    history.remember(order(1, 10.5))
    history.remember(order(2, "20.25", minutes_ago=5))
    history.remember(order(3, 30, minutes_ago=600))  # outside a 60-minute window
    other = {**ADDRESS, "street": "2 Elm St"}
    history.remember(order(4, 1, shipping_address=other, email="someone@else.example"))

    seen = history.recent(order(5, 99, email="buyer@example.com"), 60)
    assert (seen.previous_count, seen.previous_sum) == (3, Decimal("60.75"))
    assert seen.recent_orders_same_email == 2
    assert seen.recent_orders_same_address == 2


def test_an_order_is_never_its_own_history_and_remembering_it_again_replaces_it(
    redis_client,
) -> None:
    history.remember(order(1, 10))
    history.remember(order(2, 20))
    history.remember(order(2, 25))  # a retry, or the order's total changed: still one order
    seen = history.recent(order(2, 25), 60)
    assert (seen.previous_count, seen.previous_sum) == (1, Decimal("10"))
    assert seen.recent_orders_same_email == 1 and seen.recent_orders_same_address == 1
    first = history.recent(order(9, 1), 60)
    assert (first.previous_count, first.previous_sum) == (2, Decimal("35"))


def test_orders_older_than_a_week_leave_the_recent_sets(redis_client) -> None:
    history.remember(order(1, 10, minutes_ago=8 * 24 * 60))
    history.remember(order(2, 10))
    members = redis_client.zrange(prefixed("risk", "email", "buyer@example.com"), 0, -1)
    assert members == ["2"]
    assert redis_client.ttl(prefixed("risk", "sums", "buyer@example.com")) > 0
