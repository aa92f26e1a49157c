"""Products (both ways): StockItem <-> X-Cart product or variant, matched SKU = InventoryID.

Chain ``sync`` (``tasks.products.sync``, record: the SKU), under the SKU's lock: ``fetch`` (the
stock item and the store record) -> ``create`` (the side that is missing, when the template
allows it) -> ``attributes`` (the store's attribute values on the stock item, as the template's
``attributes`` section maps them; an unmapped attribute or a missing definition or value stops
the record here, before anything else is written) -> ``patch`` (each field group's owner wins;
only what differs is written) -> ``remember`` (the hashes of both sides, in the ledger).

Change detection differs per side: X-Cart has no updated-since filter for products, so its
catalogue is scanned and each product's mapped fields are hashed; Acumatica items are read by
``LastModifiedDateTime`` (the ledger cursor, with the template's ``poll`` section): with
``poll.source: odata`` a cursor poll finds the new versions in the InventoryItem DAC through
OData and reads only those StockItems through the contract API (:func:`changed_erp_items`). A
SKU whose hash differs from the one the ledger remembers is handed out to its chain. An edit of
attribute values alone leaves the product record as it was: with ``poll.attribute_scan_seconds``
each cursor poll also hashes the attribute values of a slice of the catalogue, the slices
covering every product once in that time (:func:`attribute_slice`).

``plan`` and ``drift`` compare the mapped fields and, with an ``attributes`` section, what the
``attributes`` step would write against the stock items' ``Attributes`` and custom fields
(:class:`AttributeComparison`).

No ping-pong: after every sync the ledger keeps the hash of both sides *as we left them*
(``data.xcart_hash``, ``data.erp_hash``), so our own write, seen again by the next scan, poll,
webhook or push notification, matches and is skipped.
"""

from __future__ import annotations

import bisect
import copy
import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F, one_of
from sync_workers.connectors.errors import NotFound
from sync_workers.connectors.xcart.attributes import AttributeReader
from sync_workers.connectors.xcart.client import XCartClient
from sync_workers.connectors.xcart.index import StoreIndex, StoreTarget
from sync_workers.cursor import PollCursor
from sync_workers.dates import parse_datetime, parse_optional
from sync_workers.errors import PermanentError, TransientError
from sync_workers.flows.shape import (
    Chain,
    Drift,
    FieldChange,
    Flow,
    HandOut,
    PlannedChange,
    PollRequest,
    Start,
    State,
    Step,
    template_cursor,
)
from sync_workers.hashing import content_hash
from sync_workers.ledger import (
    Status,
    SyncRecord,
    claim_record,
    mark_status,
    mark_synced,
    session_scope,
)
from sync_workers.locks import record_lock
from sync_workers.mapping import product_attributes as attribute_map
from sync_workers.mapping import products as mapping
from sync_workers.mapping.inventory import sku_key
from sync_workers.mapping.product_attributes import StoreAttribute
from sync_workers.mapping.products import ProductsConfig
from sync_workers.mapping.templates import change_source, load_template
from sync_workers.redis_client import get_redis, prefixed

log = logging.getLogger(__name__)

NAME = "products"
DIRECTION = "acumatica_to_xcart"
XCART_DIRECTION = "xcart_to_acumatica"


def config() -> ProductsConfig:
    return mapping.load_config()


@dataclass
class StoreRecord:
    target: StoreTarget
    record: dict[str, Any]

    @property
    def is_variant(self) -> bool:
        return self.target.variant_id is not None

    def view(self, cfg: ProductsConfig) -> dict[str, Any]:
        return mapping.xcart_view(self.record, cfg, variant=self.is_variant)


# -- reads and writes -----------------------------------------------------------------------------


def store_index() -> StoreIndex:
    return StoreIndex(clients.xcart())


def read_store(sku: str) -> StoreRecord | None:
    target = store_index().find(sku)
    if target is None:
        return None
    xcart = clients.xcart()
    if target.variant_id is None:
        return StoreRecord(target, xcart.get_product(target.product_id))
    return StoreRecord(target, xcart.get_variant(target.product_id, target.variant_id))


def read_erp(sku: str) -> dict[str, Any] | None:
    return clients.acumatica().get_by_keys("StockItem", sku, missing_ok=True)


