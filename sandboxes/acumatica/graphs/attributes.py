"""Attribute definitions (CS205000) and the attribute values a stock item carries.

A definition's ``AttributeID`` is stored upper-case (the form's key mask); a Combo or Multi
Select Combo attribute lists its allowed values (``Values[].ValueID``). On a stock item, each
``Attributes`` row names a defined attribute; the value of a listed attribute must be one of its
``ValueID``s (a multi-select value is a comma-separated list of them) and is shown with the
value's ``Description``; a checkbox value is stored as ``True``/``False``.

Not emulated: the item class's attribute list (in a tenant an attribute appears on an item only
when its class lists it; here any defined attribute is accepted) and required attributes.
"""

from __future__ import annotations

from typing import Any

from ..entities import attributes as entities
from ..store import Record, Store
from ..writes import add_error, new_id
from .base import Env, Graph

#: Seeded definitions: (AttributeID, Description, ControlType, ((ValueID, Description), ...)).
SEED: tuple[tuple[str, str, str, tuple[tuple[str, str], ...]], ...] = (
    ("COLOR", "Color", "Combo", (("RED", "Red"), ("BLUE", "Blue"), ("GREEN", "Green"))),
    ("SIZE", "Size", "Combo", (("S", "Small"), ("M", "Medium"), ("L", "Large"))),
    ("MATERIAL", "Material", "Text", ()),
)
_TRUE = {"true", "1", "yes"}
_FALSE = {"false", "0", "no", ""}


class AttributeDefinitionGraph(Graph):
    defn = entities.ATTRIBUTE_DEFINITION

    def prepare(self, record: Record, old: Record | None) -> None:
        attribute_id = str(record.get("AttributeID") or "").strip()
        if not attribute_id:
            add_error(record, "AttributeID", "'Attribute ID' cannot be empty.")
        record["AttributeID"] = attribute_id.upper()
        record["ControlType"] = record.get("ControlType") or "Text"
        record.setdefault("Description", attribute_id)
        record.setdefault("Internal", False)
        seen: set[str] = set()
        for n, row in enumerate(record.setdefault("Values", [])):
            row.pop("_new", None)
            value_id = str(row.get("ValueID") or "").strip()
            if not value_id:
                add_error(row, "ValueID", "'Value ID' cannot be empty.")
            elif value_id.upper() in seen:
                add_error(row, "ValueID", "An attempt was made to add a duplicate entry.")
            seen.add(value_id.upper())
            row["ValueID"] = value_id
            row.setdefault("Description", value_id)
            row.setdefault("Disabled", False)
            row.setdefault("SortOrder", n)


def definition(store: Store, attribute_id: str) -> Record | None:
    if not attribute_id.strip():
        return None
    return store.find(entities.ATTRIBUTE_DEFINITION.name, AttributeID=attribute_id.strip())


def check_answers(store: Store, item: Record) -> None:
    """Validate and complete a stock item's ``Attributes`` rows (errors stay on the rows)."""
    for row in item.setdefault("Attributes", []):
        row.pop("_new", None)
        found = definition(store, str(row.get("AttributeID") or ""))
        if found is None:
            add_error(row, "AttributeID", "'Attribute' cannot be found in the system.")
            continue
        row["AttributeID"] = found["AttributeID"]
        row["AttributeDescription"] = found.get("Description")
        row["IsActive"] = True
        row["Required"] = False
        row["RefNoteID"] = item.get("NoteID") or item.get("id")
        row["Value"], row["ValueDescription"] = _answer(found, row, row.get("Value"))


def _answer(found: Record, row: Record, value: Any) -> tuple[Any, Any]:
    control = found.get("ControlType")
    if value in (None, ""):
        return value, None
    if control == "Checkbox":
        text = str(value).strip().lower()
        if text not in _TRUE | _FALSE:
            add_error(row, "Value", f"'{value}' is not a valid value for the field.")
            return value, None
        flag = "True" if text in _TRUE else "False"
        return flag, flag
    if control not in entities.LISTED:
        return value, value
    allowed = {str(v.get("ValueID", "")).upper(): v for v in found.get("Values") or []}
    parts = [p.strip() for p in str(value).split(",")] if control != "Combo" else [str(value)]
    chosen = []
    for part in parts:
        match = allowed.get(part.strip().upper())
        if match is None or match.get("Disabled"):
            add_error(row, "Value", f"'{part}' cannot be found in the system.")
            return value, None
        chosen.append(match)
    ids = ",".join(str(v["ValueID"]) for v in chosen)
    return ids, ", ".join(str(v.get("Description") or v["ValueID"]) for v in chosen)


def seed_attributes(env: Env) -> None:
    """Store (or refresh) the seeded definitions; inside the caller's transaction."""
    graph = AttributeDefinitionGraph(env)
    for attribute_id, description, control, values in SEED:
        record = graph.by_keys([attribute_id])
        old = None if record is None else dict(record)
        record = {
            "id": record["id"] if record else new_id(),
            "note": "",
            "AttributeID": attribute_id,
            "Description": description,
            "ControlType": control,
            "Values": [
                {"id": new_id(), "ValueID": v, "Description": d, "SortOrder": n}
                for n, (v, d) in enumerate(values)
            ],
        }
        graph.prepare(record, old)
        graph.save(record, old)
