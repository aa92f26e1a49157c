"""The store values of each mapped field, with counts.

Three sources: the open dead letters (every value no mapping covers that stopped a record, with
the entries it stopped: those are what an accepted mapping replays); the store's recent orders
(every payment method, shipping method and tax region the store uses, with counts and what each
maps to: ``celery mapping profile``); and the store's memberships (``GET /api/memberships``),
the customer groups a new customer's ``CustomerClass`` is chosen by. A membership no mapping
covers stops no record (the customer gets ``customer_class``), so it is open without entries.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_workers.console.grouping import unmapped_values
from sync_workers.dlq import DeadLetter, DeadLetterQueue
from sync_workers.mapping import addresses
from sync_workers.mapping import orders as order_map
from sync_workers.mapping.assistant.fields import (
    BY_KIND,
    CUSTOMER_GROUP,
    PAYMENT_METHOD,
    SHIPPING_METHOD,
    STATE,
    STATE_ID,
    TAX_REGION,
    Field,
)
from sync_workers.mapping.templates import load_template

_STATE_COUNTRY = re.compile(r"^unknown state .* for (?P<country>[A-Z]{2})$")
#: Recent store orders read for the profile.
RECENT_ORDERS = 200


@dataclass
class OpenValue:
    """A value no mapping covers, and the open dead letters it stopped."""

    field: Field
    value: str
    entries: list[str] = dataclasses.field(default_factory=list)
    flows: set[str] = dataclasses.field(default_factory=set)
    country: str | None = None  #: a state's country, from the dead letter's reason

    @property
    def count(self) -> int:
        return len(self.entries)


def _country(entry: DeadLetter) -> str | None:
    for reason in (entry.field_errors or {}).values():
        match = _STATE_COUNTRY.match(str(reason).strip())
        if match:
            return match["country"]
    return None


def values_of(entry: DeadLetter) -> list[tuple[Field, str]]:
    """The (field, value) pairs of an entry that the assistant maps."""
    found = []
    for kind, value in unmapped_values(entry):
        spec = BY_KIND.get(kind)
        if spec is STATE and value.strip().isdigit():
            spec = STATE_ID
        if spec is not None:
            found.append((spec, value))
    return found


def open_values(
    queue: DeadLetterQueue, *, flow: str | None = None, limit: int = 10_000
) -> list[OpenValue]:
    """Every unmapped value of the open dead letters, most records first."""
    found: dict[tuple[str, str], OpenValue] = {}
    for n, entry in enumerate(queue.iter_entries(status="open", flow=flow)):
        if n >= limit:
            break
        for spec, value in values_of(entry):
            item = found.setdefault((spec.name, value), OpenValue(spec, value))
            item.entries.append(entry.id)
            item.flows.add(entry.flow)
            if spec in (STATE, STATE_ID) and item.country is None:
                item.country = _country(entry)
    return sorted(found.values(), key=lambda v: (-v.count, v.field.name, v.value))


def fixed_by(queue: DeadLetterQueue, spec: Field, value: str) -> list[DeadLetter]:
    """The open dead letters that name ``value`` of ``spec`` as unmapped."""
    wanted = value.strip().casefold() if spec.folded_keys else value
    found = []
    for entry in queue.iter_entries(status="open"):
        for other, seen in values_of(entry):
            shown = seen.strip().casefold() if spec.folded_keys else seen
            if other is spec and shown == wanted:
                found.append(entry)
                break
    return found


@dataclass
class StoreValue:
    """A value the store uses, how many of the orders read carry it, and its mapping."""

    value: str
    count: int
    target: str | None  #: the code the template maps it to (``None``: unmapped)

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "count": self.count, "mapped_to": self.target}


def _mapped_to(spec: Field, template: Mapping[str, Any], value: str) -> str | None:
    wanted = value.strip().casefold() if spec.folded_keys else value
    for key, mapped in spec.entries(template).items():
        if (key.strip().casefold() if spec.folded_keys else key) == wanted:
            return spec.target_of(mapped)
    return None


def store_values(xcart: Any, count: int = RECENT_ORDERS) -> dict[str, list[StoreValue]]:
    """The payment methods, shipping methods and tax regions of the store's last ``count``
    orders, with counts and what each maps to, most used first; and the store's memberships
    with what each maps to (count 0: orders are not counted by membership)."""
    orders_tmpl = load_template("orders")
    states = addresses.state_table(orders_tmpl)
    seen: dict[Field, Counter[str]] = {
        PAYMENT_METHOD: Counter(),
        SHIPPING_METHOD: Counter(),
        TAX_REGION: Counter(),
    }
    for order in recent_orders(xcart, count):
        name = order.get("shipping_method_name")
        if name:
            seen[SHIPPING_METHOD][str(name)] += 1
        region = addresses.region(order.get("shipping_address"), states)
        if region and "-" in region and order_map.surcharge_total(order.get("surcharges"), "tax"):
            seen[TAX_REGION][region] += 1
        methods = {
            str(t.get("local_name") or t.get("name"))
            for t in xcart.payment_transactions(int(order["id"]))
            if t.get("local_name") or t.get("name")
        }
        for method in methods:
            seen[PAYMENT_METHOD][method] += 1
    found = {}
    for spec, counts in seen.items():
        template = load_template(spec.flow)
        found[spec.name] = [
            StoreValue(value, n, _mapped_to(spec, template, value))
            for value, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ]
    customers_tmpl = load_template(CUSTOMER_GROUP.flow)
    found[CUSTOMER_GROUP.name] = [
        StoreValue(name, 0, _mapped_to(CUSTOMER_GROUP, customers_tmpl, name))
        for name in memberships(xcart)
    ]
    return found


def recent_orders(xcart: Any, count: int = RECENT_ORDERS) -> list[dict[str, Any]]:
    """The store's last ``count`` orders, newest first."""
    found: list[dict[str, Any]] = []
    page = 1
    while len(found) < count:
        size = min(100, count - len(found))
        rows = xcart.get("/api/orders", {"order[date]": "desc", "page": page, "itemsPerPage": size})
        found.extend(rows)
        if len(rows) < size:
            break
        page += 1
    return found[:count]


def memberships(xcart: Any) -> list[str]:
    """The names of the store's memberships (customer groups), as X-Cart lists them."""
    names = []
    for row in xcart.iter_collection("/api/memberships"):
        name = str(row.get("name") or "").strip()
        if name and name not in names:
            names.append(name)
    return names


def open_memberships(xcart: Any) -> list[OpenValue]:
    """The store's memberships that ``membership_to_customer_class`` does not map."""
    template = load_template(CUSTOMER_GROUP.flow)
    return [
        OpenValue(CUSTOMER_GROUP, name, flows={CUSTOMER_GROUP.flow})
        for name in memberships(xcart)
        if not CUSTOMER_GROUP.covers(template, name)
    ]
