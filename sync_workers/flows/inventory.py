"""Inventory (Acumatica -> X-Cart): the store shows what the ERP can still sell.

Triggers only name SKUs: a push notification's rows, the safety-net poll, a resync. The flush
(:func:`push_stock`) then reads the *current* availability, so duplicates, out-of-order deliveries
and Deleted/Inserted pairs split over two requests are all harmless, and a burst costs one read
and at most one write per SKU per coalescing window (``sync_workers.flows.coalesce``).

Overselling guard: X-Cart decrements its own stock at checkout, so the amount we write must
already deduct X-Cart orders the ERP has not seen (ledger flow ``orders`` not ``synced``). A
checkout landing between our read and our write would be overwritten, so after each write the
flush reads the newest orders again and corrects the amount when one slipped in.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import select

from sync_workers import clients
from sync_workers.connectors.xcart.index import (
    StoreTarget,
    find_target,
    scan_store,
    store_amount_of,
    store_index,
    write_store_amount,
)
from sync_workers.dates import parse_datetime, to_utc_iso
from sync_workers.errors import TransientError
from sync_workers.flows.base import Drift, FieldChange, PlannedChange
from sync_workers.flows.coalesce import Coalescer
from sync_workers.ledger import SyncRecord, claim_record, mark_synced, session_scope
from sync_workers.ledger.models import Status
from sync_workers.locks import record_lock
from sync_workers.mapping import inventory as mapping
from sync_workers.mapping.inventory import InventoryConfig, sku_key
from sync_workers.redis_client import get_redis, prefixed
from sync_workers.settings import get_settings

log = logging.getLogger(__name__)

FLOW = "inventory"
DIRECTION = "acumatica_to_xcart"
ORDERS_FLOW = "orders"
ORDERS_DIRECTION = "xcart_to_acumatica"
#: Whole-second X-Cart timestamps: re-read this far behind the last read.
ORDERS_OVERLAP_SECONDS = 2.0
ORDERS_FULL_READ_SECONDS = 600.0
MAX_CORRECTIONS = 3
#: A poll writes this many changed SKUs itself before handing the rest to flush tasks.
POLL_INLINE_FLUSHES = 25


def config() -> InventoryConfig:
    return mapping.load_config()


def coalescer(cfg: InventoryConfig | None = None) -> Coalescer:
    return Coalescer(FLOW, (cfg or config()).coalesce_window)


# -- the ERP side ---------------------------------------------------------------------------------


def erp_rows(sku: str) -> list[dict[str, Any]] | None:
    """``InventorySummaryInquiry`` rows of one item; None when Acumatica has no such item."""
    from sync_workers.connectors.errors import NotFound, ValidationFailed

    try:
        answer = clients.acumatica().put(
            "InventorySummaryInquiry", {"InventoryID": sku}, expand=["Results"]
        )
    except (NotFound, ValidationFailed):
        return None
    return list(answer.get("Results") or [])


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


# -- X-Cart orders the ERP has not seen ---------------------------------------------------------


def _order_summary(order: Mapping[str, Any]) -> dict[str, Any]:
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
    the next poll (:func:`poll_changes`): the amount X-Cart may show has grown.
    """
    redis = get_redis()
    key = prefixed(FLOW, "orders")
    raw = redis.get(key)
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
        book["orders"][str(order["id"])] = _order_summary(order)
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
        pipe.set(key, json.dumps(book), ex=int(ORDERS_FULL_READ_SECONDS * 2))
        if gone:
            pipe.hset(
                prefixed(FLOW, "orders", "synced"), mapping=cast("dict[str | bytes, str]", gone)
            )
        pipe.execute()
    return list(book["orders"].values())


def _skus_of(orders: Iterable[Mapping[str, Any]]) -> set[str]:
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
    orders = recent_orders(cfg, after=after, persist=persist, cached=cached)
    if skus is not None:
        orders = [o for o in orders if skus & set(mapping.order_lines(o))]
    return mapping.unsynced_quantities(orders, synced_order_keys(orders), cfg)


# -- steps ----------------------------------------------------------------------------------------


def on_push(notification: Mapping[str, Any]) -> list[str]:
    """SKUs a push notification names (the receiver has already dropped repeated ``Id``s; a
    repeat that gets through only marks the SKUs again)."""
    cfg = config()
    query = notification.get("Query")
    if query and query != cfg.push_query:
        log.info("inventory: ignoring push notification of query %r", query)
        return []
    return sorted(mapping.skus_in_notification(notification, cfg.push_sku_column))


def schedule(skus: Iterable[str]) -> list[str]:
    """Note changes; returns the SKUs that need a flush scheduled (one per window)."""
    return coalescer().mark(sku_key(s) for s in skus)


