"""X-Cart address -> Acumatica ``Address`` and ``DocContact``, normalised.

X-Cart 5.5 gives a numeric state id (or a free-text ``state_name`` for countries without a
state list); Acumatica wants the two-letter code. A typed name is resolved from the built-in
US/Canada names, else from the orders template's ``addresses.state_names`` (name -> ISO 3166-2
code, compared without case, accents and surrounding blanks, used only for addresses in that
code's country). Names are kept exactly (apostrophes, quotes, non-ASCII letters); phones are
reduced to digits with an optional leading ``+``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from sync_workers.connectors.xcart.states import StateTable

REQUIRED = ("firstname", "lastname", "street", "city", "zipcode", "country_code")
_PHONE_KEEP = re.compile(r"[^\d+]")


_ISO = re.compile(r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


def fold_name(text: str) -> str:
    """A state name as names are compared: no accents, case or extra blanks."""
    decomposed = unicodedata.normalize("NFKD", str(text))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.split()).casefold()


def is_state_code(value: Any) -> bool:
    """Whether ``value`` is an ISO 3166-2 code like ``US-CA`` (country, dash, 1 to 3 letters)."""
    return isinstance(value, str) and bool(_ISO.match(value))


class StoreStates(StateTable):
    """The built-in state table with the template's ids and names for this store."""

    def __init__(
        self, overrides: Mapping[int, str] | None = None, names: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(overrides)
        self._typed = {fold_name(k): str(v).strip().upper() for k, v in (names or {}).items()}

    def resolve(self, country: str, state: str) -> str | None:
        found = super().resolve(country, state)
        if found is not None:
            return found
        iso = self._typed.get(fold_name(state))
        return iso if iso is not None and iso[:2] == country.strip().upper() else None


def state_table(template: Mapping[str, Any]) -> StateTable:
    section = template.get("addresses") or {}
    overrides = section.get("state_ids") or {}
    names = section.get("state_names") or {}
    return StoreStates({int(k): str(v) for k, v in overrides.items()}, names)


def state_names_problems(names: Any) -> list[str]:
    """What is wrong with an ``addresses.state_names`` section (empty when it is right)."""
    if names is None:
        return []
    if not isinstance(names, Mapping):
        return ["addresses.state_names: must map a state name to a code like 'US-CA'"]
    problems = []
    seen: dict[str, str] = {}
    for name, iso in names.items():
        key = fold_name(str(name))
        if not key:
            problems.append("addresses.state_names: a state name is empty")
        elif not is_state_code(iso):
            problems.append(f"addresses.state_names.{name}: must map to a code like 'US-CA'")
        elif key in seen:
            problems.append(f"addresses.state_names.{name}: the same name as {seen[key]!r}")
        seen.setdefault(key, str(name))
    return problems


def normalise_phone(phone: Any) -> str:
    text = _PHONE_KEEP.sub("", str(phone or "").strip())
    return text[0] + text[1:].replace("+", "") if text else ""


def state_code(address: Mapping[str, Any], states: StateTable) -> str | None:
    """Two-letter state code from the state id, else from ``state_name`` (code or name)."""
    country = str(address.get("country_code") or "").strip().upper()
    state_id = address.get("state")
    if state_id not in (None, "", 0):
        try:
            found = states.code(int(state_id))
        except (TypeError, ValueError):
            found = None
        if found is not None and found[0] == country:
            return found[1]
        if found is None:
            return None
    name = str(address.get("state_name") or address.get("state_code") or "").strip()
    if not name:
        return None
    iso = states.resolve(country, name)
    if iso is not None:
        return iso[3:]
    return name.upper() if len(name) <= 3 else None


def address_problems(
    address: Mapping[str, Any] | None,
    states: StateTable,
    countries_with_states: tuple[str, ...] | list[str] = ("US", "CA"),
) -> dict[str, str]:
    """Field -> reason for an incomplete address (empty when it is complete)."""
    if not address:
        return {"": "missing"}
    problems = {name: "missing" for name in REQUIRED if not str(address.get(name) or "").strip()}
    country = str(address.get("country_code") or "").strip().upper()
    if country and len(country) != 2:
        problems["country_code"] = f"not a 2-letter country code: {country!r}"
    if country in countries_with_states and state_code(address, states) is None:
        state = address.get("state") or address.get("state_name")
        problems["state"] = "missing" if not state else f"unknown state {state!r} for {country}"
    return problems


def to_acumatica_address(address: Mapping[str, Any], states: StateTable) -> dict[str, Any]:
    return {
        "AddressLine1": str(address.get("street") or "").strip(),
        "City": str(address.get("city") or "").strip(),
        "State": state_code(address, states),
        "PostalCode": str(address.get("zipcode") or "").strip(),
        "Country": str(address.get("country_code") or "").strip().upper(),
    }


def full_name(address: Mapping[str, Any]) -> str:
    parts = (
        str(address.get("firstname") or "").strip(),
        str(address.get("lastname") or "").strip(),
    )
    return " ".join(p for p in parts if p)


def to_acumatica_contact(address: Mapping[str, Any], email: str | None = None) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "Attention": full_name(address),
        "Phone1": normalise_phone(address.get("phone")),
    }
    if email:
        contact["Email"] = email
    return contact


def region(address: Mapping[str, Any] | None, states: StateTable) -> str | None:
    """``US-NY`` style region of an address, for tax and risk rules."""
    if not address:
        return None
    country = str(address.get("country_code") or "").strip().upper()
    code = state_code(address, states)
    return f"{country}-{code}" if country and code else country or None
