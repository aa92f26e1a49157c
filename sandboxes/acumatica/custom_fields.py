"""Contract-based custom fields (``custom`` blocks and the ``$custom`` parameter).

A customisation adds fields that are not in the endpoint contract; the API reads and writes
them as ``"custom": {"<View>": {"<Field>": {"type": "CustomStringField", "value": ...}}}``.
The sandbox's tenant has one such customisation, on StockItem's ``ItemSettings`` view
(``CUSTOM_FIELDS``). A PUT sets the known fields it names and ignores unknown views and
fields; a read returns custom fields only when listed in ``$custom`` as ``<View>.<Field>``.
Values are kept on the record under ``STORE_KEY`` as view -> field -> value, so a change to
them alone counts as a change of the record (``LastModifiedDateTime`` moves).
"""

from __future__ import annotations

from typing import Any

from .store import Record

STORE_KEY = "custom"

#: entity -> view -> field -> custom field type, as the customisation publishes them.
CUSTOM_FIELDS: dict[str, dict[str, dict[str, str]]] = {
    "StockItem": {
        "ItemSettings": {
            "UsrColor": "CustomStringField",
            "UsrMaterial": "CustomStringField",
            "UsrGiftWrap": "CustomBooleanField",
        }
    }
}


def _coerce(value: Any, kind: str) -> Any:
    if value is None:
        return None
    if kind == "CustomBooleanField":
        if isinstance(value, str):
            return value.strip().lower() == "true"
        return bool(value)
    return str(value)


def apply_custom(entity: str, record: Record, body: Any) -> None:
    """Set the known custom fields named in a PUT body's ``custom`` block on ``record``."""
    known = CUSTOM_FIELDS.get(entity) or {}
    if not known or not isinstance(body, dict):
        return
    stored: dict[str, dict[str, Any]] = {
        view: dict(fields) for view, fields in (record.get(STORE_KEY) or {}).items()
    }
    for view_name, fields in body.items():
        view = next((v for v in known if v.lower() == str(view_name).lower()), None)
        if view is None or not isinstance(fields, dict):
            continue
        for field_name, raw in fields.items():
            name = next((f for f in known[view] if f.lower() == str(field_name).lower()), None)
            if name is None or not isinstance(raw, dict) or "value" not in raw:
                continue
            stored.setdefault(view, {})[name] = _coerce(raw["value"], known[view][name])
    if stored:
        record[STORE_KEY] = stored


def parse_custom(spec: str | None) -> list[tuple[str, str]]:
    """``"ItemSettings.UsrColor, ItemSettings.UsrMaterial"`` -> ``[(view, field), ...]``."""
    wanted: list[tuple[str, str]] = []
    for part in (spec or "").split(","):
        view, dot, name = part.strip().partition(".")
        if dot and view and name and "/" not in view:
            wanted.append((view, name))
    return wanted


def render_custom(entity: str, record: Record, spec: str | None) -> dict[str, Any]:
    """The ``custom`` block of a top-level record for the ``$custom`` list ``spec``."""
    known = CUSTOM_FIELDS.get(entity) or {}
    values = record.get(STORE_KEY) or {}
    out: dict[str, dict[str, Any]] = {}
    for view_name, field_name in parse_custom(spec):
        view = next((v for v in known if v.lower() == view_name.lower()), None)
        if view is None:
            continue
        name = next((f for f in known[view] if f.lower() == field_name.lower()), None)
        if name is None:
            continue
        out.setdefault(view, {})[name] = {
            "type": known[view][name],
            "value": (values.get(view) or {}).get(name),
        }
    return out


def with_custom(entity: str, record: Record, rendered: dict[str, Any], spec: str | None) -> Any:
    """``rendered`` with its top-level ``custom`` block filled from ``$custom``."""
    if spec and CUSTOM_FIELDS.get(entity):
        rendered["custom"] = render_custom(entity, record, spec)
    return rendered


def ad_hoc_custom(entity: str) -> dict[str, Any]:
    """The ``custom`` block of ``$adHocSchema``: every custom field with a null value."""
    return {
        view: {name: {"type": kind, "value": None} for name, kind in fields.items()}
        for view, fields in (CUSTOM_FIELDS.get(entity) or {}).items()
    }
