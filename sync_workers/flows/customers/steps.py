"""The steps of the customers flow's two chains.

``profile`` (record: an X-Cart profile id; ledger source ``profile:<id>``): ``fetch`` (the
profile, its billing address, its content hash) -> ``match`` (the linked customer, else one
matched by e-mail or phone, else a new one) -> ``push`` (the fields X-Cart owns, to Acumatica)
-> ``write_back`` (the fields Acumatica owns, to the profile and its billing address; the hash
recorded). From ``match`` on, the profile's lock is held.

``customer`` (record: an Acumatica CustomerID): ``fetch`` (the customer and its linked profile)
-> ``link`` (an unlinked customer: the profile with its e-mail as login, else a new one, linked
under the customer's lock) -> ``write_back`` (the fields Acumatica owns, to the profile and its
billing address, under the profile's lock) -> ``finish`` (the customer's pending ledger row
removed; a customer not brought keeps it, skipped, with the reason).

Which side owns which field is the template's ``system_of_record``. X-Cart keeps no name, phone
or postal address on a profile: the ``name``, ``contact`` and ``address`` groups are the
profile's billing address (else its first) on the store's side.

No echo: after writing a profile the chains record its content hash as written (the profile
scan then finds nothing new), unless a store change was already waiting for the profile chain;
after writing a customer they record the ``LastModifiedDateTime`` it left (``WRITTEN_AT``).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sqlalchemy.exc import IntegrityError

from sync_workers import clients
from sync_workers.connectors.xcart.client import PROFILE_VOLATILE_KEYS
from sync_workers.flows.customers.matching import (
    DIRECTION,
    LOCK_WAIT,
    NAME,
    REVERSE,
    WRITTEN_AT,
    ensure_for_order,
    linked_customer,
    modified,
    profile_source,
    template,
    uses_guest_customer,
)
from sync_workers.flows.shape import State
from sync_workers.hashing import content_hash
from sync_workers.ledger import (
    Status,
    claim_record,
    find_by_source,
    find_by_target,
    mark_status,
    session_scope,
)
from sync_workers.locks import record_lock
from sync_workers.mapping import addresses
from sync_workers.mapping import customers as customer_map
from sync_workers.mapping.templates import load_template

log = logging.getLogger(__name__)
#: What X-Cart takes as a profile login: an e-mail address (5 to 128 characters).
LOGIN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
#: Why a customer linked to a guest's e-mail (not a profile) is not brought to the store.
GUEST_EMAIL = "a guest e-mail's customer"


def profile_locked(state: Mapping[str, Any]) -> AbstractContextManager[None]:
    """The lock of the chain's X-Cart profile (the lock a new buyer's match takes too), or none
    when there is nothing to write."""
    if state.get("skip") or state.get("profile_id") is None:
        return nullcontext()
    return record_lock(NAME, profile_source(state["profile_id"]), wait=LOCK_WAIT)


def _record_profile(
    profile_id: int,
    *,
    digest: str | None = None,
    status: Status | None = None,
    written_at: str | None = None,
) -> None:
    """Note on the profile's ledger row the content last synced (what the profile scan compares
    with), its status, and after a write to Acumatica the ``LastModifiedDateTime`` it left."""
    with session_scope() as session:
        record = claim_record(session, NAME, DIRECTION, profile_source(profile_id))
        if digest is not None:
            record.content_hash = digest
        if written_at is not None:
            record.data = {**(record.data or {}), WRITTEN_AT: written_at}
        if status is not None:
            mark_status(session, record, status)


# Chain ``profile`` ------------------------------------------------------------------------------


def fetch_profile(state: State) -> State:
    """The profile, its billing address (else its first) and its content hash; staff accounts
    are skipped."""
    profile_id = int(state["record_id"])
    xcart = clients.xcart()
    profile = xcart.get_profile(profile_id)
    state["profile_id"] = profile_id
    if profile.get("access_level", 0) != 0:
        state["skip"] = "not a customer account"
        return state
    book = xcart.addresses(profile_id)
    state["billing"] = next((a for a in book if a.get("is_billing")), book[0] if book else None)
    state["profile"] = profile
    state["digest"] = content_hash(profile, PROFILE_VOLATILE_KEYS)
    return state


def match(state: State) -> State:
    """The profile's customer: linked, else matched by e-mail or phone, else created. A guest's
    profile using the shared guest customer is recorded as skipped (until it changes)."""
    if state.get("skip"):
        return state
    profile = state["profile"]
    buyer = {
        "id": None,
        "customer_id": state["profile_id"],
        "email": profile.get("login"),
        "billing_address": state["billing"],
        "currency": None,
    }
    linked = linked_customer(profile_source(state["profile_id"]))
    if not linked and uses_guest_customer(profile):
        _record_profile(state["profile_id"], digest=state["digest"], status=Status.SKIPPED)
        state["skip"] = "a guest profile: its orders use the guest customer"
        return state
    state["customer_id"] = ensure_for_order(buyer, profile, linked=linked)
    state["target_key"] = state["customer_id"]
    return state


def push(state: State) -> State:
    """Write to the customer the profile's fields X-Cart owns, when they differ."""
    if state.get("skip"):
        return state
    client = clients.acumatica()
    customer = client.get_by_keys(
        "Customer", state["customer_id"], expand=["MainContact/Address"], missing_ok=True
    )
    if customer is None:
        state.update(action="missing", skip="linked customer not found in Acumatica")
        return state
    states = addresses.state_table(load_template("orders"))
    update = customer_map.profile_changes(
        state["profile"], state["billing"], customer, template(), states
    )
    if update:
        written = client.put("Customer", update, select=["CustomerID", "LastModifiedDateTime"])
        # noted at once: a retry after a later step failed finds nothing left to write here,
        # and the poll must still know this change is ours
        _record_profile(state["profile_id"], written_at=modified(written))
    state["customer"] = customer
    state["acumatica_fields"] = sorted(k for k in update if k != "CustomerID")
    return state


