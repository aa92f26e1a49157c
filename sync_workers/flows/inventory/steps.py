"""The steps of a SKU's flush: make X-Cart show what the ERP can still sell.

``locate`` -> ``read`` -> ``write``; from ``read`` on, the SKU's lock is held. A flush reads the
*current* availability whatever triggered it, so duplicates, out-of-order deliveries and
Deleted/Inserted pairs split over two requests are all harmless, and a burst costs one read and
at most one write per SKU per coalescing window (:mod:`sync_workers.flows.coalesce`).

X-Cart requests are the scarce budget (hosted stores cap them), so the order book comes from
its short cache and is read afresh only when a write looks needed, and again after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from sync_workers import clients
from sync_workers.connectors.errors import NotFound, ValidationFailed
from sync_workers.connectors.xcart.index import StoreIndex, StoreTarget
from sync_workers.errors import TransientError
from sync_workers.flows.coalesce import Coalescer
from sync_workers.flows.inventory import quantities
from sync_workers.flows.inventory.book import unsynced_quantities
from sync_workers.flows.shape import State
from sync_workers.ledger import claim_record, mark_synced, session_scope
from sync_workers.locks import record_lock
from sync_workers.mapping import inventory as mapping
from sync_workers.mapping.inventory import FLOW as NAME
from sync_workers.mapping.inventory import InventoryConfig, sku_key

log = logging.getLogger(__name__)

DIRECTION = "acumatica_to_xcart"
#: Corrections after a write before the step gives up and is retried (orders keep arriving).
MAX_CORRECTIONS = 3


def config() -> InventoryConfig:
    return mapping.load_config()


def coalescer(cfg: InventoryConfig | None = None) -> Coalescer:
    return Coalescer(NAME, (cfg or config()).coalesce_window)


def store_index() -> StoreIndex:
    return StoreIndex(clients.xcart())


# -- both systems ---------------------------------------------------------------------------------


def erp_rows(sku: str) -> list[dict[str, Any]] | None:
    """``InventorySummaryInquiry`` rows of one item; None when Acumatica has no such item."""
    try:
        answer = clients.acumatica().put(
            "InventorySummaryInquiry", {"InventoryID": sku}, expand=["Results"]
        )
    except (NotFound, ValidationFailed):
        return None
    return list(answer.get("Results") or [])


def erp_availability(state: State, cfg: InventoryConfig) -> float | None:
    """The SKU's availability over the configured warehouses; None when Acumatica has no such
    stock item.

    With ``poll.changes: INSiteStatus``, the figure the poll handed over (when it is still the
    newest), else the INSiteStatus rows through OData; otherwise ``InventorySummaryInquiry``.
    """
    sku = state["sku"]
    if cfg.quantities_from_dac:
        handed = quantities.hinted(state)
        if handed is not None:
            return handed
        return quantities.availability([sku], cfg).get(sku)
    rows = erp_rows(sku)
    return None if rows is None else mapping.erp_available(rows, cfg)


def read_store_amount(target: StoreTarget) -> int:
    xcart = clients.xcart()
    if target.variant_id is None:
        record = xcart.get_product(target.product_id)
    else:
        record = xcart.get_variant(target.product_id, target.variant_id)
    return int(record.get("amount") or 0)


def write_store_amount(target: StoreTarget, amount: int) -> None:
    xcart = clients.xcart()
    if target.variant_id is None:
        xcart.set_product_stock(target.product_id, amount)
    else:
        xcart.set_variant_stock(target.product_id, target.variant_id, amount)


def remember(sku: str, target: StoreTarget, amount: int, available: float, unsynced: int) -> None:
    with session_scope() as session:
        record = claim_record(session, NAME, DIRECTION, sku)
        mark_synced(
            session,
            record,
            target_key=target.key,
            data={"amount": amount, "erp_available": available, "unsynced": unsynced},
        )


# -- the lock -------------------------------------------------------------------------------------


@contextmanager
def locked(state: Mapping[str, Any]) -> Iterator[None]:
    """The SKU's lock, from reading the amounts to writing them.

    A flush that finds it taken raises the lock's ``TransientError`` and the base task retries
    it after the lock's :func:`~sync_workers.locks.busy_wait`: a flush killed with its worker
    leaves its lock for ``LOCK_TIMEOUT``, and the backoff's jittered delays alone (each may be
    half its nominal length) can run out of retries before that lock expires.
    """
    if state.get("skip"):
        yield
        return
    with record_lock(NAME, state["sku"]):
        yield


# -- steps ----------------------------------------------------------------------------------------


def locate(state: State) -> State:
    """The SKU's store product or variant; a SKU the store does not track stock for is
    skipped. The SKU's coalescing mark is cleared first: a change from now on schedules the
    next flush instead of being lost."""
    sku = sku_key(state["record_id"])
    state["sku"] = sku
    coalescer().begin_flush(sku)
    target = store_index().find(sku)
    if target is None or not target.traceable:
        state["skip"] = "not a stock-tracked store SKU"
        return state
    state["target"] = target
    return state


def read(state: State) -> State:
    """The amount the store should show (availability, safety stock, units on X-Cart orders
    the ERP has not seen) and the one it shows. Availability: :func:`erp_availability`."""
    if state.get("skip"):
        return state
    cfg = config()
    sku = state["sku"]
    available = erp_availability(state, cfg)
    if available is None:
        state["skip"] = "no stock item in Acumatica"
        return state
    safety = cfg.safety_stock(sku)
    current = read_store_amount(state["target"])
    unsynced = unsynced_quantities(cfg, {sku}).get(sku, 0)
    wanted = mapping.store_amount(available, safety, unsynced)
    if wanted != current:
        # Any write may overwrite a recent checkout's decrement: count every order first.
        unsynced = unsynced_quantities(cfg, {sku}, after=time.time()).get(sku, 0)
        wanted = mapping.store_amount(available, safety, unsynced)
    state.update(available=available, current=current, unsynced=unsynced, wanted=wanted)
    return state


def write(state: State) -> State:
    """Write the amount when it differs; then read the newest orders again.

    The X-Cart API has no conditional write: a checkout committed between our order read and
    the write is overwritten. When one slipped in, the store amount and then the orders are
    read (in that order, so every order behind the amount is counted) and the corrected value
    is written, up to ``MAX_CORRECTIONS`` times; then the step is retried.
    """
    if state.get("skip"):
        return state
    cfg = config()
    sku, target = state["sku"], state["target"]
    available, current = state["available"], state["current"]
    unsynced, wanted = state["unsynced"], state["wanted"]
    safety = cfg.safety_stock(sku)
    writes = 0
    while current != wanted:
        if writes > MAX_CORRECTIONS:
            write_store_amount(target, wanted)  # the best value known; then look again
            remember(sku, target, wanted, available, unsynced)
            raise TransientError(
                f"inventory: orders for {sku} keep arriving; checking again shortly",
                retry_after=cfg.coalesce_window,
                details={"sku": sku, "writes": writes},
            )
        write_store_amount(target, wanted)
        writes += 1
        if unsynced_quantities(cfg, {sku}, after=time.time()).get(sku, 0) == unsynced:
            break
        current = read_store_amount(target)
        unsynced = unsynced_quantities(cfg, {sku}, after=time.time()).get(sku, 0)
        wanted = mapping.store_amount(available, safety, unsynced)
    if writes:
        remember(sku, target, wanted, available, unsynced)
        state["action"] = "update"
    else:
        state["skip"] = "amount unchanged"
    state["target_key"] = target.key
    state["summary"] = {
        "amount": wanted,
        "writes": writes,
        "erp_available": available,
        "unsynced": unsynced,
    }
    return state
