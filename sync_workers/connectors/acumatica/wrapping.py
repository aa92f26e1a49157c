"""The ``{"value": ...}`` wrapping of Acumatica's contract-based REST, in one place.

On the wire every field is ``{"value": x}``, a null is ``{}``, linked entities are nested
objects and detail entities are lists. The rest of the engine speaks plain dicts:
``wrap`` turns a plain record into wire JSON and ``unwrap`` does the reverse.
System fields (``id``, ``rowNumber``, ``delete``, ``custom``, ``_links``, ``files``) pass
through unchanged; ``note`` is a value like any other field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sync_workers.dates import to_utc_iso

PASSTHROUGH_KEYS = frozenset({"id", "rowNumber", "delete", "custom", "_links", "files"})
_VALUE_KEYS = frozenset({"value", "error"})


def _plain_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return to_utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def wrap(record: Mapping[str, Any]) -> dict[str, Any]:
    """Plain record -> wire JSON. Nested mappings become linked entities, lists detail lines."""
    wire: dict[str, Any] = {}
    for key, value in record.items():
        if key in PASSTHROUGH_KEYS:
            wire[key] = value
        elif isinstance(value, Mapping):
            wire[key] = wrap(value)
        elif isinstance(value, list | tuple):
            wire[key] = [wrap(item) for item in value]
        else:
            wire[key] = {"value": _plain_value(value)}
    return wire


def is_value(node: Any) -> bool:
    """True for a value wrapper (``{"value": x}``, ``{"value": x, "error": e}`` or ``{}``)."""
    return isinstance(node, Mapping) and set(node) <= _VALUE_KEYS


def unwrap(entity: Mapping[str, Any]) -> dict[str, Any]:
    """Wire JSON -> plain record; ``{}`` becomes ``None``. Field ``error`` texts are dropped
    (read them with :func:`sync_workers.connectors.errors.acumatica_field_errors`)."""
    plain: dict[str, Any] = {}
    for key, node in entity.items():
        if key in PASSTHROUGH_KEYS or key == "error":
            if key != "error":
                plain[key] = node
        elif is_value(node):
            plain[key] = node.get("value")
        elif isinstance(node, Mapping):
            plain[key] = unwrap(node)
        elif isinstance(node, list):
            plain[key] = [unwrap(item) if isinstance(item, Mapping) else item for item in node]
        else:
            plain[key] = node
    return plain