def write_store(store: StoreRecord, fields: Mapping[str, Any]) -> dict[str, Any]:
    xcart = clients.xcart()
    target = store.target
    if target.variant_id is not None:
        return xcart.update_variant(target.product_id, target.variant_id, fields)
    return xcart.update_product(target.product_id, fields)


def create_store_product(sku: str, item: Mapping[str, Any], cfg: ProductsConfig) -> StoreRecord:
    created = clients.xcart().create_product(mapping.new_store_product(sku, item, cfg))
    target = StoreTarget(sku, int(created["id"]))
    store_index().add(target)  # a retry of this chain must find it, not create it again
    return StoreRecord(target, created)


# -- ledger memory --------------------------------------------------------------------------------


def remembered(skus: Iterable[str] | None = None) -> dict[str, dict[str, Any]]:
    """Ledger data (``xcart_hash``, ``erp_hash``...) per SKU."""
    with session_scope() as session:
        query = select(SyncRecord.source_id, SyncRecord.data).where(
            SyncRecord.flow == NAME, SyncRecord.direction == DIRECTION
        )
        if skus is not None:
            query = query.where(SyncRecord.source_id.in_(sorted(set(skus))))
        return {source: dict(data or {}) for source, data in session.execute(query)}


def remember_synced(
    sku: str,
    store: StoreRecord,
    item: Mapping[str, Any],
    cfg: ProductsConfig,
    *,
    custom_hash: str | None = None,
    attributes_hash: str | None = None,
) -> None:
    """Both hashes; ``custom_hash``: the custom-field values last written, ``attributes_hash``:
    the store's attribute values last synced (each kept when not given)."""
    variant = store.is_variant
    with session_scope() as session:
        record = claim_record(session, NAME, DIRECTION, sku)
        kept = (record.data or {}).get("custom_hash")
        seen = attributes_hash or (record.data or {}).get("attributes_hash")
        mark_synced(
            session,
            record,
            target_key=store.target.key,
            content_hash=mapping.view_hash(store.view(cfg)),
            data={
                "xcart_hash": mapping.view_hash(store.view(cfg)),
                "erp_hash": mapping.view_hash(mapping.erp_view(item, cfg, variant=variant)),
                "unmatched": False,
                **({"custom_hash": custom_hash or kept} if custom_hash or kept else {}),
                **({"attributes_hash": seen} if seen else {}),
            },
        )


def remember_unmatched(sku: str, store: StoreRecord, cfg: ProductsConfig) -> None:
    """A store SKU without a stock item: remember its hash so it is not looked at every poll."""
    with session_scope() as session:
        record = claim_record(session, NAME, DIRECTION, sku)
        record.data = {
            **(record.data or {}),
            "xcart_hash": mapping.view_hash(store.view(cfg)),
            "unmatched": True,
        }
        mark_status(session, record, Status.SKIPPED, error="no stock item in Acumatica")


# -- the chain ------------------------------------------------------------------------------------


@contextmanager
def locked(state: Mapping[str, Any]) -> Iterator[None]:
    """The SKU's lock, from the first read to the ledger write."""
    with record_lock(NAME, sku_key(state["record_id"])):
        yield


def fetch(state: State) -> State:
    """The stock item and the store product or variant of the SKU (either may be missing)."""
    sku = sku_key(state["record_id"])
    state["sku"] = sku
    state["item"] = read_erp(sku)
    state["store"] = read_store(sku)
    return state


def create(state: State) -> State:
    """The missing side, when the template allows it; otherwise the run ends here (a store SKU
    without a stock item is remembered as unmatched)."""
    cfg = config()
    sku, item, store = state["sku"], state["item"], state["store"]
    if store is None:
        if item is None or not cfg.create_store_products:
            state["skip"] = "no X-Cart product"
            return state
        state["store"] = store = create_store_product(sku, item, cfg)
        state["created"] = "xcart"
    if item is None:
        if store.is_variant or not cfg.create_stock_items:
            remember_unmatched(sku, store, cfg)
            state["skip"] = "no stock item"
            return state
        new = mapping.new_stock_item(sku, store.record, cfg)
        state["item"] = clients.acumatica().put("StockItem", new, mode="insert")
        state["created"] = "acumatica"
    return state


