"""The codes a store value may map to: Acumatica's reference lists through the contract-based
API (read-only), and the states of the engine's state table.

* payment methods (``PaymentMethod`` with its allowed cash accounts, CA204000): the active ones
  used in AR, each with its default AR cash account;
* ship vias (``ShipVia``, CS207500);
* taxes (``Tax``, TX205000) for tax regions, each with its region's name as an alias so that
  ``CA-QC`` meets a tax described as "Quebec QST"; tax zones (``TaxZone``, TX206000) and
  customer classes (``CustomerClass``, AR201000) for customer groups;
* attribute definitions (``AttributeDefinition``, CS205000) for product attributes;
* states: ISO 3166-2 codes of the countries with states, with their names.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sync_workers.connectors.xcart.states import NAMES
from sync_workers.errors import SyncError
from sync_workers.mapping.assistant.ranking import Candidate

COUNTRY_NAMES = {"US": "United States", "CA": "Canada"}


class Lists(Protocol):
    """What is needed of the Acumatica client (:class:`AcumaticaClient` has it)."""

    def get_list(
        self,
        entity: str,
        *,
        select: Sequence[str] | None = ...,
        expand: Sequence[str] | None = ...,
    ) -> list[dict[str, Any]]: ...


def _inactive(kind: str) -> Callable[[Mapping[str, Any]], str | None]:
    """Why a record of a kind cannot be used, as preflight's reference check decides it
    (imported when called: the preflight package imports this one)."""

    def why(row: Mapping[str, Any]) -> str | None:
        from sync_workers.preflight import reference as kinds

        return getattr(kinds, kind).inactive(row)

    return why


def payment_methods(client: Lists) -> list[Candidate]:
    rows = client.get_list("PaymentMethod", expand=["AllowedCashAccounts"])
    found = []
    for row in rows:
        code = str(row.get("PaymentMethodID") or "").strip()
        if not code or _inactive("PAYMENT_METHODS")(row):
            continue
        accounts = [
            a
            for a in row.get("AllowedCashAccounts") or []
            if a.get("CashAccount") and a.get("UseInAR") is not False
        ]
        default = next((a for a in accounts if a.get("ARDefault")), accounts[0] if accounts else {})
        found.append(
            Candidate(
                code,
                str(row.get("Description") or ""),
                extra={
                    "cash_account": default.get("CashAccount"),
                    "cash_accounts": [str(a["CashAccount"]) for a in accounts],
                },
            )
        )
    return found


def _plain(entity: str, key: str, inactive: Callable[[Mapping[str, Any]], str | None]) -> Any:
    def read(client: Lists) -> list[Candidate]:
        rows = client.get_list(entity)
        return [
            Candidate(str(row[key]).strip(), str(row.get("Description") or ""))
            for row in rows
            if str(row.get(key) or "").strip() and not inactive(row)
        ]

    return read


ship_vias = _plain("ShipVia", "CarrierID", _inactive("SHIP_VIAS"))
tax_zones = _plain("TaxZone", "TaxZoneID", _inactive("TAX_ZONES"))
customer_classes = _plain("CustomerClass", "ClassID", _inactive("CUSTOMER_CLASSES"))
_taxes = _plain("Tax", "TaxID", _inactive("TAXES"))
attributes = _plain("AttributeDefinition", "AttributeID", lambda row: None)


def taxes(client: Lists) -> list[Candidate]:
    return _taxes(client)


def region_words(region: str) -> str:
    """``CA-QC`` with its names: ``CA-QC Quebec Canada``, for comparing with descriptions."""
    country = region[:2].upper()
    parts = [region, NAMES.get(region.upper(), ""), COUNTRY_NAMES.get(country, "")]
    return " ".join(p for p in parts if p)


def states(country: str | None = None) -> list[Candidate]:
    """The states of ``country`` (every country with states when ``None``)."""
    return [
        Candidate(iso, name, aliases=(iso[3:],))
        for iso, name in sorted(NAMES.items())
        if country is None or iso[:2] == country.upper()
    ]


#: The reference lists read through the API, by :attr:`Field.reference`.
READERS: dict[str, Callable[[Lists], list[Candidate]]] = {
    "payment_methods": payment_methods,
    "ship_vias": ship_vias,
    "taxes": taxes,
    "tax_zones": tax_zones,
    "customer_classes": customer_classes,
    "attributes": attributes,
}


class Reference:
    """The lists one run needs, each read once (``None``: states, no API call)."""

    def __init__(self, client: Lists | None) -> None:
        self.client = client
        self._read: dict[str, list[Candidate]] = {}

    def candidates(self, name: str, *, country: str | None = None) -> list[Candidate]:
        if name == "states":
            return states(country)
        if name not in self._read:
            if self.client is None:
                raise LookupError("Acumatica is not configured: its codes cannot be read")
            self._read[name] = READERS[name](self.client)
        return self._read[name]

    def find(self, name: str, code: str) -> Candidate | None:
        wanted = code.strip().upper()
        return next((c for c in self.candidates(name) if c.code.upper() == wanted), None)


class KeptReference(Reference):
    """Acumatica's lists, kept in this process for :data:`REFERENCE_SECONDS` (a failure to
    read one for :data:`FAILURE_SECONDS`), for readers that run often (the console's pages, a
    dead letter's alert) and must ask the ERP little."""

    def candidates(self, name: str, *, country: str | None = None) -> list[Candidate]:
        if name == "states":
            return super().candidates(name, country=country)
        now = time.monotonic()
        kept = _KEPT.get(name)
        if kept is not None and kept[0] > now:
            if isinstance(kept[1], Exception):
                raise kept[1]
            return kept[1]
        try:
            found = super().candidates(name)
        except (LookupError, SyncError) as exc:
            _KEPT[name] = (now + FAILURE_SECONDS, exc)
            raise
        _KEPT[name] = (now + REFERENCE_SECONDS, found)
        return found


REFERENCE_SECONDS = 300.0
FAILURE_SECONDS = 30.0
_KEPT: dict[str, tuple[float, list[Candidate] | Exception]] = {}


def forget_lists() -> None:
    """Read Acumatica's lists again on the next use (after its set-up changed)."""
    _KEPT.clear()