def write_back_profile(state: State) -> State:
    """Write to the profile the fields Acumatica owns, when they differ; record the profile's
    content as synced."""
    if state.get("skip"):
        return state
    profile_id = state["profile_id"]
    back = customer_map.xcart_profile_changes(state["profile"], state["customer"], template())
    digest = state["digest"]
    if back:
        written = clients.xcart().update_profile(profile_id, back)
        digest = content_hash(written, PROFILE_VOLATILE_KEYS)  # our write is no store change
    fields = sorted(back) + _write_address_book(
        profile_id, state["customer"], template(), seed=False
    )
    _record_profile(profile_id, digest=digest, status=Status.SYNCED)
    state["action"] = "update" if (state["acumatica_fields"] or fields) else "skip"
    state["summary"] = {
        "customer_id": state["customer_id"],
        "acumatica_fields": state["acumatica_fields"],
        "xcart_fields": fields,
    }
    return state


# Chain ``customer`` -----------------------------------------------------------------------------


def _not_brought(state: State, reason: str) -> State:
    """Skip a customer that does not become an X-Cart profile, the reason kept on its
    ``acumatica_to_xcart`` ledger row (and in the run's result)."""
    with session_scope() as session:
        record = claim_record(session, NAME, REVERSE, str(state["record_id"]))
        mark_status(session, record, Status.SKIPPED, error=reason)
    state.update(skip=reason, not_brought=True)
    return state


def _linked_profile(customer_id: str) -> tuple[int | None, str | None]:
    """The profile id the ledger links to the customer, and the source id of its link."""
    with session_scope() as session:
        record = find_by_target(session, NAME, DIRECTION, customer_id)
        source = record.source_id if record is not None else None
    if source is not None and source.startswith("profile:"):
        return int(source.split(":", 1)[1]), source
    return None, source