def attributes(state: State) -> State:
    """The store's attribute values on the stock item: the rows that differ from its
    ``Attributes`` and the custom fields whose values changed since they were last written;
    missing definitions and values first, when the template allows creating them."""
    cfg = config().attributes
    if state.get("skip") or not cfg.active:
        return state
    store: StoreRecord = state["store"]
    wanted = wanted_attributes(store, AttributeReader(clients.xcart()))
    state["attributes_hash"] = attribute_map.values_hash(wanted)
    if not wanted:
        return state
    acumatica = clients.acumatica()
    needed = attribute_map.attribute_ids(wanted, cfg)
    definitions = {
        attribute_id: _definition(
            acumatica.get_by_keys(
                "AttributeDefinition", attribute_id, expand=["Values"], missing_ok=True
            )
        )
        for attribute_id in needed
    }
    todo = attribute_map.plan(wanted, definitions, cfg)
    for body in todo.definitions.values():
        acumatica.put("AttributeDefinition", body, expand=["Values"])
    current = (
        acumatica.get_by_keys("StockItem", state["sku"], expand=["Attributes"]) or {}
        if todo.rows
        else {}
    )
    rows = attribute_map.differing(todo.rows, current)
    write: dict[str, Any] = {}
    if rows:
        write["Attributes"] = [{"AttributeID": k, "Value": v} for k, v in sorted(rows.items())]
    custom_hash = content_hash(todo.custom) if todo.custom else None
    if custom_hash and custom_hash != remembered([state["sku"]]).get(state["sku"], {}).get(
        "custom_hash"
    ):
        write["custom"] = attribute_map.custom_body(todo.custom)
    if write:
        state["item"] = acumatica.put(
            "StockItem", {"InventoryID": state["sku"], **write}, expand=["Attributes"]
        )
    state["custom_hash"] = custom_hash
    state["attributes"] = sorted(rows)
    return state


def wanted_attributes(store: StoreRecord, reader: AttributeReader) -> list[StoreAttribute]:
    """The store's attribute values of one SKU (a variant: its own and its product's
    single-valued ones)."""
    found = reader.product_attributes(store.target.product_id)
    return attribute_map.item_values(found, store.record if store.is_variant else None)


def _definition(record: Mapping[str, Any] | None) -> attribute_map.Definition | None:
    return attribute_map.definition_from(record) if record is not None else None


def patch(state: State) -> State:
    """Write to each side the groups the other side owns, where they differ."""
    if state.get("skip"):
        return state
    store: StoreRecord = state["store"]
    todo = mapping.patches(store.record, state["item"], config(), variant=store.is_variant)
    if todo.xcart:
        store.record = {**store.record, **write_store(store, todo.xcart)}
    if todo.acumatica:
        state["item"] = clients.acumatica().put(
            "StockItem", {"InventoryID": state["sku"], **todo.acumatica}
        )
    state["action"] = "create" if state.get("created") else ("update" if todo else "skip")
    state["summary"] = {"xcart": sorted(todo.xcart), "acumatica": sorted(todo.acumatica)}
    return state


def remember(state: State) -> State:
    """Both sides' hashes as we left them, so our own writes are recognised when seen again."""
    if state.get("skip"):
        return state
    store: StoreRecord = state["store"]
    remember_synced(
        state["sku"],
        store,
        state["item"],
        config(),
        custom_hash=state.get("custom_hash"),
        attributes_hash=state.get("attributes_hash"),
    )
    state["target_key"] = store.target.key
    return state


# -- finding changes ------------------------------------------------------------------------------


def store_records(*, persist: bool = True) -> dict[str, StoreRecord]:
    """Every product and variant of the store by SKU: products page by page, variants of the
    products the SKU index knows to have some."""
    index = store_index().current() if persist else store_index().scan()
    xcart = clients.xcart()
    found: dict[str, StoreRecord] = {}
    for product in xcart.iter_products():
        sku = sku_key(product.get("sku"))
        if sku:  # a product newer than the index is matched by its own id
            target = index.get(sku) or StoreTarget(sku, int(product["id"]))
            found[sku] = StoreRecord(target, product)
    for pid in sorted({t.product_id for t in index.values() if t.variant_id is not None}):
        for variant in xcart.iter_variants(pid):
            sku = sku_key(variant.get("sku"))
            if sku in index:
                found[sku] = StoreRecord(index[sku], variant)
    return found


