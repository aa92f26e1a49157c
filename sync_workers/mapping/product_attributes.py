"""Product attributes: X-Cart attribute values -> a stock item's ``Attributes`` and custom fields.

The store owns attributes. The products template's ``attributes`` section maps each X-Cart
attribute name (compared without case and surrounding blanks) to an Acumatica ``AttributeID``
(``map``) or to a StockItem custom field ``<View>.<Field>`` (``custom_fields``); ``unmapped``
says what an attribute with neither does (``dead_letter``: the record stops with the field
``product attribute`` and the attribute's name, for the mapping assistant; ``skip``: it is left
out). ``create_missing`` lets the flow create a missing attribute definition or a missing value
of a listed (Combo) attribute; without it, that record stops too, naming the attribute and the
value. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sync_workers.errors import PermanentError
from sync_workers.hashing import content_hash

UNMAPPED = ("dead_letter", "skip")
#: Acumatica control types whose values must be one of the definition's ``Values``.
LISTED = ("Combo", "Multi Select Combo")
#: The control type a new definition gets, by X-Cart attribute kind.
NEW_CONTROL = {"select": "Combo", "checkbox": "Checkbox", "text": "Text"}
VALUE_ID_LENGTH = 10
_CUSTOM = re.compile(r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")


def fold(name: Any) -> str:
    return str(name).strip().casefold()


@dataclass(frozen=True)
class AttributesConfig:
    create_missing: bool = False
    #: folded X-Cart name -> AttributeID
    map: Mapping[str, str] = field(default_factory=dict)
    #: folded X-Cart name -> (view, field)
    custom_fields: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    unmapped: str = "skip"

    @property
    def active(self) -> bool:
        """Whether a product's attributes need reading at all."""
        return bool(self.map or self.custom_fields or self.unmapped == "dead_letter")


def validate(section: Any) -> list[str]:
    if section is None:
        return []
    if not isinstance(section, Mapping):
        return ["attributes: must be a mapping (create_missing, map, custom_fields, unmapped)"]
    problems = []
    if not isinstance(section.get("create_missing", False), bool):
        problems.append("attributes.create_missing: must be true or false")
    mapped = section.get("map") or {}
    if not isinstance(mapped, Mapping) or not all(
        isinstance(v, str) and v.strip() for v in mapped.values()
    ):
        problems.append("attributes.map: must map X-Cart attribute names to AttributeIDs")
    custom = section.get("custom_fields") or {}
    if not isinstance(custom, Mapping) or not all(
        isinstance(v, str) and _CUSTOM.match(v) for v in custom.values()
    ):
        problems.append('attributes.custom_fields: must map X-Cart attribute names to "View.Field"')
    elif isinstance(mapped, Mapping) and {fold(k) for k in custom} & {fold(k) for k in mapped}:
        problems.append("attributes.custom_fields: an attribute is already in attributes.map")
    if section.get("unmapped", "dead_letter") not in UNMAPPED:
        problems.append(f"attributes.unmapped: must be one of {', '.join(UNMAPPED)}")
    return problems


def config_from(section: Mapping[str, Any] | None) -> AttributesConfig:
    """The section as configured (no section: attributes are not synced)."""
    if section is None:
        return AttributesConfig()
    custom = section.get("custom_fields") or {}
    return AttributesConfig(
        create_missing=bool(section.get("create_missing", False)),
        map={fold(k): str(v).strip().upper() for k, v in (section.get("map") or {}).items()},
        custom_fields={
            fold(k): (str(v).split(".")[0], str(v).split(".")[1]) for k, v in custom.items()
        },
        unmapped=str(section.get("unmapped", "dead_letter")),
    )


@dataclass(frozen=True)
class StoreAttribute:
    """One X-Cart attribute of a product and the product's values of it."""

    name: str
    kind: str  #: select, checkbox or text
    values: tuple[Any, ...]  #: option texts, booleans, or the one text
    value_ids: Mapping[int, Any] = field(default_factory=dict)  #: select/checkbox value id -> value


