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
CUSTOMER_CLASS_LIMIT = 10
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


def customer_class_for(template: Mapping[str, Any], membership: str | None) -> str:
    """The ``CustomerClass`` of a new customer: its membership's, else ``customer_class``."""
    classes = template.get("membership_to_customer_class") or {}
    if membership and membership in classes:
        return str(classes[membership])
    return str(template.get("customer_class") or "DEFAULT")


def customer_name(address: Mapping[str, Any] | None, email: str | None) -> str:
    name = addresses.full_name(address or {})
    return name or str(email or "")


def to_customer(
    order: Mapping[str, Any],
    template: Mapping[str, Any],
    states: Any,
    *,
    customer_id: str,
    membership: str | None = None,
) -> dict[str, Any]:
    """The ``Customer`` to create for an order's buyer (from the billing address); its class is
    the one ``membership_to_customer_class`` gives the buyer's X-Cart membership (by name), else
    ``customer_class``."""
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
        "CustomerClass": customer_class_for(template, membership),
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
    if address and owners.get("name") == "xcart":
        first = str(address.get("firstname") or "").strip()
        last = str(address.get("lastname") or "").strip()
        name = addresses.full_name(address)
        if name and name != customer.get("CustomerName"):
            update["CustomerName"] = name
        if first and first != contact.get("FirstName"):
            main["FirstName"] = first
        if last and last != contact.get("LastName"):
            main["LastName"] = last
    if address and owners.get("contact") == "xcart":
        phone = addresses.normalise_phone(address.get("phone"))
        if phone and phone != addresses.normalise_phone(contact.get("Phone1")):
            main["Phone1"] = phone
    if address and owners.get("address") == "xcart":
        wanted = addresses.to_acumatica_address(address, states)
        current = contact.get("Address") or {}
        if any((current.get(k) or "") != (v or "") for k, v in wanted.items()):
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


#: X-Cart address fields per field group (X-Cart keeps a shopper's name on their addresses).
ADDRESS_FIELDS_OF_GROUP = {
    "name": ("firstname", "lastname"),
    "contact": ("phone",),
    "address": ("street", "city", "zipcode", "country_code", "state", "state_name"),
}


def contact_name(customer: Mapping[str, Any]) -> tuple[str, str]:
    """First and last name of a customer: its main contact's, else its ``CustomerName`` split
    at the last space (a one-word name is the last name, as X-Cart needs one)."""
    contact = customer.get("MainContact") or {}
    first = str(contact.get("FirstName") or "").strip()
    last = str(contact.get("LastName") or "").strip()
    if first or last:
        return first, last
    name = str(customer.get("CustomerName") or "").strip()
    head, _, tail = name.rpartition(" ")
    return head.strip(), tail.strip()


def to_xcart_address(
    customer: Mapping[str, Any],
    states: Any,
    groups: tuple[str, ...] = ("name", "contact", "address"),
) -> dict[str, Any]:
    """The X-Cart address fields of ``groups`` from the customer's main contact and address.

    The state code becomes the store's state id when it has one, else ``state_name``.
    """
    contact = customer.get("MainContact") or {}
    where = contact.get("Address") or {}
    fields: dict[str, Any] = {}
    if "name" in groups:
        fields["firstname"], fields["lastname"] = contact_name(customer)
    if "contact" in groups:
        fields["phone"] = str(contact.get("Phone1") or "").strip()
    if "address" in groups:
        country = str(where.get("Country") or "").strip().upper()
        state = str(where.get("State") or "").strip()
        state_id = states.state_id(country, state) if country and state else None
        fields.update(
            street=str(where.get("AddressLine1") or "").strip(),
            city=str(where.get("City") or "").strip(),
            zipcode=str(where.get("PostalCode") or "").strip(),
            country_code=country,
            state=state_id,
            state_name="" if state_id is not None else state,
        )
    return fields


def acumatica_groups(template: Mapping[str, Any]) -> tuple[str, ...]:
    """The field groups Acumatica owns."""
    owners = template.get("system_of_record") or {}
    return tuple(g for g in FIELD_GROUPS if owners.get(g) == "acumatica")


def xcart_address_changes(
    address: Mapping[str, Any],
    customer: Mapping[str, Any],
    template: Mapping[str, Any],
    states: Any,
) -> dict[str, Any]:
    """Fields of an X-Cart address to update from Acumatica (name, contact, address groups
    Acumatica owns); empty values in Acumatica are not written over the store's."""
    groups = tuple(g for g in acumatica_groups(template) if g in ADDRESS_FIELDS_OF_GROUP)
    wanted = to_xcart_address(customer, states, groups)
    update: dict[str, Any] = {}
    if "address" in groups and not (wanted.get("street") and wanted.get("country_code")):
        for key in ADDRESS_FIELDS_OF_GROUP["address"]:
            wanted.pop(key, None)
    for key, value in wanted.items():
        if key in ("state", "state_name"):
            continue
        if key == "phone":
            if value and addresses.normalise_phone(value) != addresses.normalise_phone(
                address.get("phone")
            ):
                update[key] = value
        elif value and value != str(address.get(key) or "").strip():
            update[key] = value
    if "country_code" in wanted:
        state, name = wanted["state"], wanted["state_name"]
        now_state, now_name = address.get("state"), str(address.get("state_name") or "")
        if (state is not None and state != now_state) or (state is None and name != now_name):
            update.update(state=state, state_name=name)
    return update


