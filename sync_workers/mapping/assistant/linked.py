"""How records already linked were resolved: the codes a person set in Acumatica by hand.

An order stopped for its shipping method may still reach Acumatica: someone keys the sales order
by hand with the store's order number as its ``CustomerOrder`` and picks a ``ShipVia``. Each
such order is a vote, from the business itself, for what that shipping method means. The stopped
orders' numbers are read from the store (the dead letters keep only ids), the sales orders by
``CustomerOrder`` from Acumatica; at most :data:`LOOKED_UP` orders per value.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from sync_workers.connectors.acumatica.filters import F
from sync_workers.dlq import DeadLetterQueue
from sync_workers.errors import SyncError
from sync_workers.mapping import orders as order_map

LOOKED_UP = 5


def ship_vias_set_by_hand(
    entry_ids: list[str],
    queue: DeadLetterQueue,
    xcart: Any,
    acumatica: Any,
    template: Mapping[str, Any],
) -> dict[str, int]:
    """``ShipVia`` -> how many of the entries' orders have a sales order with it in Acumatica."""
    found: Counter[str] = Counter()
    for entry in queue.get_many(entry_ids[:LOOKED_UP]):
        if entry.flow != "orders" or not str(entry.record_id or "").isdigit():
            continue
        try:
            order = xcart.get_order(int(str(entry.record_id)))
            number = order_map.customer_order(order, template)
            rows = acumatica.get_list(
                "SalesOrder",
                filter=F("CustomerOrder") == number,
                select=["CustomerOrder", "ShipVia"],
                top=1,
            )
        except (SyncError, KeyError):
            continue
        code = str((rows[0] if rows else {}).get("ShipVia") or "").strip()
        if code:
            found[code] += 1
    return dict(found)
