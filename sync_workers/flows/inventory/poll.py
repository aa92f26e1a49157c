"""Which SKUs to flush: push notifications, the safety-net poll, resyncs; plan and drift.

The cursor poll asks Acumatica once which items changed since its cursor (the ledger's, with
the template's ``poll`` section); an idle poll costs that one request. It adds the SKUs whose
X-Cart orders the ledger now shows synced (Redis and ledger only), runs the first
``POLL_INLINE_FLUSHES`` flushes itself and hands the rest out. On the first poll, every
``full_compare_seconds``, without ``poll.changes`` and on a resync, every store SKU is compared
instead (availability against the X-Cart amounts).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sync_workers import clients
from sync_workers.connectors.errors import AuthError
from sync_workers.connectors.xcart.index import StoreTarget
from sync_workers.cursor import PollCursor
from sync_workers.dates import parse_optional, to_utc_iso
from sync_workers.errors import PermanentError
from sync_workers.flows.inventory import quantities
from sync_workers.flows.inventory.book import (
    ORDERS_FULL_READ_SECONDS,
    recent_orders,
    released_key,
    skus_of,
    synced_order_keys,
    unsynced_quantities,
)
from sync_workers.flows.inventory.steps import (
    DIRECTION,
    coalescer,
    config,
    erp_rows,
    store_index,
)
from sync_workers.flows.runner import run_inline
from sync_workers.flows.shape import (
    Drift,
    FieldChange,
    HandOut,
    PlannedChange,
    PollRequest,
    Start,
    template_cursor,
)
from sync_workers.mapping import inventory as mapping
from sync_workers.mapping.inventory import CHANGES_DAC, InventoryConfig, sku_key
from sync_workers.mapping.inventory import FLOW as NAME
from sync_workers.mapping.templates import load_template
from sync_workers.redis_client import get_redis, prefixed

log = logging.getLogger(__name__)

#: A poll runs this many flushes itself (the changes it found reach the store without waiting
#: for a worker) and hands the rest out.
POLL_INLINE_FLUSHES = 25


# -- realtime -------------------------------------------------------------------------------------


def on_push(notification: Mapping[str, Any]) -> list[Start]:
    """The SKUs a push notification names, each flushed at most once per coalescing window: at
    once for a SKU not flushed within ``coalesce_window_seconds``, else when that window ends,
    for the SKUs not already waiting for a flush. (The receiver has already dropped repeated
    ``Id``s; a repeat that gets through only marks the SKUs again.)"""
    cfg = config()
    query = notification.get("Query")
    if query and query != cfg.push_query:
        log.info("inventory: ignoring push notification of query %r", query)
        return []
    skus = sorted(mapping.skus_in_notification(notification, cfg.push_sku_column))
    return [Start("sync", sku, countdown=delay) for sku, delay in coalescer(cfg).schedule(skus)]


# -- comparing every SKU --------------------------------------------------------------------------


def erp_availability(skus: Iterable[str], cfg: InventoryConfig) -> dict[str, float]:
    """Availability per SKU (only SKUs Acumatica knows), by inquiry or by the OData GI."""
    wanted = {sku_key(s) for s in skus}
    if cfg.poll_source == "odata":
        rows: dict[str, list[dict[str, Any]]] = {}
        for row in clients.acumatica().odata.gi(cfg.poll_gi, page_size=cfg.poll_page_size):
            sku = sku_key(row.get(cfg.push_sku_column))
            if sku in wanted:
                rows.setdefault(sku, []).append(row)
        return {sku: mapping.erp_available(r, cfg) for sku, r in rows.items()}
    out: dict[str, float] = {}
    for sku in sorted(wanted):
        found = erp_rows(sku)
        if found is not None:
            out[sku] = mapping.erp_available(found, cfg)
    return out


def expected_amounts(
    skus: Iterable[str], cfg: InventoryConfig, *, persist: bool = True, cached: bool = False
) -> dict[str, dict[str, Any]]:
    """What X-Cart should show per SKU Acumatica knows, with the figures behind it.

    ``cached`` takes the unsynced orders from the order book as it is (no X-Cart read): enough
    to decide which SKUs need a flush, since every flush that writes reads the orders afresh.
    """
    skus = {sku_key(s) for s in skus}
    available = erp_availability(skus, cfg)
    unsynced = unsynced_quantities(cfg, set(available), persist=persist, cached=cached)
    return {
        sku: {
            "erp_available": avail,
            "safety_stock": cfg.safety_stock(sku),
            "unsynced": unsynced.get(sku, 0),
            "expected": mapping.store_amount(avail, cfg.safety_stock(sku), unsynced.get(sku, 0)),
        }
        for sku, avail in available.items()
    }


def store_amounts(index: Mapping[str, StoreTarget]) -> dict[str, int]:
    """Current X-Cart amounts of the indexed SKUs: product pages plus the variants we map."""
    xcart = clients.xcart()
    amounts: dict[str, int] = {}
    for product in xcart.iter_products():
        if product.get("sku"):
            amounts[sku_key(product["sku"])] = int(product.get("amount") or 0)
    for pid in sorted({t.product_id for t in index.values() if t.variant_id is not None}):
        for variant in xcart.iter_variants(pid):
            if variant.get("sku"):
                amounts[sku_key(variant["sku"])] = int(variant.get("amount") or 0)
    return {sku: amount for sku, amount in amounts.items() if sku in index}


def _compare(
    ids: Iterable[str] | None, *, persist: bool = True
) -> list[tuple[str, StoreTarget, dict[str, Any]]]:
    """(sku, store target with its current amount, expected figures) for stock-tracked SKUs.

    The engine's own comparison (``persist``) works on the index as far as it could be read and
    on the cached order book; plan and drift read everything afresh and store nothing.
    """
    cfg = config()
    index = store_index().current(partial=True) if persist else store_index().scan()
    amounts = store_amounts(index) if persist else {s: t.amount or 0 for s, t in index.items()}
    wanted = {sku_key(s) for s in ids} if ids else set(index)
    skus = [s for s in wanted if s in index and index[s].traceable and s in amounts]
    expected = expected_amounts(skus, cfg, persist=persist, cached=persist)
    out = []
    for sku in sorted(expected):
        target = index[sku]
        current = StoreTarget(sku, target.product_id, target.variant_id, True, amounts[sku])
        out.append((sku, current, expected[sku]))
    return out


def changed_figures(ids: Iterable[str] | None = None, all: bool = False) -> dict[str, float]:
    """Availability of the SKUs whose X-Cart amount differs from the expected one (of every
    SKU when ``all``), in SKU order."""
    return {
        sku: figures["erp_available"]
        for sku, target, figures in _compare(ids)
        if all or target.amount != figures["expected"]
    }


def changed_skus(ids: Iterable[str] | None = None, all: bool = False) -> list[str]:
    """SKUs whose X-Cart amount differs from the expected one (every SKU when ``all``)."""
    return list(changed_figures(ids, all))


# -- the cursor poll ------------------------------------------------------------------------------


def poll_cursor() -> PollCursor:
    """The change query's cursor, as the template's ``poll`` section sets it."""
    return template_cursor(NAME, DIRECTION, load_template(NAME).get("poll"), settle=0.0)


@dataclass(frozen=True)
class Change:
    """One row of the change query: ``key`` and the version (date and quantity) dedupe it;
    ``item_id``: the item's ``InventoryID`` (INSiteStatus rows only)."""

    key: str
    sku: str
    quantity: Any
    modified: Any
    item_id: int | None = None


