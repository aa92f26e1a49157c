"""X-Cart profile / order buyer <-> Acumatica ``Customer`` (pure functions).

A customer the engine creates gets a deterministic ``CustomerID`` (prefix + X-Cart profile id,
or prefix + a digest of the e-mail for guests with a customer each), so a create retried after a
lost answer lands on the same record instead of making a second one.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from sync_workers.mapping import addresses
from sync_workers.mapping.templates import require_codes, require_keys

FIELD_GROUPS = ("identity", "name", "contact", "address", "status")
SIDES = ("xcart", "acumatica", "none")
CUSTOMER_ID_LIMIT = 30
ACUMATICA_CUSTOMER_STATUSES = ("Active", "On Hold", "Credit Hold", "One-Time", "Inactive")


def is_guest(order: Mapping[str, Any], profile: Mapping[str, Any] | None) -> bool:
    """A guest checkout: no profile, or a profile that never logged in."""
    if not order.get("customer_id") or profile is None:
        return True
    return not profile.get("first_login_date")


def customer_id_for(
    template: Mapping[str, Any], *, profile_id: Any = None, email: str | None = None
) -> str:
    prefix = str(template.get("customer_id_prefix") or "XC")
    if profile_id:
        return f"{prefix}{int(profile_id)}"[:CUSTOMER_ID_LIMIT]
    digest = hashlib.sha256(str(email or "").strip().casefold().encode()).hexdigest()[:12]
    return f"{prefix}E{digest.upper()}"[:CUSTOMER_ID_LIMIT]


def source_id(order: Mapping[str, Any], *, guest: bool) -> str:
    """The ledger source id of an order's buyer: ``profile:<id>`` or ``email:<e-mail>``."""
    if order.get("customer_id") and not guest:
        return f"profile:{int(order['customer_id'])}"
    return f"email:{str(order.get('email') or '').strip().casefold()}"


def customer_name(address: Mapping[str, Any] | None, email: str | None) -> str:
    name = addresses.full_name(address or {})
    return name or str(email or "")


def to_customer(
    order: Mapping[str, Any],
    template: Mapping[str, Any],
    states: Any,
    *,
    customer_id: str,
) -> dict[str, Any]:
    """The ``Customer`` to create for an order's buyer (from the billing address)."""
    billing = order.get("billing_address") or {}
    email = str(order.get("email") or "").strip()
    contact: dict[str, Any] = {
        "Email": email,
        "FirstName": str(billing.get("firstname") or "").strip(),
        "LastName": str(billing.get("lastname") or "").strip(),
        "Phone1": addresses.normalise_phone(billing.get("phone")),
        "Address": addresses.to_acumatica_address(billing, states) if billing else {},
    }
    return {
        "CustomerID": customer_id,
        "CustomerName": customer_name(billing, email),
        "CustomerClass": template.get("customer_class") or "DEFAULT",
        "CurrencyID": str(order.get("currency") or "").upper() or None,
        "Email": email,
        "MainContact": contact,
    }


def profile_changes(
    profile: Mapping[str, Any],
    address: Mapping[str, Any] | None,
    customer: Mapping[str, Any],
    template: Mapping[str, Any],
    states: Any,
) -> dict[str, Any]:
    """Fields of ``customer`` to update from the X-Cart profile, per the system of record."""
    owners = template.get("system_of_record") or {}
    contact = customer.get("MainContact") or {}
    update: dict[str, Any] = {}
    main: dict[str, Any] = {}
    login = str(profile.get("login") or "")
    if (
        owners.get("identity") == "xcart"
        and login
        and str(customer.get("Email") or "").casefold() != login.casefold()
    ):
        update["Email"] = login
    if address and owners.get("contact") == "xcart":
        phone = addresses.normalise_phone(address.get("phone"))
        if phone and phone != contact.get("Phone1"):
            main["Phone1"] = phone
    if address and owners.get("address") == "xcart":
        wanted = addresses.to_acumatica_address(address, states)
        current = contact.get("Address") or {}
        if any(current.get(k) != v for k, v in wanted.items()):
            main["Address"] = wanted
    if owners.get("status") == "xcart":
        label = (template.get("xcart_status_to_acumatica") or {}).get(profile.get("status"))
        if label and label != customer.get("Status"):
            update["Status"] = label
    if main:
        update["MainContact"] = main
    if update:
        update["CustomerID"] = customer["CustomerID"]
    return update


def xcart_profile_changes(
    profile: Mapping[str, Any], customer: Mapping[str, Any], template: Mapping[str, Any]
) -> dict[str, Any]:
    """Fields of the X-Cart profile to update from Acumatica, per the system of record."""
    owners = template.get("system_of_record") or {}
    update: dict[str, Any] = {}
    if owners.get("status") == "acumatica":
        code = (template.get("status_to_xcart") or {}).get(customer.get("Status"))
        if code and code != profile.get("status"):
            update["status"] = code
    email = str(customer.get("Email") or "")
    if (
        owners.get("identity") == "acumatica"
        and email
        and email.casefold() != str(profile.get("login") or "").casefold()
    ):
        update["login"] = email
    return update


def validate_template(template: dict[str, Any]) -> list[str]:
    problems = require_keys(template, "system_of_record", FIELD_GROUPS)
    for group, side in (template.get("system_of_record") or {}).items():
        if side not in SIDES:
            problems.append(f"system_of_record.{group}: must be one of {', '.join(SIDES)}")
    if template.get("guest_mode") not in ("single", "per_email"):
        problems.append("guest_mode: must be single or per_email")
    if template.get("guest_mode") == "single" and not template.get("guest_customer"):
        problems.append("guest_customer: required with guest_mode single")
    for key in template.get("match_by") or []:
        if key not in ("email", "phone"):
            problems.append(f"match_by: unknown key {key!r}")
    problems += require_codes(
        template, "status_to_xcart", ACUMATICA_CUSTOMER_STATUSES, "customer status"
    )
    problems += require_codes(template, "xcart_status_to_acumatica", ("E", "D"), "profile status")
    return problems
