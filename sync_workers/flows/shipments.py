"""Shipments: a confirmed Acumatica shipment marks its X-Cart orders shipped, with tracking.

Each (shipment, sales order) pair is one ledger row (``shipments``/``acumatica_to_xcart``,
source ``<ShipmentNbr>/<OrderType>/<OrderNbr>``). Writes are checked against X-Cart first: the
shipping status is set only when it differs and a tracking number is added only when the order
does not carry it yet, so retries after lost answers, duplicate pushes and replays write each
number once. A shipment whose order has no link yet waits (``DependencyNotReady``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.dates import parse_optional
from sync_workers.errors import DependencyNotReady
from sync_workers.flows.base import Drift, PlannedChange, template_cursor
from sync_workers.ledger import (
    Status,
    claim_record,
    find_by_source,
    find_by_target,
    mark_status,
    session_scope,
)
from sync_workers.locks import record_lock
from sync_workers.mapping import shipments as shipment_map
from sync_workers.mapping.templates import load_template
from sync_workers.tracing import current_trace_id

log = logging.getLogger(__name__)

FLOW = "shipments"
DIRECTION = "acumatica_to_xcart"
ORDERS = "orders"
ORDERS_DIRECTION = "xcart_to_acumatica"
LOCK_WAIT = 20.0
EXPAND = ("Details", "Packages", "Orders")


def template() -> dict[str, Any]:
    return load_template(FLOW)


def fetch(shipment_nbr: str) -> dict[str, Any]:
    shipment = clients.acumatica().get_by_keys("Shipment", shipment_nbr, expand=list(EXPAND))
    assert shipment is not None
    return {"record_id": str(shipment_nbr), "shipment": shipment}


def xcart_order_id(order_type: str, order_nbr: str) -> str:
    """The X-Cart order id behind a sales order; waits when the order link is not there yet."""
    with session_scope() as session:
        record = find_by_target(session, ORDERS, ORDERS_DIRECTION, f"{order_type}/{order_nbr}")
        if record is None:
            raise DependencyNotReady(
                f"sales order {order_type}/{order_nbr} has no X-Cart order link yet",
                retry_after=1.0,
                details={"order": f"{order_type}/{order_nbr}", "waits_for": "orders"},
            )
        return record.source_id


def write_back(state: dict[str, Any]) -> dict[str, Any]:
    """Set each shipped order's shipping status and add the package tracking numbers, once."""
    shipment = state["shipment"]
    tmpl = template()
    if str(shipment.get("Type") or "Shipment") not in (tmpl.get("types") or ["Shipment"]):
        return {"record_id": state["record_id"], "skip": f"type {shipment.get('Type')}"}
    writes = shipment_map.to_writes(shipment, tmpl)
    if not writes or writes[0].shipping_code is None:
        return {"record_id": state["record_id"], "skip": f"status {shipment.get('Status')}"}
    targets = [(w, xcart_order_id(w.order_type, w.order_nbr)) for w in writes]
    results = [_write_one(w, order_id) for w, order_id in targets]
    return {"record_id": state["record_id"], "orders": results}


def _write_one(write: shipment_map.ShipmentWrite, order_id: str) -> dict[str, Any]:
    source = f"{write.shipment_nbr}/{write.order_type}/{write.order_nbr}"
    xcart = clients.xcart()
    tracking_on = xcart.supports_tracking
    with record_lock(FLOW, source, wait=LOCK_WAIT):
        order = xcart.get_order(int(order_id))
        status_set = False
        current = (order.get("shipping_status") or {}).get("code")
        if write.shipping_code and current != write.shipping_code:
            xcart.set_shipping_status(int(order_id), write.shipping_code)
            status_set = True
        present = {str(t.get("value")) for t in order.get("tracking_numbers") or []}
        added = []
        if tracking_on:
            for number in write.tracking_numbers:
                if number not in present:
                    xcart.add_tracking_number(int(order_id), number)
                    added.append(number)
        with session_scope() as session:
            record = claim_record(session, FLOW, DIRECTION, source, trace_id=current_trace_id())
            record.target_key = f"{order_id}/{write.shipment_nbr}"
            record.data = {
                **(record.data or {}),
                "order_id": order_id,
                "shipping_code": write.shipping_code,
                "tracking_numbers": sorted(present | set(added)),
                "tracking_written": bool(tracking_on),
            }
            mark_status(session, record, Status.SYNCED)
    return {"order_id": order_id, "status_set": status_set, "tracking_added": added}