def changed_items(cfg: InventoryConfig, since: datetime) -> list[Change]:
    """The items whose availability changed at or after ``since``: one request when idle,
    whatever the size of the catalogue.

    ``poll.changes: INSiteStatus``: the DAC's rows through OData (no API seat), one per item and
    warehouse, the codes read through its navigation properties, only the configured
    warehouses; ``InventoryQuantityAvailable``: the contract-API inquiry, one row per item (its
    quantity over all warehouses)."""
    if cfg.poll_changes == CHANGES_DAC:
        rows = clients.acumatica().odata.changes(
            CHANGES_DAC,
            key=("InventoryID", "SiteID"),
            start=since,
            end=None,
            select=[cfg.dac_column],
            expand="InventoryItemByInventoryID($select=InventoryCD),INSiteBySiteID($select=SiteCD)",
        )
        found = []
        for row in rows:
            item = row.get("InventoryItemByInventoryID") or {}
            site = (row.get("INSiteBySiteID") or {}).get("SiteCD")
            sku = sku_key(item.get("InventoryCD"))
            if sku and cfg.counts_warehouse(site):
                key = f"{sku}@{sku_key(site)}"
                found.append(
                    Change(
                        key,
                        sku,
                        row.get(cfg.dac_column),
                        row.get("LastModifiedDateTime"),
                        row.get("InventoryID"),
                    )
                )
        return found
    answer = clients.acumatica().put(
        cfg.poll_changes, {"LastModifiedDateTime": to_utc_iso(since)}, expand=["Results"]
    )
    return [
        Change(
            sku_key(r.get("InventoryID")),
            sku_key(r.get("InventoryID")),
            r.get("QtyAvailable"),
            r.get("LastModifiedDateTime"),
        )
        for r in answer.get("Results") or []
    ]


