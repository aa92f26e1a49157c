"""The steps of the customers flow's two chains.

``profile`` (record: an X-Cart profile id; ledger source ``profile:<id>``): ``fetch`` (the
profile, its billing address, its content hash) -> ``match`` (the linked customer, else one
matched by e-mail or phone, else a new one) -> ``push`` (the fields X-Cart owns, to Acumatica)
-> ``write_back`` (the fields Acumatica owns, to the profile; the hash recorded). From ``match``
on, the profile's lock is held.

``customer`` (record: an Acumatica CustomerID): ``fetch`` (the customer and its linked profile)
-> ``write_back`` (the fields Acumatica owns, to the profile, under the profile's lock).

Which side owns which field is the template's ``system_of_record``.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import AbstractContextManager, nullcontext
from typing import Any

from sync_workers import clients
from sync_workers.connectors.xcart.client import PROFILE_VOLATILE_KEYS
from sync_workers.flows.customers.matching import (
    DIRECTION,
    LOCK_WAIT,
    NAME,
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
from sync_workers.ledger import Status, claim_record, find_by_target, mark_status, session_scope
from sync_workers.locks import record_lock
from sync_workers.mapping import addresses
from sync_workers.mapping import customers as customer_map
from sync_workers.mapping.templates import load_template


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
    if back:
        clients.xcart().update_profile(profile_id, back)
    _record_profile(profile_id, digest=state["digest"], status=Status.SYNCED)
    state["action"] = "update" if (state["acumatica_fields"] or back) else "skip"
    state["summary"] = {
        "customer_id": state["customer_id"],
        "acumatica_fields": state["acumatica_fields"],
        "xcart_fields": sorted(back),
    }
    return state


# Chain ``customer`` -----------------------------------------------------------------------------


def fetch_customer(state: State) -> State:
    """The customer and the X-Cart profile the ledger links to it; skipped without one."""
    customer_id = str(state["record_id"])
    with session_scope() as session:
        record = find_by_target(session, NAME, DIRECTION, customer_id)
        source = record.source_id if record is not None else None
    if source is None or not source.startswith("profile:"):
        state["skip"] = "no linked X-Cart profile"
        return state
    customer = clients.acumatica().get_by_keys("Customer", customer_id, missing_ok=True)
    if customer is None:
        state["skip"] = "customer not found"
        return state
    state.update(profile_id=int(source.split(":", 1)[1]), customer=customer)
    return state


def write_back_customer(state: State) -> State:
    """Write to the linked profile the fields Acumatica owns, when they differ."""
    if state.get("skip"):
        return state
    profile_id = state["profile_id"]
    xcart = clients.xcart()
    back = customer_map.xcart_profile_changes(
        xcart.get_profile(profile_id), state["customer"], template()
    )
    if back:
        xcart.update_profile(profile_id, back)
    state["action"] = "update" if back else "skip"
    state["summary"] = {"profile_id": profile_id, "xcart_fields": sorted(back)}
    return state
