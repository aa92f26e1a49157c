"""Everything open, ranked: each value no mapping covers with its best Acumatica codes."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sync_workers.dlq import DeadLetterQueue
from sync_workers.errors import SyncError
from sync_workers.mapping.assistant import reference as ref
from sync_workers.mapping.assistant.fields import CUSTOMER_GROUP, SHIPPING_METHOD, TAX_REGION, Field
from sync_workers.mapping.assistant.linked import ship_vias_set_by_hand
from sync_workers.mapping.assistant.profile import OpenValue, open_memberships, open_values
from sync_workers.mapping.assistant.ranking import Candidate, Suggestion, rank
from sync_workers.mapping.templates import load_template


@dataclass
class Item:
    """One open value and what the assistant proposes for it."""

    field: Field
    value: str
    count: int
    flows: list[str]
    entries: list[str]
    suggestions: list[Suggestion] = dataclasses.field(default_factory=list)
    #: Why there are no suggestions (Acumatica unreachable, nothing to compare with).
    problem: str | None = None
    #: Whether accepting can write a template entry for the value.
    acceptable: bool = True

    @property
    def best(self) -> Suggestion | None:
        return self.suggestions[0] if self.suggestions else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.field.name,
            "value": self.value,
            "records": self.count,
            "flows": self.flows,
            "template": f"{self.field.flow}.yaml {self.field.path}",
            "acceptable": self.acceptable,
            "suggestions": [s.as_dict() for s in self.suggestions],
            **({"problem": self.problem} if self.problem else {}),
        }


def precedents(spec: Field, template: Mapping[str, Any]) -> dict[str, str]:
    """The template's entries of a field as store value -> code (the ranking's precedents)."""
    return {key: spec.target_of(mapped) for key, mapped in spec.entries(template).items()}


def compared_text(spec: Field, value: str) -> str:
    """What the value is compared as: a tax region with its names (``CA-QC Quebec Canada``)."""
    return ref.region_words(value) if spec is TAX_REGION else value


#: The score of a tax ID that starts with the region's own code (``WASTATE`` for ``US-WA``).
REGION_CODE_SCORE = 0.8


def region_hints(region: str, candidates: list[Candidate]) -> dict[str, tuple[float, str]]:
    """Tax IDs named after the region's code, the way tenants name them (``NYSTATE``)."""
    code = region.strip().upper()[3:]
    if len(code) < 2:
        return {}
    return {
        c.code: (REGION_CODE_SCORE, f"code: {c.code} starts with {code}, the region's own code")
        for c in candidates
        if c.code.upper().startswith(code)
    }


def suggestions_for(
    spec: Field,
    value: str,
    reference: ref.Reference,
    *,
    count: int | None = None,
    country: str | None = None,
    resolved: Mapping[str, int] | None = None,
) -> list[Suggestion]:
    """The ranked codes for one value (raises ``LookupError`` or a ``SyncError`` when the
    Acumatica list cannot be read)."""
    template = load_template(spec.flow)
    candidates = reference.candidates(spec.reference, country=country)
    return rank(
        compared_text(spec, value),
        candidates,
        mapped=precedents(spec, template),
        resolved=resolved,
        count=count,
        hints=region_hints(value, candidates) if spec is TAX_REGION else None,
    )


def _item(
    value: OpenValue,
    reference: ref.Reference,
    resolved: Mapping[str, int] | None = None,
) -> Item:
    item = Item(value.field, value.value, value.count, sorted(value.flows), list(value.entries))
    try:
        item.suggestions = suggestions_for(
            value.field,
            value.value,
            reference,
            count=value.count,
            country=value.country,
            resolved=resolved,
        )
    except LookupError as exc:
        item.problem = str(exc)
    except SyncError as exc:  # an Acumatica outage: the values are still listed
        item.problem = f"Acumatica's codes could not be read: {exc}"
    return item


def open_items(
    queue: DeadLetterQueue,
    acumatica: ref.Lists | None,
    *,
    flow: str | None = None,
    xcart: Any = None,
) -> list[Item]:
    """Every open value (of ``flow``'s dead letters, or of its template's fields), ranked; with
    ``xcart``, shipping methods also weigh the sales orders a person keyed by hand
    (:mod:`.linked`), and for ``flow`` ``customers`` the store's memberships no template maps
    are open too (they stop no record: the customer gets ``customer_class``)."""
    reference = ref.Reference(acumatica)
    values = open_values(queue)
    if xcart is not None and flow == CUSTOMER_GROUP.flow:
        seen = {(v.field.name, v.value) for v in values}
        values += [v for v in open_memberships(xcart) if (v.field.name, v.value) not in seen]
    if flow is not None:
        values = [v for v in values if flow in v.flows or flow == v.field.flow]
    items = []
    for value in values:
        resolved = None
        if value.field is SHIPPING_METHOD and xcart is not None and acumatica is not None:
            resolved = ship_vias_set_by_hand(
                value.entries, queue, xcart, acumatica, load_template("orders")
            )
        items.append(_item(value, reference, resolved))
    return items
