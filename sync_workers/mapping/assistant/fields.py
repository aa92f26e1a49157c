"""The fields the assistant maps: where each lives in the templates and where its codes come from.

A field's ``kinds`` are the words the mapping functions use in their field reasons
(``unmapped shipping method 'Drone'``, ``unknown state 'Calif' for US``): that is how an open
dead letter names the field and the value that stopped it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_workers.mapping.templates import lookup


@dataclass(frozen=True)
class Field:
    name: str  #: as the CLI and the console name it (``shipping_method``)
    label: str  #: for people
    kinds: tuple[str, ...]  #: the dead letters' words for it
    flow: str  #: the template it is written to
    path: str  #: the dotted path of its mapping in that template
    reference: str  #: the list its targets come from (:mod:`.reference`)
    #: Keys of the mapping compare without case and surrounding blanks (the mapping functions
    #: look them up that way).
    folded_keys: bool = True

    def entries(self, template: Mapping[str, Any]) -> dict[str, Any]:
        """Store value -> mapped value, as the template has them now."""
        node = lookup(template, self.path)
        return {str(k): v for k, v in node.items()} if isinstance(node, Mapping) else {}

    def target_of(self, mapped: Any) -> str:
        """The Acumatica code an entry maps to (a payment method's ``payment_method``)."""
        if isinstance(mapped, Mapping):
            return str(mapped.get("payment_method") or "")
        return str(mapped or "")

    def covers(self, template: Mapping[str, Any], value: str) -> bool:
        entries = self.entries(template)
        if not self.folded_keys:
            return value in entries
        wanted = value.strip().casefold()
        return any(key.strip().casefold() == wanted for key in entries)


PAYMENT_METHOD = Field(
    "payment_method",
    "payment method",
    ("payment method",),
    "payments",
    "methods",
    "payment_methods",
)
SHIPPING_METHOD = Field(
    "shipping_method",
    "shipping method",
    ("shipping method",),
    "orders",
    "ship_via",
    "ship_vias",
)
TAX_REGION = Field(
    "tax_region",
    "tax region",
    ("tax region",),
    "orders",
    "tax.tax_id_by_region",
    "taxes",
    folded_keys=False,
)
#: A store's own state ids (``addresses.state_ids``); a state name is matched for suggestions
#: only: there is no template entry for a name, the address is corrected in the store.
STATE = Field(
    "state",
    "state",
    ("state",),
    "orders",
    "addresses.state_ids",
    "states",
    folded_keys=False,
)

FIELDS: dict[str, Field] = {f.name: f for f in (PAYMENT_METHOD, SHIPPING_METHOD, TAX_REGION, STATE)}
BY_KIND: dict[str, Field] = {kind: f for f in FIELDS.values() for kind in f.kinds}


def field_named(name: str) -> Field:
    """The field called ``name`` (``shipping_method``, ``shipping-method`` or ``shipping method``)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in FIELDS:
        raise KeyError(f"unknown field {name!r}; one of {', '.join(FIELDS)}")
    return FIELDS[key]