def _shippable_statuses() -> list[str]:
    return [label for label, code in (template().get("status_to_xcart") or {}).items() if code]


def changed_shipments(since: Any = None, all: bool = False) -> Iterator[dict[str, Any]]:
    """Shipments in a status that writes back, changed since the cursor (or ``since``/``all``)."""
    client = clients.acumatica()
    wanted = set(_shippable_statuses())
    cursor = None
    if all:
        expr = None
    elif since is not None:
        expr = F("LastModifiedDateTime") >= parse_optional(since)
    else:
        cursor = template_cursor(FLOW, DIRECTION, template().get("poll"))
        window = cursor.window()
        expr = F("LastModifiedDateTime") <= window.end
        if window.start is not None:
            expr = (F("LastModifiedDateTime") >= window.start) & expr
    for row in client.iter_list(
        "Shipment", filter=expr, select=["ShipmentNbr", "Status", "LastModifiedDateTime"]
    ):
        if row.get("Status") not in wanted:
            continue
        moment = parse_optional(row.get("LastModifiedDateTime"))
        if cursor is not None and (
            moment is None or not cursor.accept(row["ShipmentNbr"], row.get("Status"), moment)
        ):
            continue
        yield row
    if cursor is not None:
        cursor.commit()


def shipments_in_push(notification: Mapping[str, Any]) -> list[str]:
    """Shipment numbers of a push notification whose new rows are in a status that writes back."""
    wanted = set(_shippable_statuses())
    found: list[str] = []
    for row in notification.get("Inserted") or []:
        number = row.get("ShipmentNbr")
        if number and row.get("Status") in wanted and number not in found:
            found.append(str(number))
    return found


def plan(since: Any = None, ids: list[Any] | None = None, all: bool = False) -> list:
    """Shipments that would be written back (reads only)."""
    planned = []
    rows = [{"ShipmentNbr": i} for i in ids] if ids else changed_shipments(since, all=True)
    for row in rows:
        with session_scope() as session:
            done = find_by_source(session, FLOW, DIRECTION, str(row["ShipmentNbr"]))
        planned.append(
            PlannedChange(
                FLOW,
                DIRECTION,
                str(row["ShipmentNbr"]),
                "skip" if done else "update",
                reason="already written back" if done else f"status {row.get('Status')}",
            )
        )
    return planned


def drift(since: Any = None) -> list[Drift]:
    """Shipped sales orders whose X-Cart order is not marked shipped."""
    found: list[Drift] = []
    xcart = clients.xcart()
    tmpl = template()
    for row in changed_shipments(since, all=since is None):
        shipment = fetch(str(row["ShipmentNbr"]))["shipment"]
        for write in shipment_map.to_writes(shipment, tmpl):
            with session_scope() as session:
                link = find_by_target(
                    session, ORDERS, ORDERS_DIRECTION, f"{write.order_type}/{write.order_nbr}"
                )
                order_id = link.source_id if link else None
            if order_id is None:
                continue
            code = (xcart.get_order(int(order_id)).get("shipping_status") or {}).get("code")
            if code != write.shipping_code:
                found.append(
                    Drift(
                        FLOW,
                        DIRECTION,
                        write.shipment_nbr,
                        order_id,
                        "mismatch",
                        {"xcart_shipping_status": code, "expected": write.shipping_code},
                    )
                )
    return found
