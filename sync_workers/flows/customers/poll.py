"""Which profiles and customers changed: the customers flow's poll, triggers, plan and drift.

X-Cart has no updated-since filter for profiles: a profile scan reads every page and compares
each profile's content hash with the one its last sync recorded. A cursor poll scans at most
every ``poll.profile_scan_seconds`` and otherwise reads only Acumatica's customers changed since
its cursor (one call when idle), leaving out those whose ``LastModifiedDateTime`` is the one our
own last write left. New buyers do not wait for a scan: the orders flow links or creates their
customer.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import F
from sync_workers.dates import parse_optional, to_utc_iso
from sync_workers.flows.customers.matching import (
    DIRECTION,
    NAME,
    REVERSE,
    linked_customer,
    own_writes,
    profile_source,
    template,
    uses_guest_customer,
)
from sync_workers.flows.runner import stalled
from sync_workers.flows.shape import (
    Drift,
    FieldChange,
    HandOut,
    PlannedChange,
    PollRequest,
    Start,
    template_cursor,
)
from sync_workers.ledger import SyncRecord, find_by_source, session_scope
from sync_workers.mapping import addresses
from sync_workers.mapping import customers as customer_map
from sync_workers.mapping.templates import change_source, load_template
from sync_workers.redis_client import get_redis, prefixed

#: Customers read per ledger look-up of our own writes.
PAGE = 100


def profile_scan_key() -> str:
    """The Redis key holding when the last cursor poll scanned the profiles."""
    return prefixed(NAME, "profile-scan", "last")


def profile_scan_seconds() -> float:
    """How often a cursor poll scans every X-Cart profile (``poll.profile_scan_seconds``)."""
    return float((template().get("poll") or {}).get("profile_scan_seconds", 600))


def profile_scan_due() -> bool:
    """Whether this cursor poll scans the profiles (see the module's docstring)."""
    last = get_redis().get(profile_scan_key())
    return last is None or time.time() - float(last) >= profile_scan_seconds()


def profiles_scanned() -> None:
    get_redis().set(profile_scan_key(), str(time.time()))


def changed_profiles(all: bool = False) -> Iterator[tuple[dict[str, Any], str]]:
    """Customer profiles whose content changed since the last sync (every one with ``all``)."""
    for profile, digest in clients.xcart().scan_profiles():
        if profile.get("access_level", 0) != 0:
            continue
        if all:
            yield profile, digest
            continue
        with session_scope() as session:
            record = find_by_source(session, NAME, DIRECTION, profile_source(profile["id"]))
            known = record.content_hash if record is not None else None
        if known != digest:
            yield profile, digest


#: The DAC the OData change poll reads (``AcctCD`` is the contract API's ``CustomerID``).
DAC = "Customer"


def _odata_rows(start: datetime | None, end: datetime | None) -> Iterator[dict[str, Any]]:
    """Changed customers from the Customer DAC, as ``CustomerID``/``LastModifiedDateTime``."""
    for row in clients.acumatica().odata.changes(DAC, key="AcctCD", start=start, end=end):
        yield {
            "CustomerID": str(row.get("AcctCD") or "").strip(),
            "LastModifiedDateTime": row.get("LastModifiedDateTime"),
        }


def changed_acumatica_customers(
    since: str | datetime | None = None, all: bool = False
) -> Iterator[str]:
    """CustomerIDs changed in Acumatica since the cursor (or ``since``; every one with ``all``).
    The cursor moves once the last one is handled (the generator exhausted).

    With ``poll.source: odata`` (the default) the changes are read from the Customer DAC through
    OData (no API seat); ``all`` and ``poll.source: rest`` read the contract-based Customer."""
    client = clients.acumatica()
    odata = change_source(template()) == "odata"
    if all or since is not None:
        if odata and not all:
            start = parse_optional(since)
            for row in _odata_rows(start, None):
                yield str(row["CustomerID"])
            return
        expr = None if all else F("LastModifiedDateTime") >= parse_optional(since)
        for row in client.iter_list("Customer", filter=expr, select=["CustomerID"]):
            yield str(row["CustomerID"])
        return
    cursor = template_cursor(NAME, REVERSE, template().get("poll"))
    window = cursor.window()
    expr = F("LastModifiedDateTime") <= window.end
    if window.start is not None:
        expr = (F("LastModifiedDateTime") >= window.start) & expr
    if odata:
        rows = _odata_rows(window.start, window.end)
    else:
        rows = client.iter_list(
            "Customer", filter=expr, select=["CustomerID", "LastModifiedDateTime"]
        )
    while page := list(itertools.islice(rows, PAGE)):
        ours = own_writes([str(r["CustomerID"]) for r in page])
        for row in page:
            moment = parse_optional(row.get("LastModifiedDateTime"))
            if moment is None or not cursor.accept(row["CustomerID"], moment, moment):
                continue
            if ours.get(str(row["CustomerID"])) == to_utc_iso(moment):
                continue  # our own write, nothing new to bring back
            yield str(row["CustomerID"])
    cursor.commit()


def poll(request: PollRequest, hand_out: HandOut) -> dict[str, Any]:
    """Changed X-Cart profiles (``profile`` chains) and changed Acumatica customers
    (``customer`` chains); or the listed profiles (``ids``: ``5`` or ``profile:5``, as drift
    reports them).

    A cursor poll scans the profiles only when due (see the module's docstring); a resync
    (``since``, ``all``) always does.
    """
    if request.ids:
        profiles = [str(i).removeprefix("profile:") for i in request.ids]
        hand_out(Start("profile", profile_id) for profile_id in profiles)
        return {"profiles": profiles, "customers": []}
    scan = not request.is_cursor_poll or profile_scan_due()
    profiles = [str(p["id"]) for p, _ in changed_profiles(all=request.all)] if scan else []
    hand_out(Start("profile", profile_id) for profile_id in profiles)
    customers = []
    # Handed out as they are read: the cursor moves past the last one only once it is handed out.
    for customer_id in changed_acumatica_customers(request.since, all=request.all):
        customers.append(customer_id)
        hand_out([Start("customer", customer_id)])
    if request.is_cursor_poll and scan:
        profiles_scanned()
    restarted = [] if request.ids else stalled(NAME, REVERSE)
    hand_out(Start("customer", customer_id) for customer_id in restarted)
    return {"profiles": profiles, "customers": customers, "restarted": restarted}


def on_webhook(event: str, data: Mapping[str, Any]) -> list[Start]:
    """A ``profile.*`` store webhook: the profile's chain (staff accounts are left alone)."""
    profile_id = data.get("id")
    if profile_id is None or data.get("access_level", 0) != 0:
        return []
    return [Start("profile", str(profile_id))]


def customers_in_push(notification: Mapping[str, Any]) -> list[Start]:
    """A ``customer`` chain per new row of an Acumatica ``Customers`` push notification."""
    found: list[str] = []
    for row in notification.get("Inserted") or []:
        customer_id = row.get("CustomerID")
        if customer_id and str(customer_id) not in found:
            found.append(str(customer_id))
    return [Start("customer", customer_id) for customer_id in found]


def _billing(book: list[dict[str, Any]]) -> dict[str, Any] | None:
    return next((a for a in book if a.get("is_billing")), book[0] if book else None)


def _customers_by_id() -> dict[str, dict[str, Any]]:
    """Every Acumatica customer with its main contact and address, by CustomerID."""
    rows = clients.acumatica().iter_list("Customer", expand=["MainContact/Address"])
    return {str(r["CustomerID"]): r for r in rows}


def _compared(
    profile: Mapping[str, Any], customer: Mapping[str, Any]
) -> list[tuple[str, str, Any, Any]]:
    """The field differences a sync of a linked pair would write (reads the address book)."""
    book = clients.xcart().addresses(int(profile["id"]))
    states = addresses.state_table(load_template("orders"))
    return customer_map.differences(profile, _billing(book), customer, template(), states)


def _unlinked_customers(
    customers: Mapping[str, Mapping[str, Any]],
) -> Iterator[tuple[str, str | None]]:
    """Acumatica customers the customer chain would bring to the store: CustomerID and why not
    (``None``: it would be linked to, or become, a profile)."""
    tmpl = template()
    if not tmpl.get("create_store_profiles"):
        return
    guest = str(tmpl.get("guest_customer") or "").casefold()
    with session_scope() as session:
        linked_ids = {
            str(r.target_key)
            for r in session.scalars(
                select(SyncRecord).where(
                    SyncRecord.flow == NAME,
                    SyncRecord.direction == DIRECTION,
                    SyncRecord.target_key.is_not(None),
                )
            )
        }
    for customer_id, customer in customers.items():
        if customer_id in linked_ids:
            continue
        if customer.get("IsGuestCustomer") or customer_id.casefold() == guest:
            continue
        email = customer.get("Email") or (customer.get("MainContact") or {}).get("Email")
        yield customer_id, None if str(email or "").strip() else "no e-mail"


def plan(
    since: str | datetime | None = None, ids: list[Any] | None = None, all: bool = False
) -> list:
    """What a resync would do (reads only): per changed profile, the fields it would write each
    way; with ``all``, also the Acumatica customers that would become profiles."""
    planned: list[PlannedChange] = []
    wanted = {int(str(i).removeprefix("profile:")) for i in ids} if ids else None
    customers: dict[str, dict[str, Any]] | None = None
    for profile, _digest in changed_profiles(all=all or bool(ids)):
        if wanted is not None and int(profile["id"]) not in wanted:
            continue
        source_id = profile_source(profile["id"])
        linked = linked_customer(source_id)
        if not linked and uses_guest_customer(profile):
            planned.append(
                PlannedChange(NAME, DIRECTION, source_id, "skip", reason="a guest profile")
            )
            continue
        if not linked:
            planned.append(
                PlannedChange(NAME, DIRECTION, source_id, "create", reason="not linked yet")
            )
            continue
        if customers is None:
            customers = _customers_by_id()
        customer = customers.get(linked)
        if customer is None:
            planned.append(
                PlannedChange(
                    NAME, DIRECTION, source_id, "skip", linked, "linked customer not found"
                )
            )
            continue
        changes = tuple(
            FieldChange(field, now, new) for _g, field, now, new in _compared(profile, customer)
        )
        planned.append(
            PlannedChange(
                NAME,
                DIRECTION,
                source_id,
                "update" if changes else "skip",
                target_key=linked,
                reason="fields differ" if changes else "content changed, fields agree",
                changes=changes,
            )
        )
    if all and wanted is None:
        for customer_id, why_not in _unlinked_customers(customers or _customers_by_id()):
            if why_not:
                planned.append(PlannedChange(NAME, REVERSE, customer_id, "skip", reason=why_not))
            else:
                reason = "no linked X-Cart profile: linked by e-mail, else created"
                planned.append(PlannedChange(NAME, REVERSE, customer_id, "create", reason=reason))
    return planned


def drift(since: str | datetime | None = None) -> list[Drift]:
    """Registered profiles with no customer link (guests' profiles using the shared guest
    customer left out); linked pairs whose fields differ (``mismatch``: per owned group, each
    field's value now and the one its owner has); Acumatica customers that should have become a
    profile and have not (``acumatica_to_xcart`` ``missing_in_target``)."""
    found = []
    customers = _customers_by_id()
    for profile, _digest in changed_profiles(all=True):
        source_id = profile_source(profile["id"])
        linked = linked_customer(source_id)
        if linked is None:
            if not uses_guest_customer(profile):
                found.append(Drift(NAME, DIRECTION, source_id, None, "missing_in_target"))
            continue
        customer = customers.get(linked)
        if customer is None:
            found.append(Drift(NAME, DIRECTION, source_id, linked, "target_gone"))
            continue
        details: dict[str, dict[str, Any]] = {}
        for group, field, now, expected in _compared(profile, customer):
            details.setdefault(group, {})[field] = {"now": now, "expected": expected}
        if details:
            found.append(Drift(NAME, DIRECTION, source_id, linked, "mismatch", details))
    for customer_id, why_not in _unlinked_customers(customers):
        if why_not is None:
            found.append(Drift(NAME, REVERSE, customer_id, None, "missing_in_target"))
    return found
