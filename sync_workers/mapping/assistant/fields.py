"""The fields the assistant maps: where each lives in the templates and where its codes come from.

Payment method, shipping method, tax region, state (a typed name, or a store's state id),
customer group (X-Cart membership -> ``CustomerClass``) and product attribute (X-Cart attribute
name -> ``AttributeID``).

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
#: A state a shopper typed (``addresses.state_names``: name -> ``US-CA``); compared like the
#: address mapping compares it (no case, accents or surrounding blanks).
STATE = Field(
    "state",
    "state",
    ("state",),
    "orders",
    "addresses.state_names",
    "states",
)
#: A store's own numeric state id (``addresses.state_ids``: id -> ``US-CA``); a dead letter's
#: state value that is all digits is one.
STATE_ID = Field(
    "state_id",
    "state id",
    (),
    "orders",
    "addresses.state_ids",
    "states",
    folded_keys=False,
)
#: An X-Cart membership (customer group) -> Acumatica ``CustomerClass`` (customers.yaml
#: ``membership_to_customer_class``); its store values are the store's memberships.
CUSTOMER_GROUP = Field(
    "customer_group",
    "customer group",
    ("customer group", "membership"),
    "customers",
    "membership_to_customer_class",
    "customer_classes",
    folded_keys=False,  # the customers mapping looks a membership up by its exact name
)
#: An X-Cart product attribute name -> Acumatica ``AttributeID`` (products.yaml
#: ``attributes.map``).
PRODUCT_ATTRIBUTE = Field(
    "product_attribute",
    "product attribute",
    ("product attribute",),
    "products",
    "attributes.map",
    "attributes",
)

FIELDS: dict[str, Field] = {
    f.name: f
    for f in (
        PAYMENT_METHOD,
        SHIPPING_METHOD,
        TAX_REGION,
        STATE,
        STATE_ID,
        CUSTOMER_GROUP,
        PRODUCT_ATTRIBUTE,
    )
}
BY_KIND: dict[str, Field] = {kind: f for f in FIELDS.values() for kind in f.kinds}


def field_named(name: str) -> Field:
    """The field called ``name`` (``shipping_method``, ``shipping-method`` or ``shipping method``)."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in FIELDS:
        raise KeyError(f"unknown field {name!r}; one of {', '.join(FIELDS)}")
    return FIELDS[key]
