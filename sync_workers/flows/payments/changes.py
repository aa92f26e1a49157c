"""Which payments and refunds are missing, and Acumatica payments whose status changed: the
payments flow's poll, realtime trigger, plan and drift.

The orders chain records an order's payments and refunds itself; the poll is the safety net
for those whose chain was lost or stalled (``STALL_SECONDS``), and it brings status changes
made in Acumatica (a check received and released) back to X-Cart.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import true

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.connectors.errors import NotFound
from sync_workers.dates import parse_optional
from sync_workers.errors import PermanentError
from sync_workers.flows.payments import refunds
from sync_workers.flows.payments.steps import DIRECTION, NAME, ORDERS, REVERSE, template
from sync_workers.flows.shape import (
    Drift,
    HandOut,
    PlannedChange,
    PollRequest,
    Start,
    template_cursor,
)
from sync_workers.ledger import SyncRecord, find_by_source, session_scope
from sync_workers.ledger.repository import UNFINISHED
from sync_workers.mapping import payments as payment_map
from sync_workers.mapping.templates import CHANGE_SOURCES, change_source
from sync_workers.redis_client import queue_backlog
from sync_workers.settings import get_settings

log = logging.getLogger(__name__)


def payments_in_push(notification: Mapping[str, Any]) -> list[Start]:
    """A ``status`` chain per new row of a ``Payments`` push in a status that writes back."""
    table = template().get("acumatica_status_to_xcart") or {}
    found: list[tuple[str, str]] = []
    for row in notification.get("Inserted") or []:
        key = (str(row.get("Type") or ""), str(row.get("ReferenceNbr") or ""))
        if all(key) and table.get(row.get("Status")) and key not in found:
            found.append(key)
    return [Start("status", "/".join(key)) for key in found]


#: ``ARPayment.DocType`` database codes (what the DAC-based OData service returns) -> the
#: contract API's ``Payment.Type`` labels (Acumatica's ``ARDocType`` list); the status chain's
#: record id is ``<Type label>/<ReferenceNbr>`` whichever source found it.
DOC_TYPE_LABELS = {
    "PMT": "Payment",
    "PPM": "Prepayment",
    "REF": "Refund",
    "CRM": "Credit Memo",
    "RPM": "Voided Payment",
    "VRF": "Voided Refund",
    "CSL": "Cash Sale",
    "RCS": "Cash Return",
}
#: ``ARPayment.Status`` database codes -> the labels of the contract API and of
#: ``acumatica_status_to_xcart`` (Acumatica's ``ARDocStatus`` list).
STATUS_LABELS = {
    "H": "On Hold",
    "B": "Balanced",
    "V": "Voided",
    "S": "Scheduled",
    "N": "Open",
    "C": "Closed",
    "P": "Pending Print",
    "E": "Pending Email",
    "R": "Credit Hold",
    "W": "Pending Processing",
}
#: The DAC the OData change poll reads.
DAC = "ARPayment"


def _source() -> str:
    source = change_source(template())
    if source not in CHANGE_SOURCES:
        raise PermanentError(
            f"payments.yaml: poll.source must be one of {', '.join(CHANGE_SOURCES)}, not {source!r}"
        )
    return source


def _odata_rows(start: datetime | None, end: datetime) -> Iterator[dict[str, Any]]:
    """Changed payments from the ARPayment DAC, as contract-API rows (labels, not codes)."""
    rows = clients.acumatica().odata.changes(
        DAC, key=("DocType", "RefNbr"), start=start, end=end, select=["Status"]
    )
    for row in rows:
        doc_type, number, status = row.get("DocType"), row.get("RefNbr"), row.get("Status")
        yield {
            "Type": DOC_TYPE_LABELS.get(str(doc_type).strip(), doc_type),
            "ReferenceNbr": str(number).strip() if number is not None else None,
            "Status": STATUS_LABELS.get(str(status).strip(), status),
            "LastModifiedDateTime": row.get("LastModifiedDateTime"),
        }


def changed_acumatica_payments() -> Iterator[tuple[str, str]]:
    """Payments changed in Acumatica since the cursor, in a status that writes back.

    With ``poll.source: odata`` (the default) the window is read from the ARPayment DAC through
    OData (key, status and date only; no API seat); with ``rest``, from the contract-based
    Payment entity. Either way the cursor accepts ``(Type/ReferenceNbr, Status)`` versions and
    moves once the last one is handed out (the generator exhausted).
    """
    tmpl = template()
    source = _source()
    cursor = template_cursor(NAME, REVERSE, tmpl.get("poll"))
    table = tmpl.get("acumatica_status_to_xcart") or {}
    window = cursor.window()
    if source == "odata":
        rows = _odata_rows(window.start, window.end)
    else:
        expr = F("LastModifiedDateTime") <= window.end
        if window.start is not None:
            expr = (F("LastModifiedDateTime") >= window.start) & expr
        rows = clients.acumatica().iter_list(
            "Payment",
            filter=expr,
            select=["Type", "ReferenceNbr", "Status", "LastModifiedDateTime"],
        )
    for row in rows:
        moment = parse_optional(row.get("LastModifiedDateTime"))
        key = (str(row.get("Type") or ""), str(row.get("ReferenceNbr") or ""))
        if moment is None or not all(key) or not table.get(row.get("Status")):
            continue
        if cursor.accept("/".join(key), row.get("Status"), moment):
            yield key
    cursor.commit()


def _progress(record: SyncRecord | None, stale_before: datetime) -> str:
    """``pending`` (never handed out, or its chain stalled), ``on_the_way``, ``done`` (linked)
    or ``stopped`` (dead-lettered or skipped: the operator's to replay, not the poll's)."""
    if record is None:
        return "pending"
    if record.target_key:
        return "done"
    if record.status not in UNFINISHED:
        return "stopped"
    return "pending" if _aware(record.updated_at) < stale_before else "on_the_way"


def _aware(moment: datetime) -> datetime:
    """SQLite hands back naive UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def unsynced_transactions(
    order_ids: list[str] | None = None, *, full: bool = False, note_checked: bool = True
) -> Iterator[tuple[str, dict]]:
    """(order id, transaction) of synced orders whose payments are not all in the ledger yet
    (see :func:`unsynced`)."""
    for order_id, chain, txn, _refund in unsynced(order_ids, full=full, note_checked=note_checked):
        if chain == "sync":
            yield order_id, txn


