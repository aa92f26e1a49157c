"""Customers: X-Cart buyers and profiles <-> Acumatica customers.

Before any create, an existing Acumatica customer is looked for by e-mail, then phone; the link
is kept in the ledger (``customers``/``xcart_to_acumatica``, source ``profile:<id>`` or
``email:<address>``), so a known buyer costs no Acumatica call at all. A create uses a
deterministic ``CustomerID``: retried after a lost answer, the PUT updates the record the first
one made instead of adding a second.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import select

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import Expr, F, any_of
from sync_workers.dates import parse_optional, to_utc_iso
from sync_workers.flows.base import Drift, PlannedChange, template_cursor
from sync_workers.hashing import content_hash
from sync_workers.ledger import (
    Status,
    SyncRecord,
    claim_record,
    find_by_source,
    find_by_target,
    mark_status,
    peek_by_source,
    session_scope,
)
from sync_workers.locks import record_lock
from sync_workers.mapping import addresses
from sync_workers.mapping import customers as customer_map
from sync_workers.mapping.templates import load_template
from sync_workers.redis_client import get_redis, prefixed
from sync_workers.tracing import current_trace_id

log = logging.getLogger(__name__)

FLOW = "customers"
DIRECTION = "xcart_to_acumatica"
REVERSE = "acumatica_to_xcart"
LOCK_WAIT = 15.0
_SELECT = ("CustomerID", "CustomerName", "Email", "Status", "LastModifiedDateTime")
#: Ledger ``data`` key: ``LastModifiedDateTime`` of the customer as our last write left it, so
#: the poll does not read back (two calls) a change that is only our own write.
WRITTEN_AT = "erp_written_at"


def _modified(customer: Mapping[str, Any] | None) -> str | None:
    moment = parse_optional((customer or {}).get("LastModifiedDateTime"))
    return to_utc_iso(moment) if moment is not None else None


def own_writes(customer_ids: list[str]) -> dict[str, str]:
    """CustomerID -> ``LastModifiedDateTime`` our last write left, for those linked here."""
    if not customer_ids:
        return {}
    with session_scope() as session:
        rows = session.scalars(
            select(SyncRecord).where(
                SyncRecord.flow == FLOW,
                SyncRecord.direction == DIRECTION,
                SyncRecord.target_key.in_(customer_ids),
            )
        ).all()
        return {
            str(r.target_key): str((r.data or {})[WRITTEN_AT])
            for r in rows
            if (r.data or {}).get(WRITTEN_AT)
        }


def template() -> dict[str, Any]:
    return load_template(FLOW)


def linked_customer(source_id: str) -> str | None:
    """The Acumatica CustomerID the ledger links to this X-Cart buyer, if any."""
    with session_scope() as session:
        record = peek_by_source(session, FLOW, DIRECTION, source_id)
        if record is None or record.status != Status.SYNCED.value:
            return None
        return record.target_key or (record.data or {}).get("customer_id")


def find_existing(email: str | None, phone: str | None, match_by: list[str]) -> dict | None:
    """An Acumatica customer with this e-mail, else this phone (in ``match_by`` order).

    One query asks for both; the phone is compared as the shopper typed it and as digits.
    Candidates are then ranked in ``match_by`` order (e-mails compare case-insensitively).
    """
    tests: dict[str, Expr] = {}
    if "email" in match_by and email:
        tests["email"] = F("Email") == email
    if "phone" in match_by and phone:
        variants = list(dict.fromkeys([phone, addresses.normalise_phone(phone)]))
        tests["phone"] = any_of(*(F("MainContact/Phone1") == v for v in variants))
    if not tests:
        return None
    rows = clients.acumatica().get_list(
        "Customer",
        filter=any_of(*tests.values()),
        select=[*_SELECT, "MainContact/Phone1"],
        expand=["MainContact"],
        top=20,
    )
    digits = addresses.normalise_phone(phone) if phone else None
    for key in match_by:
        for row in rows:
            if (
                key == "email"
                and email
                and str(row.get("Email") or "").casefold() == email.casefold()
            ):
                return row
            contact_phone = (row.get("MainContact") or {}).get("Phone1")
            if key == "phone" and digits and addresses.normalise_phone(contact_phone) == digits:
                return row
    return None


def _link(source_id: str, customer_id: str, data: Mapping[str, Any]) -> None:
    """Record the link; a customer already linked to another buyer is shared, not re-linked."""
    with session_scope() as session:
        record = claim_record(session, FLOW, DIRECTION, source_id, trace_id=current_trace_id())
        other = find_by_target(session, FLOW, DIRECTION, customer_id)
        if other is None or other.id == record.id:
            record.target_key = customer_id
        record.data = {**(record.data or {}), **data, "customer_id": customer_id}
        mark_status(session, record, Status.SYNCED)


def ensure_for_order(
    order: Mapping[str, Any], profile: Mapping[str, Any] | None, *, linked: str | None = None
) -> str:
    """The Acumatica CustomerID for an order's buyer; matched or created when not linked yet.

    ``profile`` is the buyer's X-Cart profile; it may be left out when the profile is linked
    already (only a linked registered profile can skip it: without it the buyer is a guest).
    ``linked``: the CustomerID the ledger linked to the buyer's profile, as the order's fetch
    read it moments ago (spares reading it again).
    """
    tmpl = template()
    if order.get("customer_id"):
        registered = linked or linked_customer(f"profile:{int(order['customer_id'])}")
        if registered:
            return registered
    guest = customer_map.is_guest(order, profile)
    if guest and tmpl.get("guest_mode") == "single":
        return str(tmpl["guest_customer"])
    source_id = customer_map.source_id(order, guest=guest)
    linked = linked_customer(source_id)
    if linked:
        return linked
    with record_lock(FLOW, source_id, wait=LOCK_WAIT):
        linked = linked_customer(source_id)
        if linked:
            return linked
        billing = order.get("billing_address") or {}
        email = str(order.get("email") or "").strip()
        phone = str(billing.get("phone") or "").strip() or None
        found = find_existing(email, phone, list(tmpl.get("match_by") or ["email", "phone"]))
        if found is not None:
            customer_id = str(found["CustomerID"])
            how = "matched"
        else:
            customer_id = customer_map.customer_id_for(
                tmpl, profile_id=None if guest else order.get("customer_id"), email=email
            )
            states = addresses.state_table(load_template("orders"))
            record = customer_map.to_customer(order, tmpl, states, customer_id=customer_id)
            written = clients.acumatica().put("Customer", record, select=list(_SELECT))
            how = "created"
        link: dict[str, str | None] = {"email": email, "how": how}
        if how == "created":
            link[WRITTEN_AT] = _modified(written)
        _link(source_id, customer_id, link)
        log.info("customer %s %s for %s", customer_id, how, source_id)
        return customer_id


# Profiles (scan + hash; X-Cart has no updated-since filter for profiles) ---------------------


def _profile_scan_key() -> str:
    return prefixed(FLOW, "profile-scan", "last")


def profile_scan_seconds() -> float:
    """How often a cursor poll scans every X-Cart profile (``poll.profile_scan_seconds``)."""
    return float((template().get("poll") or {}).get("profile_scan_seconds", 600))


def profile_scan_due() -> bool:
    """Whether this cursor poll scans the profiles: X-Cart has no updated-since filter for
    them, so a scan reads every page; in between a poll reads only Acumatica (one call idle).
    New buyers do not wait for it: the order flow links or creates their customer."""
    last = get_redis().get(_profile_scan_key())
    return last is None or time.time() - float(last) >= profile_scan_seconds()


def profiles_scanned() -> None:
    get_redis().set(_profile_scan_key(), str(time.time()))


def changed_profiles(all: bool = False) -> Iterator[tuple[dict[str, Any], str]]:
    """Customer profiles whose content changed since the last sync (every one with ``all``)."""
    for profile, digest in clients.xcart().scan_profiles():
        if profile.get("access_level", 0) != 0:
            continue
        if all:
            yield profile, digest
            continue
        with session_scope() as session:
            record = find_by_source(session, FLOW, DIRECTION, f"profile:{profile['id']}")
            known = record.content_hash if record is not None else None
        if known != digest:
            yield profile, digest


def sync_profile(profile_id: int) -> dict[str, Any]:
    """Bring one registered X-Cart profile's customer up to date, per the system of record."""
    tmpl = template()
    xcart = clients.xcart()
    profile = xcart.get_profile(profile_id)
    digest = content_hash(profile, {"update_date", "last_login_date", "first_login_date"})
    book = xcart.addresses(profile_id)
    billing = next((a for a in book if a.get("is_billing")), book[0] if book else None)
    source_id = f"profile:{int(profile_id)}"
    states = addresses.state_table(load_template("orders"))
    order_like = {
        "id": None,
        "customer_id": profile_id,
        "email": profile.get("login"),
        "billing_address": billing,
        "currency": None,
    }
    customer_id = ensure_for_order(order_like, profile)
    client = clients.acumatica()
    customer = client.get_by_keys(
        "Customer", customer_id, expand=["MainContact/Address"], missing_ok=True
    )
    result: dict[str, Any] = {"record_id": str(profile_id), "customer_id": customer_id}
    if customer is None:
        result["action"] = "missing"
        return result
    update = customer_map.profile_changes(profile, billing, customer, tmpl, states)
    written = None
    if update:
        written = client.put("Customer", update, select=["CustomerID", "LastModifiedDateTime"])
    back = customer_map.xcart_profile_changes(profile, customer, tmpl)
    if back:
        xcart.update_profile(profile_id, back)
    with session_scope() as session:
        record = claim_record(session, FLOW, DIRECTION, source_id)
        record.content_hash = digest
        if written is not None:
            record.data = {**(record.data or {}), WRITTEN_AT: _modified(written)}
        mark_status(session, record, Status.SYNCED)
    result["action"] = "update" if (update or back) else "skip"
    result["acumatica_fields"] = sorted(k for k in update if k != "CustomerID")
    result["xcart_fields"] = sorted(back)
    return result


