"""Shipments (Acumatica -> X-Cart): a confirmed shipment marks its X-Cart orders shipped, with
their tracking numbers.

Chain ``sync`` (``tasks.shipments.sync``; record: the Acumatica ``ShipmentNbr``): ``fetch`` (the
shipment and the writes it calls for) -> ``find_orders`` (the X-Cart order behind each sales order
it ships; waits, ``DependencyNotReady``, while an order has no link yet) -> ``write_back``.

One ledger row per shipment (``shipments``/``acumatica_to_xcart``, source ``<ShipmentNbr>``,
target ``<order id>[,<order id>...]/<ShipmentNbr>``): the row a dead letter marks, the row
``plan`` reads. Writes are checked against X-Cart first, under the lock of each X-Cart order
(the lock every read-then-write of an X-Cart order takes): the shipping status is set only when
it differs and a tracking number is added only when the order does not carry it yet, so retries
after lost answers, duplicate pushes and replays write each number once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from typing import Any

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F, one_of
from sync_workers.connectors.errors import NotFound
from sync_workers.dates import parse_optional
from sync_workers.errors import DependencyNotReady, PermanentError
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
    mismatch_details,
    template_cursor,
)
from sync_workers.ledger import (
    Status,
    claim_record,
    find_by_source,
    find_by_target,
    mark_synced,
    session_scope,
)
from sync_workers.locks import record_locks
from sync_workers.mapping import shipments as shipment_map
from sync_workers.mapping.templates import change_source, load_template
from sync_workers.tracing import current_trace_id

NAME = "shipments"
DIRECTION = "acumatica_to_xcart"
ORDERS = "orders"
ORDERS_DIRECTION = "xcart_to_acumatica"
LOCK_WAIT = 20.0
EXPAND = ("Details", "Packages", "Orders")


def template() -> dict[str, Any]:
    return load_template(NAME)


def read_shipment(shipment_nbr: str) -> dict[str, Any]:
    shipment = clients.acumatica().get_by_keys("Shipment", shipment_nbr, expand=list(EXPAND))
    assert shipment is not None  # a missing shipment raises NotFound
    return shipment


def fetch(state: State) -> State:
    """The shipment and the writes it calls for; a shipment of another type, or in a status
    that writes nothing back, is skipped."""
    shipment = read_shipment(state["record_id"])
    tmpl = template()
    if str(shipment.get("Type") or "Shipment") not in (tmpl.get("types") or ["Shipment"]):
        state["skip"] = f"type {shipment.get('Type')}"
        return state
    writes = shipment_map.to_writes(shipment, tmpl)
    if not writes or writes[0].shipping_code is None:
        state["skip"] = f"status {shipment.get('Status')}"
        return state
    state["writes"] = writes
    return state


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


def find_orders(state: State) -> State:
    """The X-Cart order of each sales order the shipment ships (every one linked, or none)."""
    if state.get("skip"):
        return state
    writes: list[shipment_map.ShipmentWrite] = state["writes"]
    state["order_ids"] = [xcart_order_id(w.order_type, w.order_nbr) for w in writes]
    return state


def locked(state: Mapping[str, Any]) -> AbstractContextManager[None]:
    """The locks of the shipment's X-Cart orders, taken in one round trip (none when skipped)."""
    return record_locks(
        [(ORDERS, order_id) for order_id in state.get("order_ids") or []], wait=LOCK_WAIT
    )


def write_back(state: State) -> State:
    """Set each order's shipping status and add the package tracking numbers, once; link the
    shipment in the ledger."""
    if state.get("skip"):
        return state
    shipment_nbr = str(state["record_id"])
    writes: list[shipment_map.ShipmentWrite] = state["writes"]
    xcart = clients.xcart()
    tracking_on = xcart.supports_tracking
    results, orders = [], {}
    for write, order_id in zip(writes, state["order_ids"], strict=True):
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
        orders[order_id] = {
            "order": f"{write.order_type}/{write.order_nbr}",
            "shipping_code": write.shipping_code,
            "tracking_numbers": sorted(present | set(added)),
        }
        results.append({"order_id": order_id, "status_set": status_set, "tracking_added": added})
    target_key = f"{','.join(dict.fromkeys(state['order_ids']))}/{shipment_nbr}"
    with session_scope() as session:
        record = claim_record(session, NAME, DIRECTION, shipment_nbr, trace_id=current_trace_id())
        mark_synced(
            session,
            record,
            target_key=target_key,
            data={"orders": orders, "tracking_written": bool(tracking_on)},
        )
    changed = any(r["status_set"] or r["tracking_added"] for r in results)
    state.update(target_key=target_key, action="update" if changed else "skip")
    state["summary"] = {"orders": results}
    return state


# Which shipments changed ----------------------------------------------------------------------


def _shippable_statuses() -> list[str]:
    return [label for label, code in (template().get("status_to_xcart") or {}).items() if code]