def item_values(
    attributes: Iterable[StoreAttribute], variant: Mapping[str, Any] | None = None
) -> list[StoreAttribute]:
    """The values that describe one item: for a variant, its own select and checkbox values
    (``attribute_*_values`` ids) and the product's single-valued attributes."""
    if variant is None:
        return list(attributes)
    chosen = {
        int(i)
        for key in ("attribute_select_values", "attribute_checkbox_values")
        for i in variant.get(key) or ()
    }
    out = []
    for attribute in attributes:
        own = tuple(v for i, v in attribute.value_ids.items() if i in chosen)
        if own:
            out.append(StoreAttribute(attribute.name, attribute.kind, own, attribute.value_ids))
        elif len(attribute.values) == 1:
            out.append(attribute)
    return out


@dataclass
class Definition:
    """An Acumatica attribute definition as the flow needs it."""

    attribute_id: str
    control: str
    values: dict[str, str] = field(default_factory=dict)  #: ValueID -> Description

    def find(self, value: Any) -> str | None:
        """The ValueID that a store value names (by ValueID or description, without case)."""
        wanted = fold(value)
        for value_id, description in self.values.items():
            if fold(value_id) == wanted or fold(description) == wanted:
                return value_id
        return None


def definition_from(record: Mapping[str, Any]) -> Definition:
    return Definition(
        str(record.get("AttributeID") or "").upper(),
        str(record.get("ControlType") or "Text"),
        {
            str(v.get("ValueID")): str(v.get("Description") or v.get("ValueID"))
            for v in record.get("Values") or ()
            if v.get("ValueID") and not v.get("Disabled")
        },
    )


@dataclass
class AttributePlan:
    """What to write: stock-item attribute rows, custom fields, and definitions to create or
    extend first (``definitions``: AttributeID -> the PUT body)."""

    rows: dict[str, str] = field(default_factory=dict)  #: AttributeID -> Value
    custom: dict[str, dict[str, Any]] = field(default_factory=dict)  #: view -> field -> value
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)


def _stop(name: str, value: Any, reason: str, message: str) -> PermanentError:
    return PermanentError(
        message,
        field_errors={f"attributes.{name}": reason},
        details={"attribute": name, "value": None if value is None else str(value)},
    )


def new_value_id(value: Any, taken: Iterable[str]) -> str:
    """A ValueID for a new value: its letters and digits, upper-case, at most 10 characters,
    unique among ``taken``."""
    base = re.sub(r"[^A-Z0-9]", "", str(value).upper())[:VALUE_ID_LENGTH] or "VALUE"
    used = {fold(t) for t in taken}
    candidate, n = base, 1
    while fold(candidate) in used:
        n += 1
        suffix = str(n)
        candidate = base[: VALUE_ID_LENGTH - len(suffix)] + suffix
    return candidate


def plan(
    attributes: Iterable[StoreAttribute],
    definitions: Mapping[str, Definition | None],
    cfg: AttributesConfig,
) -> AttributePlan:
    """The writes that give the item the store's attribute values.

    ``definitions`` holds the Acumatica definition of every mapped AttributeID (``None``: it does
    not exist). Raises ``PermanentError`` for an unmapped attribute (``unmapped: dead_letter``)
    and, without ``create_missing``, for a missing definition or value."""
    out = AttributePlan()
    for attribute in attributes:
        key = fold(attribute.name)
        shown = attribute.values[0] if attribute.values else None
        if key in cfg.custom_fields:
            view, name = cfg.custom_fields[key]
            out.custom.setdefault(view, {})[name] = _custom_value(attribute)
            continue
        attribute_id = cfg.map.get(key)
        if attribute_id is None:
            if cfg.unmapped == "dead_letter":
                raise _stop(
                    attribute.name,
                    shown,
                    f"unmapped product attribute {attribute.name!r}",
                    f"product attribute {attribute.name!r} (value {shown!r}) has no mapping "
                    "in the products template",
                )
            continue
        found = definitions.get(attribute_id)
        if found is None:
            if not cfg.create_missing:
                raise _stop(
                    attribute.name,
                    shown,
                    f"unknown product attribute {attribute_id!r} in Acumatica",
                    f"attribute {attribute_id!r} (for {attribute.name!r}, value {shown!r}) is "
                    "not defined in Acumatica",
                )
            found = Definition(attribute_id, NEW_CONTROL[attribute.kind])
            out.definitions[attribute_id] = {
                "AttributeID": attribute_id,
                "Description": attribute.name,
                "ControlType": found.control,
                "Values": [],
            }
        value = _value(attribute, found, cfg, out)
        if value is not None:
            out.rows[attribute_id] = value
    return out