def sync_from_acumatica(customer_id: str) -> dict[str, Any]:
    """Bring the linked X-Cart profile up to date with fields Acumatica owns (e.g. status)."""
    with session_scope() as session:
        record = find_by_target(session, FLOW, DIRECTION, customer_id)
        source = record.source_id if record is not None else None
    result: dict[str, Any] = {"record_id": customer_id}
    if source is None or not source.startswith("profile:"):
        result["skip"] = "no linked X-Cart profile"
        return result
    profile_id = int(source.split(":", 1)[1])
    customer = clients.acumatica().get_by_keys("Customer", customer_id, missing_ok=True)
    if customer is None:
        result["skip"] = "customer not found"
        return result
    xcart = clients.xcart()
    profile = xcart.get_profile(profile_id)
    back = customer_map.xcart_profile_changes(profile, customer, template())
    if back:
        with record_lock(FLOW, source, wait=LOCK_WAIT):
            xcart.update_profile(profile_id, back)
    result.update(profile_id=profile_id, xcart_fields=sorted(back))
    return result


def changed_acumatica_customers(since: Any = None, all: bool = False) -> Iterator[str]:
    """CustomerIDs changed in Acumatica since the cursor (or ``since``; every one with ``all``)."""
    client = clients.acumatica()
    if all or since is not None:
        expr = None if all else F("LastModifiedDateTime") >= parse_optional(since)
        for row in client.iter_list("Customer", filter=expr, select=["CustomerID"]):
            yield str(row["CustomerID"])
        return
    cursor = template_cursor(FLOW, REVERSE, template().get("poll"))
    window = cursor.window()
    expr = F("LastModifiedDateTime") <= window.end
    if window.start is not None:
        expr = (F("LastModifiedDateTime") >= window.start) & expr
    rows = client.iter_list("Customer", filter=expr, select=["CustomerID", "LastModifiedDateTime"])
    while page := list(itertools.islice(rows, 100)):
        ours = own_writes([str(r["CustomerID"]) for r in page])
        for row in page:
            moment = parse_optional(row.get("LastModifiedDateTime"))
            if moment is None or not cursor.accept(row["CustomerID"], moment, moment):
                continue
            if ours.get(str(row["CustomerID"])) == to_utc_iso(moment):
                continue  # our own write, nothing new to bring back
            yield str(row["CustomerID"])
    cursor.commit()


