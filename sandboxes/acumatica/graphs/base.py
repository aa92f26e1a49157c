"""The business-logic layer ("graphs", as Acumatica calls them) shared by every entity.

A graph finds the record a PUT addresses, fills defaults, validates selectors, computes totals
and statuses (``prepare``), and runs actions. Records are stored only when ``prepare`` leaves no
error on them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from ..entities import SCHEMAS
from ..entities.model import EntityDef
from ..request_context import business_date, current_branch
from ..store import Record, Store
from ..values import format_datetime, now, now_iso, parse_datetime
from ..writes import add_error, new_id, strip_marks

# Fields that never count as a change when deciding whether to bump LastModified.
TIMESTAMP_FIELDS = frozenset(
    {"LastModified", "LastModifiedDateTime", "LastModifiedDate", "CreatedDate", "CreatedDateTime"}
)


class ActionError(Exception):
    """An action refused by business rules (answered 422 with the entity and this text)."""


@dataclass
class Settings:
    """Behaviour switches for the emulated tenant (posted to ``/_sandbox/behaviour``)."""

    hold_shipments_on_entry: bool = False
    not_found_status: int = 500
    login_limit_status: int = 429
    long_actions: list[str] = field(default_factory=list)
    long_action_seconds: float = 1.0
    copy_addresses_without_override: bool = True
    token_lifetime_seconds: float = 3600
    clock_offset_seconds: float = 0.0
    frozen_clock: str | None = None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)

    def update(self, values: dict[str, Any]) -> None:
        for key in values:
            if key not in self.__dict__:
                raise ValueError(f"unknown behaviour switch '{key}'")
        if values.get("frozen_clock"):
            parse_datetime(str(values["frozen_clock"]))
        for key, value in values.items():
            setattr(self, key, value)


@dataclass
class Env:
    store: Store
    settings: Settings


ActionFn = Callable[[Record, dict[str, Any]], None]


class Graph:
    defn: EntityDef

    def __init__(self, env: Env) -> None:
        self.env = env
        self.store = env.store

    # --- finding records -------------------------------------------------------------------

    def by_id(self, rid: str) -> Record | None:
        return self.store.get(self.defn.name, rid)

    def by_keys(self, values: list[str]) -> Record | None:
        keys = self.defn.keys
        if len(values) != len(keys):
            return None
        return self.store.find(self.defn.name, **dict(zip(keys, values, strict=True)))

    def key_values(self, body: dict[str, Any]) -> dict[str, Any] | None:
        """Key values in a body, or ``None`` when a key is missing."""
        out: dict[str, Any] = {}
        for key in self.defn.keys:
            raw = _body_value(body, key)
            if raw is None:
                default = self.default_key(key, body)
                if default is None:
                    return None
                raw = default
            out[key] = str(raw)
        return out

    def default_key(self, key: str, body: dict[str, Any]) -> Any:
        return None

    def locate(self, body: dict[str, Any]) -> Record | None:
        rid = body.get("id")
        if isinstance(rid, str) and rid:
            found = self.by_id(rid)
            if found is not None:
                return found
        keys = self.key_values(body)
        if keys and all(keys.values()):
            return self.store.find(self.defn.name, **keys)
        return None

    # --- creating and saving ---------------------------------------------------------------

    def new_record(self, body: dict[str, Any]) -> Record:
        record: Record = {"id": new_id(), "note": ""}
        if self.defn.field("Branch") is not None:
            record["Branch"] = current_branch()  # what the body sends replaces it
        keys = self.key_values(body) or {}
        for key in self.defn.keys:
            counter = self.defn.auto_number.get(key)
            if counter and (not keys.get(key) or key == self.always_numbered()):
                record[key] = self.store.next_number(counter)
            elif keys.get(key):
                record[key] = keys[key]
        return record

    def always_numbered(self) -> str | None:
        """A key that is generated even when a value is sent (auto-numbered document types)."""
        return None

    def validate_put(self, record: Record, old: Record | None) -> None:
        """Rules that apply to a client's PUT only (not to recomputations after other changes)."""

    def prepare(self, record: Record, old: Record | None) -> None:
        """Fill defaults, validate, compute; leave errors on the record when invalid."""

    def after_save(self, old: Record | None, new: Record) -> None:
        """Side effects on other records once ``new`` is stored."""

    def can_delete(self, record: Record) -> str | None:
        """An error text when the record cannot be deleted."""
        return None

    def after_delete(self, record: Record) -> None:
        """Side effects on other records once ``record`` is deleted."""

    def save(self, record: Record, old: Record | None) -> Record:
        """Touch timestamps when something changed, then store and run side effects."""
        strip_marks(record)
        if old is None or content(record) != content(old):
            self.touch(record, old)
        self.store.save(self.defn.name, record)
        self.after_save(old, record)
        return record

    def touch(self, record: Record, old: Record | None) -> None:
        stamp = now_iso()
        for name in ("LastModified", "LastModifiedDateTime"):
            if self.defn.field(name):
                record[name] = stamp
        for name in ("CreatedDate", "CreatedDateTime"):
            if self.defn.field(name) and not record.get(name):
                record[name] = stamp
        if self.defn.field("NoteID"):
            record["NoteID"] = record["id"]

    def refresh(self, record: Record) -> Record:
        """Recompute and store a record after a change made elsewhere."""
        old = copy.deepcopy(self.store.peek(self.defn.name, record["id"]))
        self.prepare(record, old)
        return self.save(record, old)

    def inquire(self, filter_record: Record) -> Record:
        """Inquiry entities: the filter record with its results filled in."""
        raise NotImplementedError(self.defn.name)

    # --- actions ---------------------------------------------------------------------------

    def actions(self) -> dict[str, ActionFn]:
        return {}

    # --- helpers ---------------------------------------------------------------------------

    def require_selector(
        self, record: Record, name: str, exists: Callable[[str], bool], *, required: bool = False
    ) -> None:
        value = record.get(name)
        fld = self.defn.field(name)
        label = (fld.label if fld and fld.label else name) or name
        if value in (None, ""):
            if required:
                add_error(record, name, f"'{label}' cannot be empty.")
            return
        if not exists(str(value)):
            add_error(record, name, f"'{label}' cannot be found in the system.")


def _body_value(body: dict[str, Any], key: str) -> Any:
    for name, raw in body.items():
        if name.lower() == key.lower():
            if isinstance(raw, dict):
                return raw.get("value")
            return raw
    return None


def content(record: Any) -> Any:
    """A record without timestamps and working marks, to tell real changes from touches."""
    if isinstance(record, dict):
        return {
            k: content(v)
            for k, v in record.items()
            if k not in TIMESTAMP_FIELDS and not k.startswith("_")
        }
    if isinstance(record, list):
        return [content(v) for v in record]
    return record


def today_iso() -> str:
    """The business date at midnight: the request's ``PX-CbApiBusinessDate``, or today."""
    day = business_date() or now().date()
    return format_datetime(datetime(day.year, day.month, day.day, tzinfo=UTC))


def ensure_child(record: Record, name: str) -> Record:
    child = record.get(name)
    if not isinstance(child, dict):
        child = {}
        record[name] = child
    child.setdefault("id", new_id())
    return child


def schema(name: str) -> EntityDef:
    return SCHEMAS[name]
