"""Availability from the INSiteStatus DAC through OData (``poll.changes: INSiteStatus``).

A flush needs the item's quantity in every warehouse the template counts, not only in those
whose rows the change query returned. They are read for a page of items at once: one request
per ``ITEMS_PER_REQUEST`` items, their ``InventoryID``s or-ed in ``$filter``, with the
warehouse code through ``INSiteBySiteID``. No contract-API request and no API seat.

The ``InventoryID`` of each SKU (a database identity) is remembered in Redis, so a flush that
reads its own quantity (a push, a resync by id) costs one request. The poll hands each SKU's
figure to its flush (hints ``erp_available`` and ``erp_version``). The newest version a poll
handed out per SKU is kept in Redis: a flush whose hint is older (a task handed out by an
earlier poll, run after a later one) reads the quantity afresh.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F, any_of
from sync_workers.mapping import inventory as mapping
from sync_workers.mapping.inventory import CHANGES_DAC, FLOW, InventoryConfig, sku_key
from sync_workers.redis_client import get_redis, prefixed

#: Items per request: each adds three nodes to ``$filter`` (the OData libraries refuse more
#: than 100 nodes by default) and about 50 characters to the URL.
ITEMS_PER_REQUEST = 20
#: Rows per page of one request (items x warehouses x subitems).
ROWS_PER_PAGE = 1000
#: How long the versions of handed-out figures are kept; an older hint is read afresh.
VERSIONS_SECONDS = 3600


def _chunks(values: list[Any], size: int) -> Iterable[list[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def item_ids(skus: Iterable[str]) -> dict[str, int]:
    """The ``InventoryID`` (the database identity the INSiteStatus rows carry) of each SKU that
    is a stock item, from the InventoryItem DAC: one request per ``ITEMS_PER_REQUEST`` SKUs."""
    wanted = sorted({sku_key(s) for s in skus if sku_key(s)})
    odata = clients.acumatica().odata
    found: dict[str, int] = {}
    for chunk in _chunks(wanted, ITEMS_PER_REQUEST):
        rows = odata.changes(
            "InventoryItem",
            key="InventoryID",
            start=None,
            end=None,
            select=["InventoryCD"],
            filter=(F("StkItem") == True)  # noqa: E712 (an OData comparison)
            & any_of(*(F("InventoryCD") == sku for sku in chunk)),
            page_size=ROWS_PER_PAGE,
        )
        for row in rows:
            sku = sku_key(row.get("InventoryCD"))
            if sku in chunk and row.get("InventoryID") is not None:
                found[sku] = int(row["InventoryID"])
    return found


def _site_rows(ids: Mapping[str, int], cfg: InventoryConfig) -> dict[str, list[dict[str, Any]]]:
    """INSiteStatus rows per SKU of ``ids`` (SKU -> ``InventoryID``), every warehouse, with its
    code in ``SiteCD``: one request per ``ITEMS_PER_REQUEST`` items."""
    by_id = {int(i): sku_key(sku) for sku, i in ids.items()}
    rows: dict[str, list[dict[str, Any]]] = {sku: [] for sku in by_id.values()}
    odata = clients.acumatica().odata
    for chunk in _chunks(sorted(by_id), ITEMS_PER_REQUEST):
        found = odata.changes(
            CHANGES_DAC,
            key=("InventoryID", "SiteID"),
            start=None,
            end=None,
            select=[cfg.dac_column],
            filter=any_of(*(F("InventoryID") == i for i in chunk)),
            expand="INSiteBySiteID($select=SiteCD)",
            page_size=ROWS_PER_PAGE,
        )
        for row in found:
            item = row.get("InventoryID")
            sku = by_id.get(int(item)) if item is not None else None
            if sku is not None:
                site = (row.get("INSiteBySiteID") or {}).get("SiteCD")
                rows[sku].append({"SiteCD": site, cfg.dac_column: row.get(cfg.dac_column)})
    return rows


def availability(
    skus: Iterable[str], cfg: InventoryConfig, ids: Mapping[str, int] | None = None
) -> dict[str, float]:
    """Availability per SKU that is an Acumatica stock item, summed over the template's
    warehouses as :func:`~sync_workers.mapping.inventory.erp_available` sums the inquiry's rows
    (an item without INSiteStatus rows has 0).

    ``InventoryID``s come from ``ids`` (the change query's rows), else from those remembered in
    Redis, else from the InventoryItem DAC. A remembered one whose item shows no rows is looked
    up again (the item may have been deleted, or deleted and created anew).
    """
    wanted = {sku_key(s) for s in skus if sku_key(s)}
    known = {sku_key(s): int(i) for s, i in (ids or {}).items() if sku_key(s) in wanted}
    remembered = _remembered(wanted - set(known))
    known.update(remembered)
    looked_up = item_ids(wanted - set(known))
    known.update(looked_up)
    _remember({**known})
    rows = _site_rows(known, cfg) if known else {}
    stale = {sku for sku in remembered if not rows.get(sku)}
    if stale:
        _forget(stale)
        again = item_ids(stale)
        _remember(again)
        for sku in stale:
            if sku not in again:
                rows.pop(sku, None)  # no longer a stock item
        moved = {sku: i for sku, i in again.items() if i != remembered[sku]}
        rows.update(_site_rows(moved, cfg) if moved else {})
    return {sku: mapping.dac_available(found, cfg) for sku, found in rows.items()}


def _ids_key() -> str:
    return prefixed(FLOW, "item_ids")


def _remembered(skus: set[str]) -> dict[str, int]:
    if not skus:
        return {}
    ordered = sorted(skus)
    values = get_redis().hmget(_ids_key(), ordered)
    return {sku: int(v) for sku, v in zip(ordered, values, strict=True) if v}


def _remember(ids: Mapping[str, int]) -> None:
    if ids:
        get_redis().hset(_ids_key(), mapping={sku: str(i) for sku, i in ids.items()})


def _forget(skus: set[str]) -> None:
    if skus:
        get_redis().hdel(_ids_key(), *sorted(skus))


# -- the figures a poll hands to its flushes -----------------------------------------------------


def _versions_key() -> str:
    return prefixed(FLOW, "erp_versions")


def hints_for(figures: Mapping[str, float], version: str) -> dict[str, dict[str, Any]]:
    """Hints for the flushes of ``figures`` (SKU -> availability), noted as the newest."""
    if not figures:
        return {}
    pipe = get_redis().pipeline()
    pipe.hset(_versions_key(), mapping={sku: version for sku in figures})
    pipe.expire(_versions_key(), VERSIONS_SECONDS)
    pipe.execute()
    return {
        sku: {"erp_available": float(value), "erp_version": version}
        for sku, value in figures.items()
    }


def hinted(state: Mapping[str, Any]) -> float | None:
    """The availability a poll handed to this flush, if it is still the newest it handed out
    for the SKU; None otherwise (the flush reads it afresh)."""
    value, version = state.get("erp_available"), state.get("erp_version")
    if value is None or not version:
        return None
    newest = get_redis().hget(_versions_key(), state["sku"])
    if newest != version:
        return None
    return float(value)