def push_stock(sku: str) -> dict[str, Any]:
    """Make X-Cart show the current amount for ``sku``; writes only when the value differs.

    X-Cart requests are the scarce budget (hosted stores cap them), so the order book comes from
    the short cache and is read afresh only when a write looks needed, and again after it.
    """
    cfg = config()
    sku = sku_key(sku)
    coalescer(cfg).begin_flush(sku)
    target = find_target(sku)
    if target is None or not target.traceable:
        return {"record_id": sku, "action": "skip", "reason": "not a stock-tracked store SKU"}
    with record_lock(FLOW, sku):
        rows = erp_rows(sku)
        if rows is None:
            return {"record_id": sku, "action": "skip", "reason": "no stock item in Acumatica"}
        available = mapping.erp_available(rows, cfg)
        safety = cfg.safety_stock(sku)
        current = store_amount_of(target)
        unsynced = unsynced_quantities(cfg, {sku}).get(sku, 0)
        wanted = mapping.store_amount(available, safety, unsynced)
        if wanted != current:
            # Any write may overwrite a recent checkout's decrement: count every order first.
            unsynced = unsynced_quantities(cfg, {sku}, after=time.time()).get(sku, 0)
            wanted = mapping.store_amount(available, safety, unsynced)
        writes = 0
        while current != wanted:
            if writes > MAX_CORRECTIONS:
                write_store_amount(target, wanted)  # the best value known; then look again
                _record(sku, target, wanted, available, unsynced)
                raise TransientError(
                    f"inventory: orders for {sku} keep arriving; checking again shortly",
                    retry_after=cfg.coalesce_window,
                    details={"sku": sku, "writes": writes},
                )
            write_store_amount(target, wanted)
            writes += 1
            if unsynced_quantities(cfg, {sku}, after=time.time()).get(sku, 0) == unsynced:
                break
            # A checkout between our order read and the write was overwritten. Read the store,
            # then the orders (in that order, so every order behind the amount is counted).
            current = store_amount_of(target)
            unsynced = unsynced_quantities(cfg, {sku}, after=time.time()).get(sku, 0)
            wanted = mapping.store_amount(available, safety, unsynced)
        if writes:
            _record(sku, target, wanted, available, unsynced)
    return {
        "record_id": sku,
        "action": "write" if writes else "skip",
        "amount": wanted,
        "writes": writes,
        "erp_available": available,
        "unsynced": unsynced,
    }


def push_now(skus: Iterable[str], limit: int = POLL_INLINE_FLUSHES) -> list[str]:
    """Flush up to ``limit`` SKUs in this process (the poll has just found them); returns the
    SKUs left for flush tasks (beyond the limit, or busy elsewhere)."""
    left: list[str] = []
    for n, sku in enumerate(skus):
        if n >= limit:
            left.append(sku)
            continue
        try:
            push_stock(sku)
        except TransientError:
            left.append(sku)
    return left


def _record(sku: str, target: StoreTarget, amount: int, available: float, unsynced: int) -> None:
    with session_scope() as session:
        record = claim_record(session, FLOW, DIRECTION, sku)
        mark_synced(
            session,
            record,
            target_key=target.key,
            data={"amount": amount, "erp_available": available, "unsynced": unsynced},
        )


# -- poll, plan, drift ----------------------------------------------------------------------------


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
    index = store_index(partial=True) if persist else scan_store()
    amounts = store_amounts(index) if persist else {s: t.amount for s, t in index.items()}
    wanted = {sku_key(s) for s in ids} if ids else set(index)
    skus = [s for s in wanted if s in index and index[s].traceable and s in amounts]
    expected = expected_amounts(skus, cfg, persist=persist, cached=persist)
    out = []
    for sku in sorted(expected):
        target = index[sku]
        current = StoreTarget(sku, target.product_id, target.variant_id, True, amounts[sku])
        out.append((sku, current, expected[sku]))
    return out


def changed_skus(ids: Iterable[str] | None = None, all: bool = False) -> list[str]:
    """SKUs whose X-Cart amount differs from the expected one (every SKU when ``all``)."""
    compared = _compare(ids)
    if all:
        return [sku for sku, _, _ in compared]
    return [sku for sku, target, figures in compared if target.amount != figures["expected"]]


# -- the poll: what changed since the last one ---------------------------------------------------


def changed_items(cfg: InventoryConfig, since: float) -> list[dict[str, Any]]:
    """Rows (``InventoryID``, ``QtyAvailable`` over all warehouses, ``LastModifiedDateTime``) of
    the items whose availability changed at or after ``since``: one request, whatever the size
    of the catalogue."""
    moment = to_utc_iso(datetime.fromtimestamp(since, UTC))
    answer = clients.acumatica().put(
        cfg.poll_changes, {"LastModifiedDateTime": moment}, expand=["Results"]
    )
    return list(answer.get("Results") or [])


def _poll_key(*parts: str) -> str:
    return prefixed(FLOW, "poll", *parts)