def fetch_customer(state: State) -> State:
    """The customer (main contact and address) and the X-Cart profile the ledger links to it.

    A customer with no linked profile goes on to ``link`` unless it is the guest customer, the
    customer of a guest e-mail, one without an e-mail, or ``create_store_profiles`` is off.
    """
    customer_id = str(state["record_id"])
    tmpl = template()
    profile_id, source = _linked_profile(customer_id)
    if profile_id is None and source is not None:
        state["skip"] = GUEST_EMAIL
        return state
    if profile_id is None and not tmpl.get("create_store_profiles"):
        state["skip"] = "no linked X-Cart profile"
        return state
    customer = clients.acumatica().get_by_keys(
        "Customer", customer_id, expand=["MainContact/Address"], missing_ok=True
    )
    if customer is None:
        state["skip"] = "customer not found"
        return state
    state["customer"] = customer
    if profile_id is not None:
        state["profile_id"] = profile_id
        return state
    guest = str(tmpl.get("guest_customer") or "")
    if customer.get("IsGuestCustomer") or (guest and customer_id.casefold() == guest.casefold()):
        state["skip"] = "the guest customer"
        return state
    email = str(customer.get("Email") or (customer.get("MainContact") or {}).get("Email") or "")
    if not email.strip():
        return _not_brought(state, "no e-mail: an X-Cart profile needs one as its login")
    if not LOGIN.match(email.strip()) or not 5 <= len(email.strip()) <= 128:
        return _not_brought(state, "its e-mail is not one X-Cart takes as a login")
    state["email"] = email.strip()
    return state


def _profile_fields(customer: Mapping[str, Any], email: str, tmpl: Mapping[str, Any]) -> dict:
    status = (tmpl.get("status_to_xcart") or {}).get(customer.get("Status")) or "E"
    return {"login": email, "status": status, "access_level": 0}


def _store_changes(
    profile_id: int, profile: Mapping[str, Any], customer: Mapping[str, Any]
) -> dict[str, Any]:
    """What the ``profile`` chain would write to the customer from this profile (the groups
    X-Cart owns); reads the address book."""
    book = clients.xcart().addresses(profile_id)
    billing = next((a for a in book if a.get("is_billing")), book[0] if book else None)
    states = addresses.state_table(load_template("orders"))
    return customer_map.profile_changes(profile, billing, customer, template(), states)


def link_profile(state: State) -> State:
    """An unlinked customer's profile: the store's profile with its e-mail as login (compared
    case-insensitively) when there is one, else a new one; linked in the ledger at once.

    Under the customer's lock the ledger and the store are asked again before anything is
    created, so a run retried after a lost answer finds the profile the first one made.
    """
    if state.get("skip") or state.get("profile_id") is not None:
        return state
    customer_id = str(state["record_id"])
    email = state["email"]
    with record_lock(NAME, f"customer:{customer_id}", wait=LOCK_WAIT):
        profile_id, _source = _linked_profile(customer_id)
        if profile_id is not None:
            state["profile_id"] = profile_id
            return state
        xcart = clients.xcart()
        profile = xcart.find_profile_by_login(email)
        how = "matched"
        if profile is None:
            fields = _profile_fields(state["customer"], email, template())
            try:
                profile = xcart.create_profile(fields)
            except Exception:
                # the create may have been made and its answer lost
                profile = xcart.find_profile_by_login(email)
                if profile is None:
                    raise
            how = "created"
        if profile.get("access_level", 0) != 0:
            return _not_brought(state, "its e-mail is the login of a staff account")
        other = linked_customer(profile_source(profile["id"]))
        if other is not None and other != customer_id:
            return _not_brought(
                state, f"the X-Cart profile with its e-mail is linked to customer {other}"
            )
        # nothing of the store's to bring to Acumatica: a scan need not see the profile again
        settled = not _store_changes(int(profile["id"]), profile, state["customer"])
        try:
            with session_scope() as session:
                record = claim_record(session, NAME, DIRECTION, profile_source(profile["id"]))
                record.target_key = customer_id
                record.data = {**(record.data or {}), "customer_id": customer_id, "how": how}
                if settled:
                    record.content_hash = content_hash(profile, PROFILE_VOLATILE_KEYS)
                mark_status(session, record, Status.SYNCED)
        except IntegrityError:
            # an order or a profile linked another buyer to the customer meanwhile (the ledger's
            # unique target key refused this link): as though that link had been found first
            profile_id, source = _linked_profile(customer_id)
            if source is None:
                raise
            if profile_id is None:
                state["skip"] = GUEST_EMAIL
            state["profile_id"] = profile_id
            return state
    log.info("customer %s: X-Cart profile %s %s", customer_id, profile["id"], how)
    state.update(profile_id=int(profile["id"]), profile_how=how)
    return state


