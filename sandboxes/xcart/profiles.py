"""Customer profiles and their addresses, with X-Cart's validation and uniqueness rules.

Order snapshot profiles (copied at checkout) live in the same table with ``snapshot = 1`` and are
hidden from ``/api/profiles``.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from sandboxes.xcart.context import Sandbox
from sandboxes.xcart.http import ApiError, bad_request
from sandboxes.xcart.reference import (
    COUNTRIES_WITH_STATES,
    MEMBERSHIPS,
    ROLES,
    STATE_BY_CODE,
    STATES,
)
from sandboxes.xcart.serializers import ADDRESS_KEYS, address_json, profile_json
from sandboxes.xcart.validation import Violations, check_types

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
PROFILE_TYPES = {
    "login": "string",
    "password": "string",
    "access_level": "int",
    "status": "string",
    "status_comment": "string",
    "referer": "string",
    "language": "string",
    "membership_id": "int",
    "pending_membership_id": "int",
    "force_change_password": "bool",
    "role_ids": "array",
}
PROFILE_NULLABLE = frozenset({"membership_id", "pending_membership_id", "password"})
ADDRESS_TYPES = {
    "is_billing": "bool",
    "is_shipping": "bool",
    "is_work": "bool",
    "type": "string",
    "title": "string",
    "firstname": "string",
    "lastname": "string",
    "phone": "string",
    "street": "string",
    "zipcode": "string",
    "city": "string",
    "country_code": "string",
    "state": "int",
    "state_name": "string",
    "custom_fields": "array",
}
REQUIRED_ADDRESS_FIELDS = ("firstname", "lastname", "street", "city", "zipcode", "country_code")
ADDRESS_DEFAULTS: dict[str, Any] = {
    "is_billing": False,
    "is_shipping": False,
    "is_work": False,
    "type": "R",
    "title": "",
    "firstname": "",
    "lastname": "",
    "phone": "",
    "street": "",
    "zipcode": "",
    "city": "",
    "country_code": "",
    "state": None,
    "state_name": "",
    "custom_fields": [],
}


def hash_password(password: str) -> str:
    return hashlib.sha256(password.encode()).hexdigest()


def get_profile(sb: Sandbox, profile_id: int) -> dict[str, Any]:
    row = sb.store.get_doc("profiles", profile_id)
    if row is None or row["snapshot"]:
        raise ApiError(404, "Not Found")
    return row


def find_by_login(sb: Sandbox, login: str) -> dict[str, Any] | None:
    rows = sb.store.query(
        "SELECT * FROM profiles WHERE snapshot = 0 AND login = ? COLLATE NOCASE ORDER BY id",
        (login,),
    )
    return rows[0] if rows else None


def _apply_profile(
    sb: Sandbox, row: dict[str, Any], body: dict[str, Any], *, creating: bool
) -> None:
    check_types(body, PROFILE_TYPES, PROFILE_NULLABLE)
    violations = Violations()
    login = body.get("login", row.get("login"))
    if creating or "login" in body:
        if not login or not _EMAIL.match(login):
            violations.add("login", "This value is not a valid email address.")
        elif not 5 <= len(login) <= 128:
            violations.add("login", "This value should have 5 to 128 characters.")
    password = body.get("password")
    if password is not None and not 8 <= len(password) <= 128:
        violations.add("password", "This value should have 8 to 128 characters.")
    if body.get("access_level", 0) not in (0, 100):
        violations.add("access_level", "The value you selected is not a valid choice.")
    if body.get("status", "E") not in ("E", "D"):
        violations.add("status", "The value you selected is not a valid choice.")
    if len(body.get("language", "")) > 2:
        violations.add("language", "This value is too long. It should have 2 characters or less.")
    violations.raise_if_any()
    for key in ("membership_id", "pending_membership_id"):
        value = body.get(key)
        if value is not None and value not in MEMBERSHIPS:
            raise bad_request(f"Membership with ID {value} not found")
    for role in body.get("role_ids", []):
        if role not in ROLES:
            raise bad_request(f"Role with ID {role} not found")
    if login and (creating or "login" in body):
        other = find_by_login(sb, login)
        if other is not None and other["id"] != row.get("id"):
            raise bad_request('Field "login" must be unique')
    for key in PROFILE_TYPES:
        if key in body and key != "password":
            row[key] = body[key]
    if password:
        row["password_hash"] = hash_password(password)


def create_profile(sb: Sandbox, body: dict[str, Any]) -> dict[str, Any]:
    row: dict[str, Any] = {
        "access_level": 0,
        "status": "E",
        "language": "en",
        "role_ids": [],
        "added": sb.now(),
        "first_login": 0,
    }
    with sb.store.tx():
        _apply_profile(sb, row, body, creating=True)
        row["id"] = sb.store.insert(
            "profiles", row, login=row["login"], added=row["added"], first_login=0, snapshot=0
        )
    rendered = profile_json(row)
    sb.emit("profile.created", rendered)
    return rendered


def update_profile(sb: Sandbox, profile_id: int, body: dict[str, Any]) -> dict[str, Any]:
    with sb.store.tx():
        row = get_profile(sb, profile_id)
        _apply_profile(sb, row, body, creating=False)
        sb.store.put_doc("profiles", profile_id, row, login=row["login"])
    return profile_json(row)


def delete_profile(sb: Sandbox, profile_id: int) -> None:
    with sb.store.tx():
        row = get_profile(sb, profile_id)
        if row.get("access_level") == 100:
            admins = [
                p
                for p in sb.store.query("SELECT * FROM profiles WHERE snapshot = 0")
                if p.get("access_level") == 100
            ]
            if len(admins) <= 1:
                raise bad_request("Cannot remove the last admin profile")
        sb.store.delete("profiles", profile_id)
        sb.store.execute("DELETE FROM addresses WHERE profile_id = ?", (profile_id,))


# --- addresses ---------------------------------------------------------------------------


def resolve_state_code(body: dict[str, Any], field: str = "state_code") -> dict[str, Any]:
    """Turn ``state_code`` (as the shopper simulator accepts) into the numeric ``state``."""
    if "state_code" not in body:
        return body
    body = dict(body)
    code = body.pop("state_code")
    country = str(body.get("country_code") or "").upper()
    state = STATE_BY_CODE.get((country, str(code or "").upper()))
    if state is None:
        raise bad_request(f'{field}: state "{code}" not found in country "{country}"')
    body["state"] = state.id
    return body


def validate_address(address: dict[str, Any]) -> None:
    for key in REQUIRED_ADDRESS_FIELDS:
        if not str(address.get(key) or "").strip():
            raise bad_request(f'Field "{key}" is required')
    country = str(address["country_code"])
    if not re.fullmatch(r"[A-Z]{2}", country):
        raise bad_request(f"Country with code {country} not found")
    state_id = address.get("state")
    if country in COUNTRIES_WITH_STATES:
        if state_id is None:
            raise bad_request('Field "state" is required')
        state = STATES.get(state_id)
        if state is None or state.country_code != country:
            raise bad_request(f"State with ID {state_id} not found")
    elif state_id is not None and state_id not in STATES:
        raise bad_request(f"State with ID {state_id} not found")


def build_address(base: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
    """Merge ``body`` into ``base`` (a partial update keeps other fields) and validate."""
    check_types(body, ADDRESS_TYPES, frozenset({"state"}))
    merged = {**ADDRESS_DEFAULTS, **{k: v for k, v in base.items() if k in ADDRESS_KEYS}}
    merged.update({k: v for k, v in body.items() if k in ADDRESS_TYPES})
    if isinstance(merged.get("country_code"), str):
        merged["country_code"] = merged["country_code"].upper()
    validate_address(merged)
    return merged


def _clear_default_flags(
    sb: Sandbox, profile_id: int, keep_id: int, address: dict[str, Any]
) -> None:
    for flag in ("is_billing", "is_shipping"):
        if not address.get(flag):
            continue
        for other in sb.store.query("SELECT * FROM addresses WHERE profile_id = ?", (profile_id,)):
            if other["id"] != keep_id and other.get(flag):
                other[flag] = False
                sb.store.put_doc("addresses", other["id"], other)


def list_addresses(sb: Sandbox, profile_id: int) -> list[dict[str, Any]]:
    get_profile(sb, profile_id)
    rows = sb.store.query("SELECT * FROM addresses WHERE profile_id = ? ORDER BY id", (profile_id,))
    return [address_json(r) for r in rows]


def get_address(sb: Sandbox, profile_id: int, address_id: int) -> dict[str, Any]:
    get_profile(sb, profile_id)
    row = sb.store.get_doc("addresses", address_id)
    if row is None or row["profile_id"] != profile_id:
        raise ApiError(404, "Not Found")
    return row


def add_address(
    sb: Sandbox, profile_id: int, body: dict[str, Any], *, snapshot: bool = False
) -> dict[str, Any]:
    with sb.store.tx():
        if not snapshot:
            get_profile(sb, profile_id)
        address = build_address({}, body)
        address["id"] = sb.store.insert("addresses", address, profile_id=profile_id)
        _clear_default_flags(sb, profile_id, address["id"], address)
    return address_json(address)


def update_address(
    sb: Sandbox, profile_id: int, address_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    with sb.store.tx():
        row = get_address(sb, profile_id, address_id)
        address = build_address(row, body)
        address["id"] = address_id
        sb.store.put_doc("addresses", address_id, address)
        _clear_default_flags(sb, profile_id, address_id, address)
    return address_json(address)


def delete_address(sb: Sandbox, profile_id: int, address_id: int) -> None:
    with sb.store.tx():
        get_address(sb, profile_id, address_id)
        sb.store.delete("addresses", address_id)