def erp_items(since: datetime | None) -> Iterable[dict[str, Any]]:
    flt = F("LastModifiedDateTime") >= since if since is not None else None
    return clients.acumatica().iter_list("StockItem", filter=flt)


#: The DAC the OData change poll reads (``InventoryCD`` is the contract API's ``InventoryID``).
DAC = "InventoryItem"
#: New versions read one StockItem at a time; past this many, one paged contract-API read of the
#: window costs fewer requests.
READ_ONE_BY_ONE_MAX = 10


def changed_erp_items(cursor: PollCursor) -> Iterator[dict[str, Any]]:
    """The stock items changed since the cursor's window starts: their keys and dates from the
    InventoryItem DAC through OData (no API seat; one request when idle), then the StockItem
    record of each new version from the contract API (or, past ``READ_ONE_BY_ONE_MAX`` of
    them, the window's StockItems in one paged read).

    Like the contract-API read, it has no upper bound: an item changed after the window's end
    is read now and again by the next poll (the ledger's hashes make that harmless). A version
    in the window that the cursor has already handled (re-read in the overlap) costs no
    contract-API request."""
    window = cursor.window()
    acumatica = clients.acumatica()
    rows = acumatica.odata.changes(
        DAC,
        key="InventoryCD",
        start=window.start,
        end=None,
        filter=F("StkItem") == True,  # noqa: E712 (an OData comparison, not a Python one)
    )
    fresh: list[str] = []
    for row in rows:
        sku, moment = row.get("InventoryCD"), parse_optional(row.get("LastModifiedDateTime"))
        if sku is None or moment is None:
            continue
        if moment in window and not cursor.accept(sku_key(sku), moment, moment):
            continue
        fresh.append(str(sku).strip())
    if len(fresh) > READ_ONE_BY_ONE_MAX:
        yield from erp_items(window.start)
        return
    for sku in fresh:
        item = acumatica.get_by_keys("StockItem", sku, missing_ok=True)
        if item is not None:
            yield item


