"""Which payments and refunds are missing, and Acumatica payments whose status changed: the
payments flow's poll, realtime trigger, plan and drift.

The orders chain records an order's payments and refunds itself; the poll is the safety net
for those whose chain was lost or stalled (``STALL_SECONDS``), and it brings status changes
made in Acumatica (a check received and released) back to X-Cart.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator, Mapping
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
    FieldChange,
    HandOut,
    PlannedChange,
    PollRequest,
    Start,
    mismatch_details,
    template_cursor,
)
from sync_workers.ledger import SyncRecord, find_by_source, linked_sources, session_scope
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
    order_ids: list[str] | None = None,
    *,
    full: bool = False,
    note_checked: bool = True,
    transactions_of: Callable[[str], list[dict[str, Any]]] | None = None,
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
    ``transactions_of``: reads an order's transactions (raising ``NotFound`` for an order gone
    from the store) instead of X-Cart, for a caller that reads them once for more than this.
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
            transactions = (
                transactions_of(order_id)
                if transactions_of is not None
                else xcart.payment_transactions(int(order_id))
            )
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


#: Payments per batched read (``ReferenceNbr`` in one ``$filter``).
READ_BATCH = 40
#: Why a payment's field differences are a person's to fix.
NOT_BY_RESYNC = (
    "the payment exists in Acumatica and a resync never changes one: correct it there "
    "(or void it and resync the order to record it again)"
)


#: X-Cart orders whose payments are checked together (one ledger query, batched reads).
ORDER_CHUNK = 200


def _orders_in_scope(since: Any, ids: list[str] | None) -> Iterator[list[dict[str, Any]]]:
    """The synced X-Cart orders to compare, ``ORDER_CHUNK`` at a time: listed (read one by
    one), changed since ``since``, or all (from the store's listing, page by page)."""
    from sync_workers.flows.orders.changes import changed_orders

    xcart = clients.xcart()
    orders: Iterable[dict[str, Any]]
    if ids:
        listed = []
        for order_id in ids:
            try:
                listed.append(xcart.get_order(int(order_id)))
            except NotFound:
                continue
        orders = listed
    else:
        orders = changed_orders(since=since, all=since is None)
    chunk: list[dict[str, Any]] = []
    for order in orders:
        chunk.append(order)
        if len(chunk) >= ORDER_CHUNK:
            yield _synced_only(chunk)
            chunk = []
    if chunk:
        yield _synced_only(chunk)


def _synced_only(orders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    with session_scope() as session:
        synced = linked_sources(session, ORDERS, DIRECTION, [str(o["id"]) for o in orders])
    return [o for o in orders if str(o["id"]) in synced]


class _Transactions:
    """Each order's transactions, read from X-Cart once (``NotFound`` remembered too)."""

    def __init__(self) -> None:
        self._read: dict[str, list[dict[str, Any]] | None] = {}

    def __call__(self, order_id: str) -> list[dict[str, Any]]:
        if order_id not in self._read:
            try:
                self._read[order_id] = clients.xcart().payment_transactions(int(order_id))
            except NotFound:
                self._read[order_id] = None
        found = self._read[order_id]
        if found is None:
            raise NotFound(f"order {order_id} is gone from the store")
        return found


def _linked_payments(transaction_ids: list[str]) -> dict[str, str]:
    """``{transaction id: "<Type>/<ReferenceNbr>"}`` of the transactions the ledger links."""
    with session_scope() as session:
        rows = session.query(SyncRecord.source_id, SyncRecord.target_key).filter(
            SyncRecord.flow == NAME,
            SyncRecord.direction == DIRECTION,
            SyncRecord.source_id.in_(transaction_ids),
        )
        return {source: key for source, key in rows if key}


def read_payments(keys: list[str]) -> dict[str, dict[str, Any]]:
    """``{"<Type>/<ReferenceNbr>": payment}`` of the keys Acumatica has; ``READ_BATCH`` per
    call (filtered on ``ReferenceNbr``, the type matched here)."""
    from sync_workers.connectors.acumatica.filters import one_of
    from sync_workers.flows.payments.steps import PAYMENT_SELECT

    numbers = list(dict.fromkeys(key.split("/", 1)[1] for key in keys))
    wanted = {key.strip().casefold(): key for key in keys}
    found: dict[str, dict[str, Any]] = {}
    client = clients.acumatica()
    for at in range(0, len(numbers), READ_BATCH):
        rows = client.get_list(
            "Payment",
            filter=one_of("ReferenceNbr", list[Any](numbers[at : at + READ_BATCH])),
            select=list(PAYMENT_SELECT),
        )
        for row in rows:
            key = wanted.get(f"{row.get('Type')}/{row.get('ReferenceNbr')}".strip().casefold())
            if key is not None:
                found[key] = row
    return found


def payment_differences(
    transaction: Mapping[str, Any], payment: Mapping[str, Any], tmpl: Mapping[str, Any]
) -> list[FieldChange]:
    """The fields of an Acumatica ``payment`` that differ from what the mapping makes of its
    X-Cart ``transaction``: the amount, the reference, and a payment voided in Acumatica."""
    amount = payment_map.money(transaction.get("value"))
    return _differences(payment, amount, payment_map.payment_ref(transaction, tmpl))


def refund_differences(
    refund: Mapping[str, Any], record: Mapping[str, Any], tmpl: Mapping[str, Any]
) -> list[FieldChange]:
    """The fields of an Acumatica refund (a ``Payment`` of type ``Refund``) that differ from
    what ``payment_map.to_refund`` makes of its X-Cart ``refund``: the amount, the reference,
    and a refund voided in Acumatica."""
    amount = payment_map.money(refund.get("value"))
    return _differences(record, amount, payment_map.refund_ref(refund, tmpl))


def _differences(record: Mapping[str, Any], amount: Any, reference: str) -> list[FieldChange]:
    changes = []
    if payment_map.money(record.get("PaymentAmount")) != amount:
        changes.append(FieldChange("PaymentAmount", record.get("PaymentAmount"), float(amount)))
    if str(record.get("PaymentRef") or "").strip().casefold() != reference.casefold():
        changes.append(FieldChange("PaymentRef", record.get("PaymentRef"), reference))
    if record.get("Status") == "Voided":
        changes.append(FieldChange("Status", "Voided", "not voided"))
    return changes


def compared_payments(
    orders: list[dict[str, Any]], transactions_of: Callable[[str], list[dict[str, Any]]]
) -> Iterator[tuple[str, str, str, list[FieldChange], dict[str, str]]]:
    """``(order id, ledger source id, payment key, differences, ids)`` of every linked payment
    and refund of the synced ``orders`` whose fields differ (AR documents only: a journal entry
    is not compared). ``ids``: the transaction's (``transaction_id``) and, for a refund, the
    refund's (``refund_id``; its source id is ``refund:<id>``). Acumatica is read in batches,
    payments and refunds together."""
    tmpl = template()
    if payment_map.post_as(tmpl) != "payment":
        return
    found: list[tuple[str, str, dict[str, Any], dict[str, Any] | None]] = []
    for order in orders:
        order_id = str(order["id"])
        try:
            transactions = transactions_of(order_id)
        except NotFound:
            continue
        found += [(order_id, str(txn["id"]), txn, None) for txn in transactions]
        code = (order.get("payment_status") or {}).get("code")
        try:
            paid_back = refunds.refunds_of_order(transactions, code, tmpl)
        except PermanentError:  # the template's to fix first: drift names it per transaction
            paid_back = []
        found += [
            (order_id, refunds.source_id(str(refund["id"])), txn, refund)
            for refund, txn in paid_back
        ]
    links = _linked_payments([source for _, source, _, _ in found])
    payments = read_payments(list(links.values())) if links else {}
    for order_id, source, txn, refund in found:
        key = links.get(source)
        if key is None or key not in payments:
            continue
        ids = {"transaction_id": str(txn["id"])}
        if refund is None:
            changes = payment_differences(txn, payments[key], tmpl)
        else:
            changes = refund_differences(refund, payments[key], tmpl)
            ids["refund_id"] = str(refund["id"])
        if changes:
            yield order_id, source, key, changes, ids


def plan(since: Any = None, ids: list[Any] | None = None, all: bool = False) -> list:
    """Transactions of synced orders that would become payments, and payments and refunds
    whose fields differ from their transactions (refunds): a resync leaves those (``skip``,
    with the fields). Reads only."""
    planned = []
    order_ids = [str(i) for i in ids] if ids else None
    for order_id, _chain, txn, refund in unsynced(order_ids, full=all, note_checked=False):
        if refund is not None:
            source, reason = refunds.source_id(str(refund["id"])), f"refund of order {order_id}"
        else:
            source, reason = str(txn["id"]), f"order {order_id}"
        planned.append(PlannedChange(NAME, DIRECTION, source, "create", reason=reason))
    for orders in _orders_in_scope(since, order_ids):
        for order_id, source, key, changes, _ids in compared_payments(orders, _Transactions()):
            planned.append(
                PlannedChange(NAME, DIRECTION, source, "skip", key,
                              f"order {order_id}: {NOT_BY_RESYNC}", tuple(changes))
            )  # fmt: skip
    return planned


def drift(since: Any = None) -> list[Drift]:
    """Transactions and refunds of synced orders that should be Acumatica payments (refunds)
    but are not linked to one, and linked payments and refunds whose amount or reference
    differs from the transaction's (the refund's), or that were voided in Acumatica
    (``mismatch``, the fields in ``details``; not a resync's to fix: reconcile's repair lists
    them for a person). ``since``: only the
    orders X-Cart changed since then.

    ``source_id`` is the X-Cart order id (what ``tasks.payments.poll(ids=...)`` takes, so
    reconcile's repair can resync it); the transaction (or refund) is in ``details``. Each
    order's transactions are read once, its payments in batches.
    """
    tmpl = template()
    found: list[Drift] = []
    for orders in _orders_in_scope(since, None):
        if not orders:
            continue
        transactions_of = _Transactions()
        codes = {str(o["id"]): (o.get("payment_status") or {}).get("code") for o in orders}
        ids = list(codes)
        for order_id, _chain, txn, refund in unsynced(
            ids, note_checked=False, transactions_of=transactions_of
        ):
            found += _missing(order_id, txn, refund, codes.get(order_id), tmpl)
        for order_id, _source, key, changes, names in compared_payments(orders, transactions_of):
            details = mismatch_details(changes, repairable=False, reason=NOT_BY_RESYNC, **names)
            found.append(Drift(NAME, DIRECTION, order_id, key, "mismatch", details))
    return found


def _missing(
    order_id: str,
    txn: Mapping[str, Any],
    refund: Mapping[str, Any] | None,
    code: str | None,
    tmpl: Mapping[str, Any],
) -> list[Drift]:
    """The drift of one transaction (or refund) :func:`unsynced` found without its payment."""
    if refund is not None:
        details = {"refund_id": str(refund["id"]), "transaction_id": str(txn["id"])}
        return [Drift(NAME, DIRECTION, str(order_id), None, "missing_in_target", details)]
    try:
        action = payment_map.action(txn, code, tmpl)
    except PermanentError as exc:  # the template's to fix first
        details = mismatch_details(
            (), repairable=False, reason=str(exc), transaction_id=str(txn["id"]), error=str(exc)
        )
        return [Drift(NAME, DIRECTION, str(order_id), None, "mismatch", details)]
    if action in ("record", "hold"):
        details = {"transaction_id": str(txn["id"])}
        return [Drift(NAME, DIRECTION, str(order_id), None, "missing_in_target", details)]
    return []