def _write_address_book(
    profile_id: int, customer: Mapping[str, Any], tmpl: Mapping[str, Any], *, seed: bool = True
) -> list[str]:
    """Bring the customer's groups Acumatica owns to the profile's billing address (else its
    first); with ``seed``, an empty address book gets the customer's address, whoever owns the
    groups, when it is complete enough for the store. The fields written."""
    xcart = clients.xcart()
    states = addresses.state_table(load_template("orders"))
    book = xcart.addresses(profile_id)
    target = next((a for a in book if a.get("is_billing")), book[0] if book else None)
    if target is None:
        if not seed:
            return []
        fields = customer_map.to_xcart_address(customer, states)
        if addresses.address_problems(fields, states):
            return []
        xcart.create_address(profile_id, {**fields, "is_billing": True, "is_shipping": True})
        return sorted(f"address.{k}" for k in fields)
    update = customer_map.xcart_address_changes(target, customer, tmpl, states)
    if update:
        xcart.update_address(profile_id, int(target["id"]), update)
    return sorted(f"address.{k}" for k in update)


def _write_profile(
    profile_id: int, profile: Mapping[str, Any], customer: Mapping[str, Any]
) -> tuple[list[str], bool]:
    """Write the profile fields Acumatica owns; the fields written, and whether the content
    hash the ledger has for the profile is still the one it had before (no store change is
    waiting for the profile chain), in which case the hash after the write is recorded."""
    digest = content_hash(profile, PROFILE_VOLATILE_KEYS)
    back = customer_map.xcart_profile_changes(profile, customer, template())
    written = clients.xcart().update_profile(profile_id, back) if back else profile
    with session_scope() as session:
        record = find_by_source(session, NAME, DIRECTION, profile_source(profile_id))
        current = record is not None and record.content_hash == digest
        if current and record is not None:
            record.content_hash = content_hash(written, PROFILE_VOLATILE_KEYS)
    return sorted(back), current


def write_back_customer(state: State) -> State:
    """Write to the linked profile and its address book the fields Acumatica owns, when they
    differ (under the profile's lock)."""
    if state.get("skip"):
        return state
    profile_id = state["profile_id"]
    xcart = clients.xcart()
    profile = xcart.get_profile(profile_id)
    fields, _current = _write_profile(profile_id, profile, state["customer"])
    fields += _write_address_book(profile_id, state["customer"], template())
    created = state.get("profile_how") == "created"
    state["action"] = "create" if created else "update" if fields else "skip"
    state["summary"] = {
        "profile_id": profile_id,
        "xcart_fields": fields,
        **({"profile": state["profile_how"]} if state.get("profile_how") else {}),
    }
    return state


def finish_customer(state: State) -> State:
    """Done with the customer: its ledger row (made pending when the chain was handed out) is
    removed, unless the customer is not brought to the store (the row keeps why)."""
    if state.get("not_brought"):
        return state
    with session_scope() as session:
        record = find_by_source(session, NAME, REVERSE, str(state["record_id"]))
        if record is not None:
            session.delete(record)
    return state