def changed_skus(
    since: str | datetime | None = None,
    ids: Iterable[str] | None = None,
    all: bool = False,
    hand_out: HandOut | None = None,
) -> list[str]:
    """SKUs to sync: X-Cart hash or Acumatica hash differs from what the ledger remembers.

    Records whose both sides are already equal are adopted into the ledger on the spot, so the
    first run over an already-aligned catalogue starts no chains. ``hand_out`` (the poll's)
    starts the SKUs' chains before the cursor moves past them.

    When ``poll.attribute_scan_seconds`` is set, a cursor poll also reads the attribute values
    of the next slice of products (:func:`attribute_slice`); a SKU whose values differ from the
    ones its last sync saw runs its chain even when no other field changed (a SKU seen for the
    first time only has its values remembered). SKUs that reconcile's repair named
    (:func:`before_repair`) run theirs too.
    """
    cfg = config()
    cursor = template_cursor(NAME, DIRECTION, load_template(NAME).get("poll"))
    moment = parse_optional(since)
    window_start = moment if moment is not None else cursor.window().start
    if all:
        window_start = None
    wanted = {sku_key(s) for s in ids} if ids else None
    cursor_poll = since is None and not all and ids is None
    scan = not cursor_poll or _store_scan_due(cfg)
    stores = store_records() if scan else {}
    memory = remembered()
    sliced = AttributeSlice()
    if cursor_poll and cfg.attributes.active and cfg.attribute_scan_seconds is not None:
        sliced = attribute_slice(cfg.attribute_scan_seconds, stores if scan else None)
    seen_attributes = sliced.hashes
    rerun = {
        sku
        for sku, value in seen_attributes.items()
        if memory.get(sku, {}).get("attributes_hash") not in (None, value)
        and not memory.get(sku, {}).get("unmatched")
    }
    if not scan:  # the store records of attribute-only edits, for their chains
        for sku in sorted(rerun):
            record = sliced.records.get(sku) or read_store(sku)
            if record is not None:
                stores[sku] = record
    repairs = {sku_key(s) for s in get_redis().smembers(repair_key())}
    rerun |= {s for s in repairs if wanted is None or s in wanted}
    candidates: set[str] = {s for s in rerun if s in stores}
    for sku, store in stores.items():
        if wanted is not None and sku not in wanted:
            continue
        known = memory.get(sku, {})
        if (
            all
            or known.get("xcart_hash") != mapping.view_hash(store.view(cfg))
            or (cfg.create_stock_items and known.get("unmatched") and not store.is_variant)
        ):
            candidates.add(sku)
    items: dict[str, dict[str, Any]] = {}
    index = store_index()
    odata = (
        cursor_poll and window_start is not None and change_source(load_template(NAME)) == "odata"
    )
    for item in changed_erp_items(cursor) if odata else erp_items(window_start):
        sku = sku_key(item.get("InventoryID"))
        if cursor_poll and not odata:  # the version is handled: the OData poll need not read it
            moment = parse_optional(item.get("LastModifiedDateTime"))
            if moment is not None:
                cursor.accept(sku, moment, moment)
        if wanted is not None and sku not in wanted:
            continue
        items[sku] = item
        if scan:
            variant = sku in stores and stores[sku].is_variant
        else:  # no store scan this time: the SKU index (cached) says what the SKU is
            target = index.find(sku)
            variant = target is not None and target.variant_id is not None
        erp_hash = mapping.view_hash(mapping.erp_view(item, cfg, variant=variant))
        if all or memory.get(sku, {}).get("erp_hash") != erp_hash:
            candidates.add(sku)
            if not scan:  # read just this record from the store
                record = read_store(sku)
                if record is not None:
                    stores[sku] = record
    chains: list[str] = []
    every_item_read = scan and window_start is None and wanted is None
    for sku in sorted(candidates):
        found, erp_item = stores.get(sku), items.get(sku)
        if found is None:
            if cfg.create_store_products:
                chains.append(sku)
        elif erp_item is not None:
            if sku in rerun or mapping.patches(
                found.record, erp_item, cfg, variant=found.is_variant
            ):
                chains.append(sku)
            else:
                remember_synced(sku, found, erp_item, cfg)
        elif every_item_read and not cfg.create_stock_items:
            remember_unmatched(sku, found, cfg)
        else:
            chains.append(sku)
    if hand_out is not None:
        hand_out([Start("sync", sku) for sku in chains])
    considered = {s for s in repairs if wanted is None or s in wanted}
    if considered:
        get_redis().srem(repair_key(), *sorted(considered))
    _remember_attribute_baselines(
        {s: v for s, v in seen_attributes.items() if s not in chains}, memory
    )
    if cursor_poll:
        cursor.commit()
        if scan:
            get_redis().set(store_scan_key(), str(time.time()))
        sliced.save()
    return chains


#: The most products one cursor poll reads the attribute values of, so that a slice costs at
#: most about ``3 + ATTRIBUTE_SLICE_MAX x (4 + attributes)`` store requests whatever the size of
#: the catalogue.
ATTRIBUTE_SLICE_MAX = 100


def attribute_scan_key() -> str:
    """The attribute scan's place in Redis (a hash): ``after``, the id of the last product whose
    values were read, and ``at``, the time the slices read so far account for."""
    return prefixed(NAME, "attribute-scan")


@dataclass
class AttributeSlice:
    """What one poll's slice of the attribute scan saw: each SKU's values hashed, the variant
    records it read, and the place to keep once the poll is done (``after``: the last product
    read, None when none was; ``at``: the time the slices account for)."""

    hashes: dict[str, str] = field(default_factory=dict)
    records: dict[str, StoreRecord] = field(default_factory=dict)
    after: int | None = None
    at: float = 0.0

    def save(self) -> None:
        if self.after is not None:
            get_redis().hset(attribute_scan_key(), mapping={"after": self.after, "at": self.at})


def slice_size(products: int, period: float, at: float | None, now: float) -> tuple[int, float]:
    """How many products the slice due ``now`` reads, and the time it accounts for up to.

    Each product's share of ``period`` is ``period / products`` seconds: a slice is due once a
    share has passed since ``at`` and reads one product per whole share passed (at most
    ``ATTRIBUTE_SLICE_MAX``, at most the catalogue). A slice accounts only for its products'
    shares, so what is left of a share, or what a capped slice left, is read by the next polls:
    every product once per period, however often the polls come. Time older than one period
    is not owed. The first slice (no ``at``) reads one product; a period of 0 reads the most
    every poll."""
    if products == 0:
        return 0, now
    if at is None:
        return 1, now
    most = min(products, ATTRIBUTE_SLICE_MAX)
    if period <= 0:
        return most, now
    start = max(at, now - period)
    share = period / products
    if now - start < share:
        return 0, at
    count = min(math.floor((now - start) / share), most)
    return count, start + count * share


