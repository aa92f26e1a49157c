"""X-Cart state id <-> ISO 3166-2 code, per store.

X-Cart 5.5 addresses carry a numeric ``state`` id and the API has no states endpoint, while
Acumatica wants codes. State ids are store-specific: the built-in table (US and Canada) matches
the bundled sandbox store; a real store configures its own ids with
``XCartConfig.state_table_overrides`` (``{id: "US-CA"}``), which take precedence.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping

US_STATES: tuple[tuple[str, str], ...] = (
    ("AL", "Alabama"), ("AK", "Alaska"), ("AZ", "Arizona"), ("AR", "Arkansas"),
    ("CA", "California"), ("CO", "Colorado"), ("CT", "Connecticut"), ("DE", "Delaware"),
    ("DC", "District of Columbia"), ("FL", "Florida"), ("GA", "Georgia"), ("HI", "Hawaii"),
    ("ID", "Idaho"), ("IL", "Illinois"), ("IN", "Indiana"), ("IA", "Iowa"), ("KS", "Kansas"),
    ("KY", "Kentucky"), ("LA", "Louisiana"), ("ME", "Maine"), ("MD", "Maryland"),
    ("MA", "Massachusetts"), ("MI", "Michigan"), ("MN", "Minnesota"), ("MS", "Mississippi"),
    ("MO", "Missouri"), ("MT", "Montana"), ("NE", "Nebraska"), ("NV", "Nevada"),
    ("NH", "New Hampshire"), ("NJ", "New Jersey"), ("NM", "New Mexico"), ("NY", "New York"),
    ("NC", "North Carolina"), ("ND", "North Dakota"), ("OH", "Ohio"), ("OK", "Oklahoma"),
    ("OR", "Oregon"), ("PA", "Pennsylvania"), ("RI", "Rhode Island"),
    ("SC", "South Carolina"), ("SD", "South Dakota"), ("TN", "Tennessee"), ("TX", "Texas"),
    ("UT", "Utah"), ("VT", "Vermont"), ("VA", "Virginia"), ("WA", "Washington"),
    ("WV", "West Virginia"), ("WI", "Wisconsin"), ("WY", "Wyoming"),
)  # fmt: skip
CA_PROVINCES: tuple[tuple[str, str], ...] = (
    ("AB", "Alberta"), ("BC", "British Columbia"), ("MB", "Manitoba"), ("NB", "New Brunswick"),
    ("NL", "Newfoundland and Labrador"), ("NT", "Northwest Territories"), ("NS", "Nova Scotia"),
    ("NU", "Nunavut"), ("ON", "Ontario"), ("PE", "Prince Edward Island"), ("QC", "Quebec"),
    ("SK", "Saskatchewan"), ("YT", "Yukon"),
)  # fmt: skip

NAMES: dict[str, str] = {
    **{f"US-{code}": name for code, name in US_STATES},
    **{f"CA-{code}": name for code, name in CA_PROVINCES},
}
BUILT_IN_IDS: dict[int, str] = {
    **{7 + index: f"US-{code}" for index, (code, _) in enumerate(US_STATES)},
    **{101 + index: f"CA-{code}" for index, (code, _) in enumerate(CA_PROVINCES)},
}


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return " ".join(
        "".join(c for c in decomposed if not unicodedata.combining(c)).split()
    ).casefold()


class StateTable:
    """Lookups both ways for one store; codes are ISO 3166-2 (``"US-CA"``)."""

    def __init__(self, overrides: Mapping[int, str] | None = None) -> None:
        self._by_id: dict[int, str] = dict(BUILT_IN_IDS)
        for state_id, iso in (overrides or {}).items():
            self._by_id[int(state_id)] = _normalise_iso(iso)
        self._by_iso: dict[str, int] = {}
        for state_id, iso in sorted(self._by_id.items()):
            self._by_iso.setdefault(iso, state_id)
        if overrides:
            for state_id, iso in overrides.items():
                self._by_iso[_normalise_iso(iso)] = int(state_id)
        self._by_name = {(iso[:2], _fold(name)): iso for iso, name in NAMES.items()}

    def iso(self, state_id: int | None) -> str | None:
        """``"US-CA"`` for a state id, ``None`` when unknown."""
        return None if state_id is None else self._by_id.get(int(state_id))

    def code(self, state_id: int | None) -> tuple[str, str] | None:
        """``("US", "CA")`` for a state id, ``None`` when unknown."""
        iso = self.iso(state_id)
        return None if iso is None else (iso[:2], iso[3:])

    def resolve(self, country: str, state: str) -> str | None:
        """ISO code from a code (``"CA"``), ISO code or full name (``"Québec"``)."""
        country = country.strip().upper()
        text = state.strip()
        if not text:
            return None
        candidate = text.upper() if "-" in text else f"{country}-{text.upper()}"
        if candidate in self._by_iso or candidate in NAMES:
            return candidate
        return self._by_name.get((country, _fold(text)))

    def state_id(self, country: str, state: str) -> int | None:
        """The store's id for a state given as code, ISO code or name; ``None`` when unknown."""
        iso = self.resolve(country, state)
        return None if iso is None else self._by_iso.get(iso)


def _normalise_iso(value: str) -> str:
    text = value.strip().upper()
    if len(text) < 4 or text[2] != "-":
        raise ValueError(f"state codes must look like 'US-CA', got {value!r}")
    return text
