"""Field resolution, stable ordering and ``$orderby`` for list reads."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from .entities import SCHEMAS
from .entities.model import DATETIME, DECIMAL, INT, SHORT, EntityDef
from .filters import FilterError, Resolver, UnknownField
from .store import Record
from .values import parse_datetime


def resolver(defn: EntityDef, record: Record) -> Resolver:
    """Resolve ``Field`` and linked paths such as ``MainContact/Address/City``."""

    def resolve(path: str) -> tuple[Any, str]:
        parts = path.split("/")
        current_def, current = defn, record
        for part in parts[:-1]:
            link = current_def.link(part)
            if link is None:
                raise UnknownField(f"The field '{path}' is not found in the entity {defn.name}.")
            if link.many:
                raise FilterError(f"Filtering on detail entity fields ('{path}') is not supported.")
            current = current.get(link.name) or {}
            current_def = SCHEMAS[link.schema]
        fld = current_def.field(parts[-1])
        if fld is None:
            raise UnknownField(f"The field '{path}' is not found in the entity {defn.name}.")
        return current.get(fld.name), fld.type

    return resolve


def _sort_value(value: Any, type_: str) -> tuple[int, Any]:
    if value is None:
        return (0, "")
    if type_ == DATETIME:
        return (1, parse_datetime(value))
    if type_ in (DECIMAL, INT, SHORT):
        return (1, float(value))
    if isinstance(value, bool):
        return (1, int(value))
    return (1, str(value).lower())


def _type_of(defn: EntityDef, name: str) -> str:
    fld = defn.field(name)
    return fld.type if fld is not None else "String"


def sort_records(defn: EntityDef, records: list[Record]) -> list[Record]:
    """Key order (case-insensitive), the stable order of a list read without ``$orderby``."""
    if not defn.keys:
        return list(records)
    types = [(k, _type_of(defn, k)) for k in defn.keys]
    return sorted(records, key=lambda r: tuple(_sort_value(r.get(k), t) for k, t in types))


def order_by(defn: EntityDef, records: list[Record], text: str) -> list[Record]:
    """Apply ``$orderby=A desc,B`` (a stable multi-pass sort, last key first)."""
    clauses = [c.split() for c in text.split(",") if c.strip()]
    out = list(records)
    for clause in reversed(clauses):
        name = clause[0]
        descending = len(clause) > 1 and clause[1].lower() == "desc"
        out.sort(key=_key_for(defn, name), reverse=descending)
    return out


def _key_for(defn: EntityDef, path: str) -> Callable[[Record], tuple[int, Any]]:
    return lambda record: _sort_key(defn, record, path)


def _sort_key(defn: EntityDef, record: Record, path: str) -> tuple[int, Any]:
    value, type_ = resolver(defn, record)(path)
    key = _sort_value(value, type_)
    if isinstance(key[1], datetime):
        return (key[0], key[1].timestamp())
    return key