def _poll_key(*parts: str) -> str:
    return prefixed(NAME, "poll", *parts)


def _moment(value: Any) -> datetime | None:
    try:
        return parse_optional(value)
    except (TypeError, ValueError):
        return None


@dataclass
class PollChanges:
    """What one poll found; :meth:`commit` once its SKUs are flushed or handed out."""

    skus: list[str]
    full: bool
    cursor: PollCursor
    #: The newest ``LastModifiedDateTime`` the change query returned (Acumatica's clock).
    latest: datetime | None = None
    dropped_orders: list[str] = field(default_factory=list)
    synced_orders: list[str] = field(default_factory=list)
    started: float = 0.0
    #: Availability per SKU to flush, read by this poll (``poll.changes: INSiteStatus``).
    available: dict[str, float] = field(default_factory=dict)

    def commit(self) -> None:
        pipe = get_redis().pipeline()
        if self.dropped_orders:
            pipe.hdel(released_key(), *self.dropped_orders)
        if self.synced_orders:
            pipe.sadd(_poll_key("synced_orders"), *self.synced_orders)
            pipe.expire(_poll_key("synced_orders"), int(ORDERS_FULL_READ_SECONDS * 2))
        if self.full:
            pipe.set(_poll_key("full_at"), repr(self.started))
        pipe.execute()
        # The cursor follows Acumatica's dates (not this machine's clock), from the first
        # poll's time on; the rows it has handled are kept as long as the overlap re-reads them.
        if self.cursor.position is None:
            self.cursor.commit()
        elif self.latest is not None:
            self.cursor.checkpoint(self.latest)


def poll_changes() -> PollChanges:
    """The SKUs one poll should flush.

    With ``poll.changes`` set, Acumatica is asked once which items changed since the cursor
    (minus ``poll.overlap_seconds``); a row whose date and quantity the cursor has already
    handled is skipped, so an idle poll costs that one request and nothing else. SKUs whose
    X-Cart orders the ledger now shows synced are added (Redis and ledger only). The store is
    not read here: each flush reads what it needs. On the first poll, every
    ``full_compare_seconds``, or without ``poll.changes``, every store SKU is compared instead
    (:func:`changed_skus`).

    With ``poll.changes: INSiteStatus`` the availability of the SKUs to flush is read here too,
    through OData (every counted warehouse of those items, a page of items per request), and
    handed to their flushes: no contract-API request. An idle poll still costs one request.
    """
    cfg = config()
    redis = get_redis()
    now = time.time()
    cursor = poll_cursor()
    full_at = float(redis.get(_poll_key("full_at")) or 0)
    first = cursor.position is None
    full = not cfg.poll_changes or first or now - full_at >= cfg.full_compare_seconds
    out = PollChanges(skus=[], full=full, cursor=cursor, started=now)
    fresh: set[str] = set()
    ids: dict[str, int] = {}
    if cfg.poll_changes:
        window = cursor.window()
        since = window.start if window.start is not None else window.end - cursor.overlap
        for change in changed_items(cfg, since):
            sku = change.sku
            if not sku:
                continue
            if change.item_id is not None:
                ids[sku] = int(change.item_id)
            moment = _moment(change.modified)
            if moment is None:
                fresh.add(sku)
                continue
            out.latest = moment if out.latest is None else max(out.latest, moment)
            if cursor.accept(change.key, f"{to_utc_iso(moment)} {change.quantity}", moment):
                fresh.add(sku)
    # Orders that became synced: noted by a flush that dropped them from the book, or still in
    # the book. Each is counted once (``synced_orders``: those a poll has already handled).
    dropped = redis.hgetall(released_key())
    book = recent_orders(cfg, cached=True)
    flagged = redis.smembers(_poll_key("synced_orders")) if book or dropped else set()
    synced = synced_order_keys(o for o in book if str(o.get("id")) not in flagged)
    now_synced = [
        o
        for o in book
        if str(o.get("id")) not in flagged
        and (str(o.get("id")) in synced or str(o.get("order_number")) in synced)
    ]
    released = skus_of(now_synced)
    for oid, skus in dropped.items():
        if oid not in flagged:
            released.update(json.loads(skus))
    out.dropped_orders = sorted(dropped)
    out.synced_orders = sorted({str(o.get("id")) for o in now_synced} | set(dropped))
    if full:
        figures = changed_figures()
        out.skus = list(figures)
        if cfg.quantities_from_dac:
            out.available = figures
    else:
        out.skus = sorted(fresh | released)
        if cfg.quantities_from_dac and out.skus:
            out.available = _dac_availability(out.skus, cfg, ids)
    return out