@dataclass
class PollChanges:
    """What one poll found; :meth:`commit` once the SKUs are flushed or scheduled."""

    skus: list[str]
    full: bool
    cursor: float | None = None
    seen: dict[str, str] = field(default_factory=dict)
    dropped_orders: list[str] = field(default_factory=list)
    synced_orders: list[str] = field(default_factory=list)
    started: float = 0.0

    def commit(self) -> None:
        redis = get_redis()
        pipe = redis.pipeline()
        if self.cursor is not None:
            pipe.set(_poll_key("cursor"), repr(self.cursor))
        if self.seen:
            pipe.hset(_poll_key("seen"), mapping=cast("dict[str | bytes, str]", self.seen))
        if self.dropped_orders:
            pipe.hdel(prefixed(FLOW, "orders", "synced"), *self.dropped_orders)
        if self.synced_orders:
            pipe.sadd(_poll_key("synced_orders"), *self.synced_orders)
            pipe.expire(_poll_key("synced_orders"), int(ORDERS_FULL_READ_SECONDS * 2))
        if self.full:
            pipe.set(_poll_key("full_at"), repr(self.started))
        pipe.execute()
        if self.full and self.cursor is not None:
            _forget_seen_before(self.cursor - get_settings().poll_overlap_seconds)


def _forget_seen_before(moment: float) -> None:
    """Fingerprints of rows the change query can no longer return are dropped."""
    redis = get_redis()
    old = [
        sku
        for sku, raw in redis.hgetall(_poll_key("seen")).items()
        if (_epoch(json.loads(raw)[0]) or 0.0) < moment
    ]
    if old:
        redis.hdel(_poll_key("seen"), *old)


def _epoch(value: Any) -> float | None:
    try:
        return parse_datetime(value).timestamp() if value else None
    except (TypeError, ValueError):
        return None


def poll_changes() -> PollChanges:
    """The SKUs one poll should flush.

    With ``poll.changes`` set, Acumatica is asked once which items changed since the cursor
    (minus ``POLL_OVERLAP_SECONDS``); rows already seen with the same date and quantity are
    skipped, so an idle poll costs that one request and nothing else. SKUs whose X-Cart orders
    the ledger now shows synced are added (Redis and ledger only). The store is not read here:
    each flush reads what it needs. On the first poll, every ``full_compare_seconds``, or
    without ``poll.changes``, every store SKU is compared instead (:func:`changed_skus`).
    """
    cfg = config()
    redis = get_redis()
    now = time.time()
    overlap = get_settings().poll_overlap_seconds
    raw_cursor = redis.get(_poll_key("cursor"))
    full_at = float(redis.get(_poll_key("full_at")) or 0)
    full = not cfg.poll_changes or raw_cursor is None or now - full_at >= cfg.full_compare_seconds
    out = PollChanges(skus=[], full=full, started=now)
    fresh: set[str] = set()
    if cfg.poll_changes:
        cursor = float(raw_cursor) if raw_cursor is not None else now
        rows = changed_items(cfg, cursor - overlap)
        latest: dict[str, float] = {}
        for row in rows:
            sku = sku_key(row.get("InventoryID"))
            if not sku:
                continue
            stamp = row.get("LastModifiedDateTime")
            out.seen[sku] = json.dumps([stamp, row.get("QtyAvailable")])
            moment = _epoch(stamp)
            if moment is not None:
                latest[sku] = moment
        if out.seen:
            known = redis.hmget(_poll_key("seen"), list(out.seen))
            fresh = {s for s, was in zip(out.seen, known, strict=True) if was != out.seen[s]}
        out.cursor = max([cursor, *latest.values()])
    # Orders that became synced: noted by a flush that dropped them from the book, or still in
    # the book. Each is counted once (``synced_orders``: those a poll has already handled).
    dropped = redis.hgetall(prefixed(FLOW, "orders", "synced"))
    book = recent_orders(cfg, cached=True)
    flagged = redis.smembers(_poll_key("synced_orders")) if book or dropped else set()
    synced = synced_order_keys(o for o in book if str(o.get("id")) not in flagged)
    now_synced = [
        o
        for o in book
        if str(o.get("id")) not in flagged
        and (str(o.get("id")) in synced or str(o.get("order_number")) in synced)
    ]
    released = _skus_of(now_synced)
    for oid, skus in dropped.items():
        if oid not in flagged:
            released.update(json.loads(skus))
    out.dropped_orders = sorted(dropped)
    out.synced_orders = sorted({str(o.get("id")) for o in now_synced} | set(dropped))
    if full:
        out.skus = changed_skus()
    else:
        out.skus = sorted(fresh | released)
    return out


def plan(
    since: datetime | None = None, ids: Iterable[str] | None = None, all: bool = False
) -> list[PlannedChange]:
    """What a resync would write (reads only; nothing is stored)."""
    out: list[PlannedChange] = []
    del since  # availability has no modification date: every SKU is compared
    for sku, target, figures in _compare(ids, persist=False):
        differs = target.amount != figures["expected"]
        if not differs and not all:
            continue
        out.append(
            PlannedChange(
                flow=FLOW,
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


def drift(since: datetime | None = None) -> list[Drift]:
    """SKUs whose X-Cart amount differs from ERP availability minus safety and unsynced orders."""
    del since  # availability has no modification date: every SKU is compared
    return [
        Drift(
            flow=FLOW,
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