def customers_in_push(notification: Mapping[str, Any]) -> list[str]:
    """CustomerIDs of the new rows of an Acumatica ``Customers`` push notification."""
    found: list[str] = []
    for row in notification.get("Inserted") or []:
        customer_id = row.get("CustomerID")
        if customer_id and str(customer_id) not in found:
            found.append(str(customer_id))
    return found


def plan(since: Any = None, ids: list[Any] | None = None, all: bool = False) -> list:
    """What a profile resync would do (reads only)."""
    planned: list[PlannedChange] = []
    wanted = {int(i) for i in ids} if ids else None
    for profile, _digest in changed_profiles(all=all or bool(ids)):
        if wanted is not None and int(profile["id"]) not in wanted:
            continue
        source_id = f"profile:{profile['id']}"
        linked = linked_customer(source_id)
        planned.append(
            PlannedChange(
                FLOW,
                DIRECTION,
                source_id,
                "update" if linked else "create",
                target_key=linked,
                reason="content changed" if linked else "not linked yet",
            )
        )
    return planned


def drift(since: Any = None) -> list[Drift]:
    """Registered profiles with no customer link."""
    found = []
    for profile, _digest in changed_profiles(all=True):
        source_id = f"profile:{profile['id']}"
        if linked_customer(source_id) is None:
            found.append(Drift(FLOW, DIRECTION, source_id, None, "missing_in_target"))
    return found