def _dac_availability(
    skus: list[str], cfg: InventoryConfig, ids: dict[str, int]
) -> dict[str, float]:
    """:func:`quantities.availability` of the SKUs to flush; when Acumatica refuses that read
    (say, a ``$filter`` longer than the instance allows), none: each flush reads its own."""
    try:
        return quantities.availability(skus, cfg, ids)
    except PermanentError as exc:
        if isinstance(exc, AuthError):
            raise
        log.warning(
            "inventory: INSiteStatus read of %d items refused (%s); each flush reads its own",
            len(skus),
            exc,
        )
        return {}


def flush(
    skus: Iterable[str], hand_out: HandOut, hints: Mapping[str, Mapping[str, Any]] | None = None
) -> list[str]:
    """Flush the first ``POLL_INLINE_FLUSHES`` SKUs in this task (one that fails continues as
    its own task) and hand the others out, each unless a flush is already on its way; returns
    the SKUs handed out. ``hints``: per SKU, what its flush need not read again."""
    skus = list(skus)
    hints = hints or {}
    for sku in skus[:POLL_INLINE_FLUSHES]:
        run_inline(NAME, "sync", sku, **hints.get(sku, {}))
    rest = coalescer().mark(skus[POLL_INLINE_FLUSHES:])
    hand_out([Start("sync", sku, dict(hints.get(sku, {}))) for sku in rest])
    return rest


def _hints(available: Mapping[str, float], started: float) -> dict[str, dict[str, Any]]:
    return quantities.hints_for(available, repr(started))


def poll(request: PollRequest, hand_out: HandOut) -> dict[str, Any]:
    """The safety net: the SKUs Acumatica changed since the last poll (one request when idle),
    and every store SKU whose X-Cart amount differs at each full comparison.

    ``ids`` compares those SKUs and ``all`` flushes every SKU (resync); ``since`` flushes every
    SKU too, availability having no modification date.
    """
    if not request.is_cursor_poll:
        figures = changed_figures(request.ids, all=request.all or request.since is not None)
        hints = _hints(figures, time.time()) if config().quantities_from_dac else {}
        changed = list(figures)
        return {"changed": changed, "handed_out": flush(changed, hand_out, hints), "full": True}
    found = poll_changes()
    handed_out = flush(found.skus, hand_out, _hints(found.available, found.started))
    found.commit()
    return {"changed": found.skus, "handed_out": handed_out, "full": found.full}


# -- plan and drift -------------------------------------------------------------------------------


def plan(
    since: str | datetime | None = None, ids: Iterable[str] | None = None, all: bool = False
) -> list[PlannedChange]:
    """What a resync would write (reads only; nothing is stored)."""
    del since  # availability has no modification date: every SKU is compared
    out: list[PlannedChange] = []
    for sku, target, figures in _compare(ids, persist=False):
        differs = target.amount != figures["expected"]
        if not differs and not all:
            continue
        out.append(
            PlannedChange(
                flow=NAME,
                direction=DIRECTION,
                source_id=sku,
                action="update" if differs else "skip",
                target_key=target.key,
                reason=_reason(figures),
                changes=(FieldChange("amount", target.amount, figures["expected"]),)
                if differs
                else (),
            )
        )
    return out


def drift(since: str | datetime | None = None) -> list[Drift]:
    """SKUs whose X-Cart amount differs from ERP availability minus safety and unsynced orders."""
    del since  # availability has no modification date: every SKU is compared
    return [
        Drift(
            flow=NAME,
            direction=DIRECTION,
            source_id=sku,
            target_key=target.key,
            kind="mismatch",
            details={**figures, "xcart_amount": target.amount},
        )
        for sku, target, figures in _compare(None, persist=False)
        if target.amount != figures["expected"]
    ]


def _reason(figures: Mapping[str, Any]) -> str:
    return (
        f"available {figures['erp_available']:g} - safety {figures['safety_stock']:g}"
        f" - unsynced orders {figures['unsynced']}"
    )
