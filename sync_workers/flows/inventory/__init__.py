"""Inventory (Acumatica -> X-Cart): the store shows what the ERP can still sell.

Chain ``sync`` (``tasks.inventory.sync``, record: the SKU): ``locate`` (the store product or
variant; clears the SKU's coalescing mark) -> ``read`` (availability, unsynced X-Cart orders,
the store amount) -> ``write`` (the X-Cart amount when it differs, with the correction read).
From ``read`` on, the SKU's lock is held. See :mod:`.steps`.

Triggers only name SKUs: push notifications (coalesced: one flush per SKU per window), the
safety-net poll, a resync (:mod:`.poll`). The order book of X-Cart orders the ERP has not seen
is :mod:`.book`.
"""

from sync_workers.flows.inventory.book import synced_order_keys, unsynced_quantities
from sync_workers.flows.inventory.poll import (
    POLL_INLINE_FLUSHES,
    changed_skus,
    drift,
    on_push,
    plan,
    poll,
    poll_changes,
)
from sync_workers.flows.inventory.steps import (
    DIRECTION,
    NAME,
    config,
    locate,
    locked,
    read,
    store_index,
    write,
)
from sync_workers.flows.shape import Chain, Flow, Step

FLOW = Flow(
    name=NAME,
    direction=DIRECTION,
    template=NAME,
    chains=(
        Chain(
            "sync",
            DIRECTION,
            (Step("locate", locate), Step("read", read), Step("write", write)),
            hold=("read", locked),
        ),
    ),
    poll=poll,
    plan=plan,
    drift=drift,
    cursors=(DIRECTION,),
    on_push=on_push,
)

__all__ = [
    "DIRECTION",
    "FLOW",
    "NAME",
    "POLL_INLINE_FLUSHES",
    "changed_skus",
    "config",
    "drift",
    "plan",
    "poll",
    "poll_changes",
    "store_index",
    "synced_order_keys",
    "unsynced_quantities",
]
