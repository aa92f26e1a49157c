"""Inventory mapping: from Acumatica availability rows to the amount X-Cart should show.

Pure functions over plain data; the flow (``sync_workers.flows.inventory``) does the reading
and writing. The rule, per SKU::

    store amount = max(0, floor(sum of availability over the configured warehouses
                                - safety stock
                                - quantities on X-Cart orders not yet in Acumatica))

Acumatica's ``QtyAvailable`` already deducts what open sales orders have booked and what sits on
open shipments; the X-Cart orders the ERP has not seen yet are the only demand it misses.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_workers.mapping.templates import load_template

FLOW = "inventory"
AVAILABILITY_FIELDS = ("QtyAvailable", "QtyAvailableForShipment", "QtyOnHand")
POLL_SOURCES = ("inquiry", "odata")
#: The contract-based inquiry that lists items whose availability changed since a date.
CHANGES_INQUIRY = "InventoryQuantityAvailable"
#: The DAC whose rows (item and warehouse) carry the quantities and their last change, read
#: through the DAC-based OData service (no API seat).
CHANGES_DAC = "INSiteStatus"
#: ``availability_field`` (an ``InventorySummaryInquiry`` result column) -> the INSiteStatus
#: column it shows: the inquiry's ``QtyAvailable`` is ``QtyAvail``, ``QtyAvailableForShipment``
#: is ``QtyHardAvail``, ``QtyOnHand`` is ``QtyOnHand`` (InventorySummaryEnquiryResult).
DAC_COLUMNS = {
    "QtyAvailable": "QtyAvail",
    "QtyAvailableForShipment": "QtyHardAvail",
    "QtyOnHand": "QtyOnHand",
}


def sku_key(sku: Any) -> str:
    """SKUs compare trimmed and case-blind (Acumatica InventoryIDs are upper-case)."""
    return str(sku or "").strip().upper()


@dataclass(frozen=True)
class InventoryConfig:
    warehouses: tuple[str, ...] = ()
    availability_field: str = "QtyAvailable"
    safety_default: float = 0.0
    safety_per_sku: Mapping[str, float] = field(default_factory=dict)
    coalesce_window: float = 0.5
    push_query: str = "ItemAvailability"
    push_sku_column: str = "InventoryID"
    poll_source: str = "inquiry"
    poll_gi: str = "ItemAvailability"
    poll_page_size: int = 1000
    poll_changes: str = ""
    full_compare_seconds: float = 600.0
    lookback_hours: float = 72.0
    orders_cache_seconds: float = 2.0
    released_payment_statuses: frozenset[str] = frozenset({"D", "C", "R"})
    store_index_seconds: float = 600.0
    store_index_variants_seconds: float = 3600.0

    def safety_stock(self, sku: str) -> float:
        return float(self.safety_per_sku.get(sku_key(sku), self.safety_default))

    def counts_warehouse(self, warehouse: Any) -> bool:
        return not self.warehouses or sku_key(warehouse) in self.warehouses

    @property
    def quantities_from_dac(self) -> bool:
        """Flushes take availability from INSiteStatus rows (OData) rather than from
        ``InventorySummaryInquiry`` (the contract API): with ``poll.changes: INSiteStatus``."""
        return self.poll_changes == CHANGES_DAC

    @property
    def dac_column(self) -> str:
        """The INSiteStatus column of ``availability_field``."""
        return DAC_COLUMNS[self.availability_field]


def validate_template(template: Mapping[str, Any]) -> list[str]:
    """Problems of ``inventory.yaml`` (called by ``mapping.templates.validate_all``)."""
    problems: list[str] = []
    warehouses = template.get("warehouses", [])
    if not isinstance(warehouses, list) or not all(isinstance(w, str) for w in warehouses):
        problems.append("warehouses: must be a list of warehouse ids")
    if template.get("availability_field", "QtyAvailable") not in AVAILABILITY_FIELDS:
        problems.append(f"availability_field: must be one of {', '.join(AVAILABILITY_FIELDS)}")
    safety = template.get("safety_stock", {})
    if not isinstance(safety, Mapping):
        problems.append("safety_stock: must be a mapping with default and per_sku")
    else:
        if not _non_negative(safety.get("default", 0)):
            problems.append("safety_stock.default: must be a number >= 0")
        per_sku = safety.get("per_sku") or {}
        if not isinstance(per_sku, Mapping):
            problems.append("safety_stock.per_sku: must map SKUs to numbers")
        else:
            problems.extend(
                f"safety_stock.per_sku.{sku}: must be a number >= 0"
                for sku, value in per_sku.items()
                if not _non_negative(value)
            )
    window = template.get("coalesce_window_seconds", 0.5)
    if not _non_negative(window) or float(window) > 300:
        problems.append("coalesce_window_seconds: must be a number from 0 to 300")
    poll = template.get("poll", {})
    if not isinstance(poll, Mapping) or poll.get("source", "inquiry") not in POLL_SOURCES:
        problems.append(f"poll.source: must be one of {', '.join(POLL_SOURCES)}")
    if isinstance(poll, Mapping):
        size = poll.get("page_size", 1000)
        if not _non_negative(size) or not 1 <= size <= 10000 or int(size) != size:
            problems.append("poll.page_size: must be a whole number from 1 to 10000")
        if poll.get("changes") not in (None, "", CHANGES_INQUIRY, CHANGES_DAC):
            problems.append(f"poll.changes: must be {CHANGES_DAC}, {CHANGES_INQUIRY} or empty")
        if not _non_negative(poll.get("full_compare_seconds", 600)):
            problems.append("poll.full_compare_seconds: must be a number >= 0")
    for key in ("store_index_seconds", "store_index_variants_seconds"):
        if key in template and not _non_negative(template[key]):
            problems.append(f"{key}: must be a number >= 0")
    orders = template.get("unsynced_orders", {})
    if not isinstance(orders, Mapping):
        problems.append("unsynced_orders: must be a mapping")
    else:
        for key in ("lookback_hours", "cache_seconds"):
            if key in orders and not _non_negative(orders[key]):
                problems.append(f"unsynced_orders.{key}: must be a number >= 0")
    return problems


def _non_negative(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def config_from(template: Mapping[str, Any]) -> InventoryConfig:
    problems = validate_template(template)
    if problems:
        raise ValueError("inventory.yaml: " + "; ".join(problems))
    safety = template.get("safety_stock") or {}
    push = template.get("push") or {}
    poll = template.get("poll") or {}
    orders = template.get("unsynced_orders") or {}
    return InventoryConfig(
        warehouses=tuple(sku_key(w) for w in template.get("warehouses") or ()),
        availability_field=template.get("availability_field", "QtyAvailable"),
        safety_default=float(safety.get("default", 0)),
        safety_per_sku={sku_key(k): float(v) for k, v in (safety.get("per_sku") or {}).items()},
        coalesce_window=float(template.get("coalesce_window_seconds", 0.5)),
        push_query=str(push.get("query", "ItemAvailability")),
        push_sku_column=str(push.get("sku_column", "InventoryID")),
        poll_source=str(poll.get("source", "inquiry")),
        poll_gi=str(poll.get("gi", "ItemAvailability")),
        poll_page_size=int(poll.get("page_size", 1000)),
        poll_changes=str(poll.get("changes") or ""),
        full_compare_seconds=float(poll.get("full_compare_seconds", 600)),
        lookback_hours=float(orders.get("lookback_hours", 72)),
        orders_cache_seconds=float(orders.get("cache_seconds", 2)),
        released_payment_statuses=frozenset(
            str(s) for s in orders.get("released_payment_statuses", ("D", "C", "R"))
        ),
        store_index_seconds=float(template.get("store_index_seconds", 600)),
        store_index_variants_seconds=float(template.get("store_index_variants_seconds", 3600)),
    )


def load_config() -> InventoryConfig:
    return config_from(load_template(FLOW))


def erp_available(rows: Iterable[Mapping[str, Any]], config: InventoryConfig) -> float:
    """Availability of one item summed over the configured warehouses.

    ``rows`` are ``InventorySummaryInquiry`` results or generic-inquiry rows of that item (one per
    warehouse, or per location: they add up the same way).
    """
    total = 0.0
    for row in rows:
        if config.counts_warehouse(row.get("WarehouseID")):
            total += float(row.get(config.availability_field) or 0.0)
    return total


def dac_available(rows: Iterable[Mapping[str, Any]], config: InventoryConfig) -> float:
    """Availability of one item summed over the configured warehouses, from INSiteStatus rows
    (one per warehouse, or per warehouse and subitem) with the warehouse code in ``SiteCD``:
    the same figure :func:`erp_available` makes of the item's inquiry rows."""
    total = 0.0
    for row in rows:
        if config.counts_warehouse(row.get("SiteCD")):
            total += float(row.get(config.dac_column) or 0.0)
    return total


