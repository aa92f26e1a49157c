"""Which Acumatica customer an X-Cart buyer is: the ledger's link, else a match, else a create.

Before any create, an existing Acumatica customer is looked for by e-mail, then phone; the link
is kept in the ledger (``customers``/``xcart_to_acumatica``, source ``profile:<id>`` or
``email:<address>``), so a known buyer costs no Acumatica call at all. A create uses a
deterministic ``CustomerID``: retried after a lost answer, the PUT updates the record the first
one made instead of adding a second. A lock per buyer serialises concurrent orders of one buyer.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from sync_workers import clients
from sync_workers.connectors.acumatica.filters import Expr, F, any_of
from sync_workers.dates import parse_optional, to_utc_iso
from sync_workers.ledger import (
    Status,
    SyncRecord,
    claim_record,
    find_by_target,
    mark_status,
    peek_by_source,
    session_scope,
)
from sync_workers.locks import record_lock
from sync_workers.mapping import addresses
from sync_workers.mapping import customers as customer_map
from sync_workers.mapping.templates import load_template
from sync_workers.tracing import current_trace_id

log = logging.getLogger(__name__)

NAME = "customers"
DIRECTION = "xcart_to_acumatica"
REVERSE = "acumatica_to_xcart"
LOCK_WAIT = 15.0
SELECT = ("CustomerID", "CustomerName", "Email", "Status", "LastModifiedDateTime")
#: Ledger ``data`` key: ``LastModifiedDateTime`` of the customer as our last write left it, so
#: the poll does not read back (two calls) a change that is only our own write.
WRITTEN_AT = "erp_written_at"


def template() -> dict[str, Any]:
    return load_template(NAME)


def profile_source(profile_id: Any) -> str:
    """The ledger source id of a registered X-Cart profile."""
    return f"profile:{int(profile_id)}"


def modified(customer: Mapping[str, Any] | None) -> str | None:
    """The customer's ``LastModifiedDateTime``, normalised as the ledger keeps it."""
    moment = parse_optional((customer or {}).get("LastModifiedDateTime"))
    return to_utc_iso(moment) if moment is not None else None


def own_writes(customer_ids: list[str]) -> dict[str, str]:
    """CustomerID -> ``LastModifiedDateTime`` our last write left, for those linked here."""
    if not customer_ids:
        return {}
    with session_scope() as session:
        rows = session.scalars(
            select(SyncRecord).where(
                SyncRecord.flow == NAME,
                SyncRecord.direction == DIRECTION,
                SyncRecord.target_key.in_(customer_ids),
            )
        ).all()
        return {
            str(r.target_key): str((r.data or {})[WRITTEN_AT])
            for r in rows
            if (r.data or {}).get(WRITTEN_AT)
        }


def linked_customer(source_id: str) -> str | None:
    """The Acumatica CustomerID the ledger links to this X-Cart buyer, if any."""
    with session_scope() as session:
        record = peek_by_source(session, NAME, DIRECTION, source_id)
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
        select=[*SELECT, "MainContact/Phone1"],
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
    """Record the link; a customer already linked to another buyer is shared, not re-linked.

    Another buyer's link to the same customer may be committed between the look-up and this
    one (the ledger's unique target key then refuses it): the link is made again, sharing."""
    for last in (False, True):
        try:
            with session_scope() as session:
                trace_id = current_trace_id()
                record = claim_record(session, NAME, DIRECTION, source_id, trace_id=trace_id)
                other = find_by_target(session, NAME, DIRECTION, customer_id)
                if other is None or other.id == record.id:
                    record.target_key = customer_id
                record.data = {**(record.data or {}), **data, "customer_id": customer_id}
                mark_status(session, record, Status.SYNCED)
            return
        except IntegrityError:
            if last:
                raise


def membership_name(tmpl: Mapping[str, Any], profile: Mapping[str, Any] | None) -> str | None:
    """The name of the profile's X-Cart membership, read only when the template maps
    memberships to customer classes."""
    membership_id = (profile or {}).get("membership_id")
    if membership_id is None or not tmpl.get("membership_to_customer_class"):
        return None
    return clients.xcart().memberships().get(int(membership_id))


def uses_guest_customer(profile: Mapping[str, Any]) -> bool:
    """A profile that never signed in is a guest's; with ``guest_mode: single`` its orders use
    the shared guest customer, which no profile's fields may overwrite."""
    guest = customer_map.is_guest({"customer_id": profile.get("id")}, profile)
    return guest and template().get("guest_mode") == "single"


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
        registered = linked or linked_customer(profile_source(order["customer_id"]))
        if registered:
            return registered
    guest = customer_map.is_guest(order, profile)
    if guest and tmpl.get("guest_mode") == "single":
        return str(tmpl["guest_customer"])
    source_id = customer_map.source_id(order, guest=guest)
    linked = linked_customer(source_id)
    if linked:
        return linked
    with record_lock(NAME, source_id, wait=LOCK_WAIT):
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
            record = customer_map.to_customer(
                order,
                tmpl,
                states,
                customer_id=customer_id,
                membership=membership_name(tmpl, profile),
            )
            written = clients.acumatica().put("Customer", record, select=list(SELECT))
            how = "created"
        link: dict[str, str | None] = {"email": email, "how": how}
        if how == "created":
            link[WRITTEN_AT] = modified(written)
        _link(source_id, customer_id, link)
        # a guest's source id is their e-mail: never logged
        buyer = source_id if source_id.startswith("profile:") else "a guest"
        log.info("customer %s %s for %s", customer_id, how, buyer)
        return customer_id