def _group_of(side: str, field: str) -> str:
    """The field group of a compared field (``acumatica:MainContact.Phone1``-style names)."""
    if side == "acumatica":
        if field == "Email":
            return "identity"
        if field == "Status":
            return "status"
        if field in ("CustomerName", "MainContact.FirstName", "MainContact.LastName"):
            return "name"
        return "contact" if field == "MainContact.Phone1" else "address"
    if field == "login":
        return "identity"
    if field == "status":
        return "status"
    key = field.removeprefix("address.")
    return next((g for g, keys in ADDRESS_FIELDS_OF_GROUP.items() if key in keys), "address")


def differences(
    profile: Mapping[str, Any],
    address: Mapping[str, Any] | None,
    customer: Mapping[str, Any],
    template: Mapping[str, Any],
    states: Any,
) -> list[tuple[str, str, Any, Any]]:
    """What a sync of this pair would write, field by field: ``(group, field, now, proposed)``
    where ``field`` is ``acumatica:<path>`` (written to the customer, X-Cart owns the group) or
    ``xcart:<field>`` / ``xcart:address.<field>`` (written to the store, Acumatica owns it)."""
    found: list[tuple[str, str, Any, Any]] = []
    contact = customer.get("MainContact") or {}
    update = profile_changes(profile, address, customer, template, states)
    for key, value in update.items():
        if key == "MainContact":
            for sub, proposed in value.items():
                if sub == "Address":
                    now_address = contact.get("Address") or {}
                    for part, wanted in proposed.items():
                        if (now_address.get(part) or "") != (wanted or ""):
                            field = f"MainContact.Address.{part}"
                            found.append(
                                ("address", f"acumatica:{field}", now_address.get(part), wanted)
                            )
                else:
                    field = f"MainContact.{sub}"
                    group = _group_of("acumatica", field)
                    found.append((group, f"acumatica:{field}", contact.get(sub), proposed))
        elif key != "CustomerID":
            group = _group_of("acumatica", key)
            found.append((group, f"acumatica:{key}", customer.get(key), value))
    for key, value in xcart_profile_changes(profile, customer, template).items():
        found.append((_group_of("xcart", key), f"xcart:{key}", profile.get(key), value))
    if address is not None:
        for key, value in xcart_address_changes(address, customer, template, states).items():
            group = _group_of("xcart", f"address.{key}")
            found.append((group, f"xcart:address.{key}", address.get(key), value))
    return found


def validate_template(template: dict[str, Any]) -> list[str]:
    """Problems of ``customers.yaml``, settings that would do nothing among them."""
    problems = require_keys(template, "system_of_record", FIELD_GROUPS)
    owners = template.get("system_of_record") or {}
    for group, side in owners.items() if isinstance(owners, Mapping) else ():
        if group not in FIELD_GROUPS:
            problems.append(
                f"system_of_record.{group}: unknown field group (known: {', '.join(FIELD_GROUPS)})"
            )
        elif side not in SIDES:
            problems.append(f"system_of_record.{group}: must be one of {', '.join(SIDES)}")
    if (
        isinstance(owners, Mapping)
        and owners
        and all(owners.get(g) == "none" for g in FIELD_GROUPS)
    ):
        problems.append("system_of_record: every group is none: no field would ever sync")
    create = template.get("create_store_profiles", False)
    if not isinstance(create, bool):
        problems.append("create_store_profiles: must be true or false")
    classes = template.get("membership_to_customer_class")
    if classes is not None:
        if not isinstance(classes, Mapping):
            problems.append(
                "membership_to_customer_class: must map X-Cart membership names to CustomerClass"
            )
        else:
            for membership, class_id in classes.items():
                if not str(membership or "").strip():
                    problems.append("membership_to_customer_class: empty membership name")
                elif not isinstance(class_id, str) or not class_id.strip():
                    problems.append(
                        f"membership_to_customer_class.{membership}: must be a CustomerClass ID"
                    )
                elif len(class_id) > CUSTOMER_CLASS_LIMIT:
                    problems.append(
                        f"membership_to_customer_class.{membership}: {class_id!r} is longer than"
                        f" a CustomerClass ID ({CUSTOMER_CLASS_LIMIT} characters)"
                    )
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