def unsynced(
    order_ids: list[str] | None = None, *, full: bool = False, note_checked: bool = True
) -> Iterator[tuple[str, str, dict, dict | None]]:
    """``(order id, chain, transaction, refund)`` of synced orders whose payments (chain
    ``sync``, refund ``None``) or refunds (chain ``refund``: the refund and the transaction it
    pays back) are not all in the ledger yet.

    An idle poll reads nothing from X-Cart: only orders changed since their payments were last
    found complete are read (listed ``order_ids`` always are, and every order with ``full``, as
    reconcile does). A record whose chain is on its way is left alone until it stalls for
    ``STALL_SECONDS``; a dead-lettered one waits for the operator (listed and ``full`` reads
    return every unlinked one). An order gone from the store is logged and skipped; it never
    stops the poll for the others. ``note_checked=False`` writes nothing (dry runs).
    """
    stale_before = datetime.now(UTC) - timedelta(seconds=get_settings().stall_seconds)
    if queue_backlog(NAME):  # behind a backlog a queued chain looks stalled: restart none now
        stale_before = datetime.min.replace(tzinfo=UTC)
    with session_scope() as session:
        query = session.query(
            SyncRecord.source_id,
            SyncRecord.target_key,
            SyncRecord.content_hash,
            SyncRecord.updated_at,
        ).filter(SyncRecord.flow == ORDERS, SyncRecord.direction == DIRECTION)
        if order_ids:  # by source id (the link is tested below: see ``orders._linked``)
            query = query.filter(SyncRecord.source_id.in_([str(i) for i in order_ids]))
        elif full:
            query = query.filter(SyncRecord.target_key.is_not(None))
        else:  # only the orders due, by the flag's index: not every order ever synced
            query = query.filter(SyncRecord.followup_due == true())
        candidates = [
            (source_id, order_hash)
            for source_id, target_key, order_hash, touched in query
            if target_key
            and (
                full
                or order_ids
                # an order's own task records its payments right after its sales order: left
                # alone (not even read) until it could have stalled
                or _aware(touched) < stale_before
            )
        ]
    xcart = clients.xcart()
    tmpl = template()
    for order_id, order_hash in candidates:
        try:
            transactions = xcart.payment_transactions(int(order_id))
        except NotFound:
            log.warning("payments: order %s is gone from the store; not checked again", order_id)
            transactions = []
        work: list[tuple[str, str, dict, dict | None]] = [
            ("sync", str(txn["id"]), txn, None) for txn in transactions
        ]
        work += [
            ("refund", refunds.source_id(str(refund["id"])), txn, refund)
            for txn in transactions
            for refund in payment_map.refunds_of(txn, None, tmpl)
        ]
        pending: list[tuple[str, dict, dict | None]] = []
        on_the_way = 0
        with session_scope() as session:
            for chain, source, txn, refund in work:
                record = find_by_source(session, NAME, DIRECTION, source)
                state = _progress(record, stale_before)
                if state == "pending" or (state != "done" and (full or order_ids)):
                    pending.append((chain, txn, refund))
                elif state == "on_the_way":
                    on_the_way += 1
            if not pending and not on_the_way and note_checked:
                order = find_by_source(session, ORDERS, DIRECTION, order_id)
                if order is not None and order.content_hash == order_hash:  # not changed since
                    order.followup_due = False
        for chain, txn, refund in pending:
            yield order_id, chain, txn, refund