#: ``SOShipment.Status`` database codes (what the DAC-based OData service returns) -> the labels
#: of the contract API and of ``status_to_xcart`` (Acumatica's ``SOShipmentStatus`` list).
STATUS_LABELS = {
    "N": "Open",
    "H": "On Hold",
    "F": "Confirmed",
    "C": "Completed",
    "I": "Invoiced",
    "Y": "Partially Invoiced",
    "R": "Receipted",
    "A": "Auto-Generated",
    "L": "Canceled",
}
#: The DAC the OData change poll reads.
DAC = "SOShipment"


def _odata_rows(start: datetime | None, end: datetime | None) -> Iterator[dict[str, Any]]:
    """Changed shipments from the SOShipment DAC, as contract-API rows (labels, not codes)."""
    rows = clients.acumatica().odata.changes(
        DAC, key="ShipmentNbr", start=start, end=end, select=["Status"]
    )
    for row in rows:
        code, number = row.get("Status"), row.get("ShipmentNbr")
        yield {
            "ShipmentNbr": str(number).strip() if number is not None else None,
            "Status": STATUS_LABELS.get(str(code), code),
            "LastModifiedDateTime": row.get("LastModifiedDateTime"),
        }


def changed_shipments(
    since: str | datetime | None = None, all: bool = False
) -> Iterator[dict[str, Any]]:
    """Shipments in a status that writes back, changed since the cursor (or ``since``; every
    one with ``all``). The cursor moves once the last one is handled (the generator exhausted).

    With ``poll.source: odata`` (the default) a cursor poll or a ``since`` resync reads the
    SOShipment DAC through OData (no API seat); ``all`` and ``poll.source: rest`` read the
    contract-based Shipment entity.
    """
    wanted = set(_shippable_statuses())
    odata = change_source(template()) == "odata" and not all
    cursor = None
    start: datetime | None = None
    end: datetime | None = None
    if all:
        expr = None
    elif since is not None:
        start = parse_optional(since)
        expr = F("LastModifiedDateTime") >= start
    else:
        cursor = template_cursor(NAME, DIRECTION, template().get("poll"))
        window = cursor.window()
        start, end = window.start, window.end
        expr = F("LastModifiedDateTime") <= window.end
        if window.start is not None:
            expr = (F("LastModifiedDateTime") >= window.start) & expr
    if odata:
        rows = _odata_rows(start, end)
    else:
        rows = clients.acumatica().iter_list(
            "Shipment", filter=expr, select=["ShipmentNbr", "Status", "LastModifiedDateTime"]
        )
    for row in rows:
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


def poll(request: PollRequest, hand_out: HandOut) -> dict[str, Any]:
    """One chain per shipment in a status that writes back: changed since the cursor, or since
    ``since``, or every one (``all``), or the listed ``ids`` (ShipmentNbr)."""
    if request.ids:
        numbers = [str(i) for i in request.ids]
        hand_out(Start("sync", number) for number in numbers)
        return {"started": numbers}
    numbers = []
    # Handed out as they are read: the cursor moves past the last one only once it is handed out.
    for row in changed_shipments(request.since, all=request.all):
        numbers.append(str(row["ShipmentNbr"]))
        hand_out([Start("sync", numbers[-1])])
    return {"started": numbers}


def shipments_in_push(notification: Mapping[str, Any]) -> list[Start]:
    """A chain per shipment of a ``Shipments`` push whose new row is in a status that writes
    back (duplicates and reordering are harmless: the chain reads the shipment and X-Cart)."""
    wanted = set(_shippable_statuses())
    found: list[str] = []
    for row in notification.get("Inserted") or []:
        number = row.get("ShipmentNbr")
        if number and row.get("Status") in wanted and str(number) not in found:
            found.append(str(number))
    return [Start("sync", number) for number in found]


# Resync plan and reconcile --------------------------------------------------------------------

#: Shipments per batched read (``ShipmentNbr`` in one ``$filter``, details expanded).
READ_BATCH = 40


def read_shipments(numbers: list[str]) -> dict[str, dict[str, Any]]:
    """``{ShipmentNbr: shipment}`` of the listed shipments Acumatica has, with their lines,
    packages and orders; ``READ_BATCH`` per call."""
    found: dict[str, dict[str, Any]] = {}
    client = clients.acumatica()
    unique = list(dict.fromkeys(numbers))
    for at in range(0, len(unique), READ_BATCH):
        batch = unique[at : at + READ_BATCH]
        wanted = {n.strip().upper(): n for n in batch}
        for row in client.get_list(
            "Shipment", filter=one_of("ShipmentNbr", list(batch)), expand=list(EXPAND)
        ):
            number = wanted.get(str(row.get("ShipmentNbr") or "").strip().upper())
            if number is not None:
                found[number] = row
    return found


def differences(
    write: shipment_map.ShipmentWrite, order: Mapping[str, Any], *, tracking_on: bool
) -> list[FieldChange]:
    """What :func:`write_back` would change in the X-Cart ``order`` for ``write``: its shipping
    status, and the tracking numbers it would add (it never removes one)."""
    changes = []
    current = (order.get("shipping_status") or {}).get("code")
    if write.shipping_code and current != write.shipping_code:
        changes.append(FieldChange("shipping_status", current, write.shipping_code))
    if tracking_on:
        present = sorted({str(t.get("value")) for t in order.get("tracking_numbers") or []})
        missing = [n for n in write.tracking_numbers if n not in present]
        if missing:
            changes.append(FieldChange("tracking_numbers", present, sorted({*present, *missing})))
    return changes


