"""Applying a PUT body to a record: unwrapping values, details, read-only fields, drop-downs.

Business rules (defaults, totals, selector checks, status) live in the graphs; this module only
knows the contract: which fields exist, their types, and how detail lines are added, updated
by ``id`` and deleted with ``delete: true``.
"""

from __future__ import annotations

import uuid
from typing import Any

from .entities import SCHEMAS
from .entities.model import EntityDef
from .rendering import ERRORS
from .store import Record
from .values import BadValue, to_store

SYSTEM_KEYS = frozenset({"id", "rowNumber", "note", "custom", "_links", "files", "error", "delete"})
NEW = "_new"


def new_id() -> str:
    return str(uuid.uuid4())


def add_error(record: Record, field: str, message: str) -> None:
    record.setdefault(ERRORS, {})[field] = message


def has_errors(record: Any) -> bool:
    if isinstance(record, dict):
        if record.get(ERRORS):
            return True
        return any(
            has_errors(v) for k, v in record.items() if k != ERRORS and isinstance(v, dict | list)
        )
    if isinstance(record, list):
        return any(has_errors(v) for v in record)
    return False


def strip_marks(record: Any) -> Any:
    """Remove working marks (errors, new-line flags) before a record is stored or shown."""
    if isinstance(record, dict):
        record.pop(ERRORS, None)
        record.pop(NEW, None)
        for value in record.values():
            if isinstance(value, dict | list):
                strip_marks(value)
    elif isinstance(record, list):
        for value in record:
            strip_marks(value)
    return record


def unwrap(raw: Any) -> tuple[bool, Any]:
    """``{"value": x}`` -> (True, x); ``{}`` or a wrapper without value -> (False, None)."""
    if isinstance(raw, dict):
        if "value" in raw:
            return True, raw["value"]
        return False, None
    return True, raw


def merge(defn: EntityDef, target: Record, body: dict[str, Any]) -> None:
    """Apply ``body`` to ``target`` in place, noting per-field errors on the record."""
    target.setdefault("id", new_id())
    if isinstance(body.get("note"), dict) and "value" in body["note"]:
        target["note"] = body["note"]["value"]
    for key, raw in body.items():
        if key in SYSTEM_KEYS:
            continue
        fld = defn.field(key)
        if fld is not None:
            present, value = unwrap(raw)
            if not present or fld.read_only:
                continue
            try:
                stored = to_store(value, fld.type)
            except BadValue:
                add_error(target, fld.name, f"'{value}' is not a valid value for the field.")
                target[fld.name] = value
                continue
            if fld.choices and stored is not None:
                label = next(
                    (c for c in fld.choices if c.lower() == str(stored).strip().lower()), None
                )
                if label is None:
                    add_error(target, fld.name, f"{fld.name}: '{stored}' is not a valid value.")
                else:
                    stored = label
            target[fld.name] = stored
            continue
        link = defn.link(key)
        if link is None or link.read_only:
            continue
        child = SCHEMAS[link.schema]
        if link.many:
            if isinstance(raw, list):
                rows = target.get(link.name) or []
                merge_details(child, rows, raw)
                target[link.name] = rows
        elif isinstance(raw, dict):
            sub = target.get(link.name) or {}
            merge(child, sub, raw)
            target[link.name] = sub


def merge_details(defn: EntityDef, rows: list[Record], items: list[Any]) -> None:
    by_id = {row.get("id"): row for row in rows}
    for item in items:
        if not isinstance(item, dict):
            continue
        rid = item.get("id")
        row = by_id.get(rid) if rid else _by_detail_keys(defn, rows, item)
        if item.get("delete") is True or (
            isinstance(item.get("delete"), dict) and item["delete"].get("value")
        ):
            if row is not None:
                rows.remove(row)
            continue
        if row is None:
            row = {"id": new_id(), NEW: True}
            rows.append(row)
        merge(defn, row, item)


def _by_detail_keys(defn: EntityDef, rows: list[Record], item: dict[str, Any]) -> Record | None:
    """The line whose detail keys equal the item's (e.g. a warehouse row by WarehouseID)."""
    if not defn.keys:
        return None
    wanted = []
    for key in defn.keys:
        present, value = unwrap(item.get(key, {}))
        if not present or value in (None, ""):
            return None
        wanted.append(str(value).strip().lower())
    for row in rows:
        if [str(row.get(k, "")).strip().lower() for k in defn.keys] == wanted:
            return row
    return None


def link_tree(defn: EntityDef, body: dict[str, Any]) -> dict[str, Any]:
    """The ``$expand`` tree matching the links present in a body (used to echo a 422)."""
    tree: dict[str, Any] = {}
    for key, raw in body.items():
        link = defn.link(key)
        if link is None:
            continue
        child = SCHEMAS[link.schema]
        sample = raw[0] if isinstance(raw, list) and raw and isinstance(raw[0], dict) else raw
        tree[link.name.lower()] = link_tree(child, sample) if isinstance(sample, dict) else {}
    return tree