def poll(request: PollRequest, hand_out: HandOut) -> dict[str, Any]:
    """Payments and refunds missing for synced orders (``ids``: those X-Cart order ids only),
    and status write-backs for payments changed in Acumatica since the cursor."""
    order_ids = list(request.ids) if request.ids else None
    missing = []
    for order_id, chain, txn, refund in unsynced(order_ids, full=request.all):
        hints: dict[str, Any] = {"order_id": order_id, "transaction": txn, "verify": True}
        if refund is not None:
            hints["refund"] = refund
        record_id = str((refund or txn)["id"])
        missing.append(Start(chain, record_id, hints))
    hand_out(missing)
    statuses: list[Start] = []
    if not request.ids:
        statuses = [Start("status", "/".join(k)) for k in changed_acumatica_payments()]
        hand_out(statuses)
    return {
        "started": [s.record_id for s in missing if s.chain == "sync"],
        "refunds": [s.record_id for s in missing if s.chain == "refund"],
        "status_write_backs": [s.record_id for s in statuses],
    }


def plan(since: Any = None, ids: list[Any] | None = None, all: bool = False) -> list:
    """Transactions of synced orders that would become payments (reads only)."""
    planned = []
    order_ids = [str(i) for i in ids] if ids else None
    for order_id, _chain, txn, refund in unsynced(order_ids, full=all, note_checked=False):
        if refund is not None:
            source, reason = refunds.source_id(str(refund["id"])), f"refund of order {order_id}"
        else:
            source, reason = str(txn["id"]), f"order {order_id}"
        planned.append(PlannedChange(NAME, DIRECTION, source, "create", reason=reason))
    return planned


def drift(since: Any = None) -> list[Drift]:
    """Transactions and refunds of synced orders that should be Acumatica payments (refunds)
    but are not linked to one.

    ``source_id`` is the X-Cart order id (what ``tasks.payments.poll(ids=...)`` takes, so
    reconcile's repair can resync it); the transaction (or refund) is in ``details``.
    """
    tmpl = template()
    found: list[Drift] = []
    xcart = clients.xcart()
    codes: dict[str, str | None] = {}
    for order_id, _chain, txn, refund in unsynced(full=True, note_checked=False):
        if refund is not None:
            found.append(
                Drift(NAME, DIRECTION, str(order_id), None, "missing_in_target",
                      {"refund_id": str(refund["id"]), "transaction_id": str(txn["id"])})
            )  # fmt: skip
            continue
        if order_id not in codes:
            order = xcart.get_order(int(order_id))
            codes[order_id] = (order.get("payment_status") or {}).get("code")
        try:
            action = payment_map.action(txn, codes[order_id], tmpl)
        except PermanentError as exc:
            found.append(
                Drift(
                    NAME,
                    DIRECTION,
                    str(order_id),
                    None,
                    "mismatch",
                    {"transaction_id": str(txn["id"]), "error": str(exc)},
                )
            )
            continue
        if action in ("record", "hold"):
            found.append(
                Drift(NAME, DIRECTION, str(order_id), None, "missing_in_target",
                      {"transaction_id": str(txn["id"])})
            )  # fmt: skip
    return found