def attribute_slice(period: float, stores: Mapping[str, StoreRecord] | None) -> AttributeSlice:
    """The attribute values of the next slice of the catalogue (see :func:`slice_size`).

    Products are taken in id order from the one after the last slice's, wrapping around, so the
    slices read every product once per ``period``. The product list comes from the SKU index
    (kept in Redis, see :class:`StoreIndex`); the values cost what
    :mod:`sync_workers.connectors.xcart.attributes` says (3 global lists per slice, then per
    product 3 lists and one read per attribute), and a product with variants one read of its
    variant list, unless ``stores`` (this poll's store scan) holds its variants' records. A
    product gone from the store is passed over; a read that fails ends the slice early (the
    next poll goes on from there)."""
    targets: dict[int, list[StoreTarget]] = {}
    for target in store_index().current(partial=True).values():
        targets.setdefault(target.product_id, []).append(target)
    ids = sorted(targets)
    redis = get_redis()
    place = redis.hgetall(attribute_scan_key())
    at = float(place["at"]) if "at" in place else None
    count, covered = slice_size(len(ids), period, at, time.time())
    if count == 0:
        return AttributeSlice()
    first = bisect.bisect_right(ids, int(place.get("after", -1)))
    xcart = clients.xcart()
    reader = AttributeReader(xcart)
    found = AttributeSlice()
    for product_id in (ids[(first + i) % len(ids)] for i in range(count)):
        try:
            values = reader.product_attributes(product_id)
            variants = _variant_records(xcart, product_id, targets[product_id], stores)
        except NotFound:  # gone from the store since the index was built
            found.after = product_id
            continue
        except TransientError as exc:
            log.info("products: attribute scan stopped before product %s (%s)", product_id, exc)
            covered = at if at is not None else covered  # the products not read stay owed
            break
        for target in targets[product_id]:
            if target.variant_id is None:
                found.hashes[target.sku] = attribute_map.values_hash(
                    attribute_map.item_values(values)
                )
            elif target.sku in variants:
                record = StoreRecord(target, variants[target.sku])
                found.records[target.sku] = record
                found.hashes[target.sku] = attribute_map.values_hash(
                    attribute_map.item_values(values, record.record)
                )
        found.after = product_id
    found.at = covered
    return found


def _variant_records(
    xcart: XCartClient,
    product_id: int,
    targets: list[StoreTarget],
    stores: Mapping[str, StoreRecord] | None,
) -> dict[str, dict[str, Any]]:
    """The records of a product's variants by SKU (none read when it has none)."""
    skus = {t.sku for t in targets if t.variant_id is not None}
    if not skus:
        return {}
    if stores is not None:
        return {s: stores[s].record for s in skus if s in stores}
    rows = xcart.iter_variants(product_id)
    return {sku_key(v.get("sku")): v for v in rows if sku_key(v.get("sku")) in skus}


def _remember_attribute_baselines(seen: Mapping[str, str], memory: Mapping[str, Any]) -> None:
    """Keep the attribute hashes of ledger records that have none (or whose values were seen
    without a chain to run), so the next scan compares against them."""
    fresh = {s: v for s, v in seen.items() if memory.get(s, {}).get("attributes_hash") != v}
    if not fresh:
        return
    with session_scope() as session:
        rows = session.scalars(
            select(SyncRecord).where(
                SyncRecord.flow == NAME,
                SyncRecord.direction == DIRECTION,
                SyncRecord.source_id.in_(sorted(fresh)),
            )
        )
        for record in rows:
            record.data = {**(record.data or {}), "attributes_hash": fresh[record.source_id]}


def repair_key() -> str:
    return prefixed(NAME, "repair")