def _custom_value(attribute: StoreAttribute) -> Any:
    if attribute.kind == "checkbox" and len(attribute.values) == 1:
        return bool(attribute.values[0])
    return ", ".join(str(v) for v in attribute.values)


def _value(
    attribute: StoreAttribute, found: Definition, cfg: AttributesConfig, out: AttributePlan
) -> str | None:
    """The item's value of ``found``; ``None`` when the store values are a choice left to the
    shopper (several values for an attribute that holds one)."""
    values = attribute.values
    if not values:
        return None
    if found.control == "Checkbox":
        return ("True" if bool(values[0]) else "False") if len(set(values)) == 1 else None
    if found.control not in LISTED:
        return ", ".join(str(v) for v in values) if len(values) == 1 else None
    if len(values) > 1 and found.control != "Multi Select Combo":
        return None
    ids = []
    for value in values:
        value_id = found.find(value)
        if value_id is None:
            if not cfg.create_missing:
                raise _stop(
                    attribute.name,
                    value,
                    f"unknown product attribute value {str(value)!r} for {found.attribute_id}",
                    f"value {str(value)!r} of product attribute {attribute.name!r} is not a "
                    f"value of {found.attribute_id} in Acumatica",
                )
            value_id = new_value_id(value, found.values)
            found.values[value_id] = str(value)
            body = out.definitions.setdefault(
                found.attribute_id, {"AttributeID": found.attribute_id, "Values": []}
            )
            body["Values"].append({"ValueID": value_id, "Description": str(value)})
        ids.append(value_id)
    return ",".join(ids)


def attribute_ids(attributes: Iterable[StoreAttribute], cfg: AttributesConfig) -> list[str]:
    """The AttributeIDs the template maps ``attributes`` to (their definitions are needed)."""
    return sorted({cfg.map[k] for k in (fold(a.name) for a in attributes) if k in cfg.map})


def values_hash(attributes: Iterable[StoreAttribute]) -> str:
    """A hash of one item's store attribute values (names without case, values in order)."""
    return content_hash(
        sorted([fold(a.name), a.kind, [str(v) for v in a.values]] for a in attributes)
    )


def row_changes(
    plan_rows: Mapping[str, str], item: Mapping[str, Any]
) -> list[tuple[str, Any, str]]:
    """``(AttributeID, the stock item's value or None, planned value)`` of the planned rows
    whose value differs from the stock item's ``Attributes``."""
    current = {
        str(r.get("AttributeID") or "").upper(): r.get("Value")
        for r in item.get("Attributes") or ()
    }
    return [
        (attribute_id, current.get(attribute_id), value)
        for attribute_id, value in plan_rows.items()
        if fold(current.get(attribute_id) or "") != fold(value)
    ]


def differing(plan_rows: Mapping[str, str], item: Mapping[str, Any]) -> dict[str, str]:
    """The planned rows whose value differs from the stock item's ``Attributes``."""
    return {attribute_id: value for attribute_id, _, value in row_changes(plan_rows, item)}


def custom_names(cfg: AttributesConfig) -> list[str]:
    """The mapped custom fields as ``$custom`` names them (``View.Field``)."""
    return sorted({f"{view}.{name}" for view, name in cfg.custom_fields.values()})


def custom_changes(
    custom: Mapping[str, Mapping[str, Any]], item: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """``("View.Field", the stock item's value, planned value)`` of the planned custom fields
    that differ from the ones read back with ``$custom`` (view -> field -> ``{type, value}``)."""
    read = {
        (fold(view), fold(name)): value.get("value") if isinstance(value, Mapping) else value
        for view, fields in (item.get("custom") or {}).items()
        if isinstance(fields, Mapping)
        for name, value in fields.items()
    }
    changes = []
    for view, fields in custom.items():
        for name, wanted in fields.items():
            now = read.get((fold(view), fold(name)))
            if isinstance(wanted, bool):
                same = isinstance(now, bool | str) and fold(now) == fold(wanted)
            else:
                same = fold(now if now is not None else "") == fold(wanted)
            if not same:
                changes.append((f"{view}.{name}", now, wanted))
    return changes


def custom_body(custom: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Custom fields as the contract API takes them (``custom.<View>.<Field>``)."""
    return {
        view: {
            name: {
                "type": "CustomBooleanField" if isinstance(v, bool) else "CustomStringField",
                "value": v,
            }
            for name, v in fields.items()
        }
        for view, fields in custom.items()
    }