def store_amount(available: float, safety: float, unsynced: float) -> int:
    """The amount X-Cart may sell: whole units, never below zero."""
    return max(0, math.floor(available - safety - unsynced + 1e-9))


def skus_in_notification(notification: Mapping[str, Any], sku_column: str) -> set[str]:
    """SKUs named in a push notification's rows, old and new.

    Both halves count: a Deleted + Inserted pair is one update, and either half alone (the pair
    may arrive split over two deliveries) is enough to know the SKU changed.
    """
    skus: set[str] = set()
    for part in ("Inserted", "Deleted"):
        for row in notification.get(part) or ():
            if isinstance(row, Mapping) and row.get(sku_column):
                skus.add(sku_key(row[sku_column]))
    return skus


def order_is_open(order: Mapping[str, Any], config: InventoryConfig) -> bool:
    """An order whose stock X-Cart still holds (not declined, cancelled or refunded)."""
    status = order.get("payment_status") or {}
    code = status.get("code") if isinstance(status, Mapping) else status
    return str(code or "") not in config.released_payment_statuses


def order_lines(order: Mapping[str, Any]) -> dict[str, int]:
    """Units per SKU on one X-Cart order."""
    lines: dict[str, int] = {}
    for item in order.get("items") or ():
        sku = sku_key(item.get("sku"))
        if sku:
            lines[sku] = lines.get(sku, 0) + int(item.get("amount") or 0)
    return lines


def unsynced_quantities(
    orders: Iterable[Mapping[str, Any]], synced: set[str], config: InventoryConfig
) -> dict[str, int]:
    """Units per SKU on open X-Cart orders whose id and number are both absent from ``synced``."""
    totals: dict[str, int] = {}
    for order in orders:
        if str(order.get("id")) in synced or str(order.get("order_number")) in synced:
            continue
        if not order_is_open(order, config):
            continue
        for sku, amount in order_lines(order).items():
            totals[sku] = totals.get(sku, 0) + amount
    return totals