def before_repair(skus: list[str]) -> None:
    """Reconcile's repair: the next poll naming these SKUs runs their chains even when their
    fields agree (attribute drift), and their custom fields are written again."""
    found = sorted({sku_key(s) for s in skus if sku_key(s)})
    if not found:
        return
    get_redis().sadd(repair_key(), *found)
    with session_scope() as session:
        rows = session.scalars(
            select(SyncRecord).where(
                SyncRecord.flow == NAME,
                SyncRecord.direction == DIRECTION,
                SyncRecord.source_id.in_(found),
            )
        )
        for record in rows:
            data = dict(record.data or {})
            if data.pop("custom_hash", None) is not None:
                record.data = data


def store_scan_key() -> str:
    return prefixed(NAME, "store-scan", "last")


def _store_scan_due(cfg: ProductsConfig) -> bool:
    last = get_redis().get(store_scan_key())
    return last is None or time.time() - float(last) >= cfg.store_scan_seconds


def poll(request: PollRequest, hand_out: HandOut) -> dict[str, Any]:
    """Scan the X-Cart catalogue (when due) and read changed stock items; one chain per SKU
    that changed (``ids``: those SKUs; ``since``, ``all``: a resync)."""
    return {"changed": changed_skus(request.since, request.ids, request.all, hand_out)}


def on_store_event(data: Mapping[str, Any]) -> str | None:
    """The SKU of a ``product.*`` webhook to sync, or None when it echoes what we left there."""
    sku = sku_key(data.get("sku"))
    if not sku:
        return None
    cfg = config()
    target = store_index().find(sku)
    variant = target is not None and target.variant_id is not None
    seen = mapping.view_hash(mapping.xcart_view(data, cfg, variant=variant))
    if remembered([sku]).get(sku, {}).get("xcart_hash") == seen:
        return None
    return sku


def on_webhook(event: str, data: Mapping[str, Any]) -> list[Start]:
    """A signed ``product.*`` webhook from the store module; our own writes are recognised."""
    sku = on_store_event(data) if event.startswith("product.") else None
    return [Start("sync", sku)] if sku else []


def skus_in_push(notification: Mapping[str, Any]) -> list[str]:
    rows = [*(notification.get("Inserted") or ()), *(notification.get("Deleted") or ())]
    return sorted({sku_key(r.get("InventoryID")) for r in rows if r.get("InventoryID")})


def on_push(notification: Mapping[str, Any]) -> list[Start]:
    """An Acumatica push notification of stock-item rows (the ``StockItems`` inquiry)."""
    return [Start("sync", sku) for sku in skus_in_push(notification)]


# -- plan and drift -------------------------------------------------------------------------------


def _compare(
    ids: Iterable[str] | None, cfg: ProductsConfig
) -> list[tuple[str, StoreRecord, dict[str, Any]]]:
    """Matched SKUs with their store record and stock item. With an ``attributes`` section the
    stock items come with their ``Attributes`` and mapped custom fields in the same paged read
    (no call per SKU)."""
    wanted = {sku_key(s) for s in ids} if ids else None
    stores = store_records(persist=False)
    extra: dict[str, Any] = {}
    if cfg.attributes.active:
        extra["expand"] = ["Attributes"]
        if cfg.attributes.custom_fields:
            extra["custom"] = attribute_map.custom_names(cfg.attributes)
    out = []
    for item in clients.acumatica().iter_list("StockItem", **extra):
        sku = sku_key(item.get("InventoryID"))
        if sku in stores and (wanted is None or sku in wanted):
            out.append((sku, stores[sku], item))
    return out


class AttributeComparison:
    """What the ``attributes`` step would write, against what stock items hold: the store's
    values read once per product, the mapped definitions in one read."""

    def __init__(self, cfg: ProductsConfig) -> None:
        self.cfg = cfg.attributes
        self.reader = AttributeReader(clients.xcart())
        self._definitions: dict[str, attribute_map.Definition] | None = None

    def definitions(self) -> dict[str, attribute_map.Definition]:
        if self._definitions is None:
            ids = sorted(set(self.cfg.map.values()))
            rows = (
                clients.acumatica().get_list(
                    "AttributeDefinition",
                    filter=one_of("AttributeID", list(ids)),
                    expand=["Values"],
                )
                if ids
                else []
            )
            found = (attribute_map.definition_from(r) for r in rows)
            self._definitions = {d.attribute_id: d for d in found}
        return self._definitions

    def changes(self, store: StoreRecord, item: Mapping[str, Any]) -> list[FieldChange]:
        """The stock item's attribute rows (``Attributes[<AttributeID>]``) and custom fields
        (``custom.<View>.<Field>``) that differ; raises ``PermanentError`` where the step would
        stop the record."""
        wanted = wanted_attributes(store, self.reader)
        if not wanted:
            return []
        known = self.definitions()
        definitions = {
            attribute_id: copy.deepcopy(known.get(attribute_id))
            for attribute_id in attribute_map.attribute_ids(wanted, self.cfg)
        }
        todo = attribute_map.plan(wanted, definitions, self.cfg)
        return [
            *(
                FieldChange(f"Attributes[{attribute_id}]", now, new)
                for attribute_id, now, new in attribute_map.row_changes(todo.rows, item)
            ),
            *(
                FieldChange(f"custom.{path}", now, new)
                for path, now, new in attribute_map.custom_changes(todo.custom, item)
            ),
        ]