def _writes(shipment: Mapping[str, Any], tmpl: Mapping[str, Any]) -> list:
    """The writes the chain's ``fetch`` would find for ``shipment`` (none when it skips it)."""
    if str(shipment.get("Type") or "Shipment") not in (tmpl.get("types") or ["Shipment"]):
        return []
    writes = shipment_map.to_writes(shipment, tmpl)
    return [] if not writes or writes[0].shipping_code is None else writes


def _order_link(order_type: str, order_nbr: str) -> str | None:
    with session_scope() as session:
        link = find_by_target(session, ORDERS, ORDERS_DIRECTION, f"{order_type}/{order_nbr}")
        return link.source_id if link else None


def _field_changes(shipment: Mapping[str, Any], tmpl: Mapping[str, Any]) -> list[FieldChange]:
    """The X-Cart fields a write-back of ``shipment`` would change, per linked order
    (``<order id>.<field>``); X-Cart orders are read, nothing is written."""
    xcart = clients.xcart()
    changes: list[FieldChange] = []
    for write in _writes(shipment, tmpl):
        order_id = _order_link(write.order_type, write.order_nbr)
        if order_id is None:
            continue
        try:
            order = xcart.get_order(int(order_id))
        except NotFound:  # the write-back will say so; nothing to compare
            continue
        for change in differences(write, order, tracking_on=bool(xcart.supports_tracking)):
            changes.append(
                FieldChange(f"{order_id}.{change.field}", change.current, change.proposed)
            )
    return changes


def plan(
    since: str | datetime | None = None, ids: list[Any] | None = None, all: bool = False
) -> list:
    """Shipments that would be written back, with the X-Cart fields each would change (reads
    only; shipments read in batches)."""
    planned = []
    if ids:
        rows: Iterator[dict[str, Any]] | list[dict[str, Any]] = [
            {"ShipmentNbr": str(i)} for i in ids
        ]
    else:
        rows = changed_shipments(since, all=all or since is None)
    rows = list(rows)
    shipments = read_shipments([str(row["ShipmentNbr"]) for row in rows])
    tmpl = template()
    for row in rows:
        number = str(row["ShipmentNbr"])
        with session_scope() as session:
            record = find_by_source(session, NAME, DIRECTION, number)
            done = record is not None and record.status == Status.SYNCED.value
            target_key = record.target_key if record is not None else None
        shipment = shipments.get(number)
        if shipment is None:
            planned.append(
                PlannedChange(NAME, DIRECTION, number, "error", target_key, "no such shipment")
            )
            continue
        try:
            changes = tuple(_field_changes(shipment, tmpl))
        except PermanentError as exc:
            planned.append(PlannedChange(NAME, DIRECTION, number, "error", target_key, str(exc)))
            continue
        reason = f"status {row['Status']}" if row.get("Status") else "listed"
        skip = done and not changes
        planned.append(
            PlannedChange(
                NAME,
                DIRECTION,
                number,
                "skip" if skip else "update",
                target_key=target_key,
                reason="already written back" if skip else reason,
                changes=changes,
            )
        )
    return planned


def drift(since: str | datetime | None = None) -> list[Drift]:
    """Shipped sales orders whose X-Cart order does not show the shipment: its shipping status
    differs, or a tracking number of its packages is missing (``mismatch``, the fields in
    ``details``). Shipments are read in batches; ``since``: changed since then."""
    found: list[Drift] = []
    xcart = clients.xcart()
    tracking_on = bool(xcart.supports_tracking)
    tmpl = template()
    rows = list(changed_shipments(since, all=since is None))
    shipments = read_shipments([str(row["ShipmentNbr"]) for row in rows])
    for row in rows:
        shipment = shipments.get(str(row["ShipmentNbr"]))
        if shipment is None:
            continue
        try:
            writes = _writes(shipment, tmpl)
        except PermanentError as exc:  # an unmapped status: the template's to fix
            details = mismatch_details((), repairable=False, reason=str(exc))
            found.append(Drift(NAME, DIRECTION, str(row["ShipmentNbr"]), None, "mismatch", details))
            continue
        for write in writes:
            order_id = _order_link(write.order_type, write.order_nbr)
            if order_id is None:
                continue
            try:
                order = xcart.get_order(int(order_id))
            except NotFound:  # linked to an order the store no longer has: the orders' drift
                continue
            changes = differences(write, order, tracking_on=tracking_on)
            if changes:
                details = mismatch_details(changes, order=f"{write.order_type}/{write.order_nbr}")
                found.append(
                    Drift(NAME, DIRECTION, write.shipment_nbr, order_id, "mismatch", details)
                )
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
                Step("find_orders", find_orders),
                Step("write_back", write_back),
            ),
            hold=("write_back", locked),
        ),
    ),
    poll=poll,
    plan=plan,
    drift=drift,
    cursors=(DIRECTION,),
    on_push=shipments_in_push,
)