def _attribute_changes(
    comparison: AttributeComparison | None, store: StoreRecord, item: Mapping[str, Any]
) -> tuple[list[FieldChange], str | None]:
    """(differences, why a resync would stop the record instead)."""
    if comparison is None:
        return [], None
    try:
        return comparison.changes(store, item), None
    except PermanentError as exc:
        return [], (
            f"{exc}: a resync stops this SKU in the dead-letter queue; fix the products "
            "template's attributes section (or Acumatica's definitions) first"
        )


def plan(
    since: str | datetime | None = None, ids: Iterable[str] | None = None, all: bool = False
) -> list[PlannedChange]:
    """Writes a resync would make, per SKU (reads only): the mapped fields and, with an
    ``attributes`` section, the attribute values."""
    cfg = config()
    moment = parse_optional(since)
    comparison = AttributeComparison(cfg) if cfg.attributes.active else None
    out: list[PlannedChange] = []
    for sku, store, item in _compare(ids, cfg):
        modified = item.get("LastModifiedDateTime")
        if moment is not None and modified and parse_datetime(modified) < moment:
            continue
        todo = mapping.patches(store.record, item, cfg, variant=store.is_variant)
        extra, stop = _attribute_changes(comparison, store, item)
        changes = (*(FieldChange(f, now, new) for f, now, new in todo.differences), *extra)
        if not changes and not stop and not all:
            continue
        direction = XCART_DIRECTION if (todo.acumatica or extra) and not todo.xcart else DIRECTION
        out.append(
            PlannedChange(
                flow=NAME,
                direction=direction,
                source_id=sku,
                action="skip" if stop or not changes else "update",
                target_key=store.target.key,
                reason=stop or ("fields differ" if changes else "in agreement"),
                changes=changes,
            )
        )
    return out


def drift(since: str | datetime | None = None) -> list[Drift]:
    """SKUs whose mapped fields or attribute values differ between the two systems (each
    field, attribute row or custom field with its value now and the one expected); one whose
    attributes a resync would stop is not repairable, with the reason."""
    del since  # every matched SKU is compared
    cfg = config()
    comparison = AttributeComparison(cfg) if cfg.attributes.active else None
    found: list[Drift] = []
    for sku, store, item in _compare(None, cfg):
        todo = mapping.patches(store.record, item, cfg, variant=store.is_variant)
        extra, stop = _attribute_changes(comparison, store, item)
        if not todo and not extra and not stop:
            continue
        details: dict[str, Any] = {
            f: {"now": now, "expected": new} for f, now, new in todo.differences
        }
        details.update({c.field: {"now": c.current, "expected": c.proposed} for c in extra})
        if stop:
            details.update(repairable=False, reason=stop)
        found.append(Drift(NAME, DIRECTION, sku, store.target.key, "mismatch", details))
    return found


FLOW = Flow(
    name=NAME,
    direction=DIRECTION,
    template=NAME,
    chains=(
        Chain(
            "sync",
            DIRECTION,
            (
                Step("fetch", fetch),
                Step("create", create),
                Step("attributes", attributes),
                Step("patch", patch),
                Step("remember", remember),
            ),
            hold=("fetch", locked),
        ),
    ),
    poll=poll,
    plan=plan,
    drift=drift,
    cursors=(DIRECTION,),
    before_repair=before_repair,
    on_push=on_push,
    on_webhook=on_webhook,
)
