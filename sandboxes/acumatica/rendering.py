"""Records to contract JSON.

Order of keys: ``id``, ``rowNumber``, ``note``, then fields sorted alphabetically ignoring
case, then ``custom``, ``error`` and ``_links``. A null value is ``{}``. Linked and detail
entities appear only when named in ``$expand``; ``$select`` trims fields at every level.
"""

from __future__ import annotations

from typing import Any

from .entities import SCHEMAS
from .entities.model import EntityDef
from .store import Record

Tree = dict[str, "Tree"]

# Key under which a record carries validation errors: field name -> message.
ERRORS = "_errors"


def parse_tree(spec: str | None) -> Tree | None:
    """``"Details,MainContact/Address"`` -> ``{"details": {}, "maincontact": {"address": {}}}``."""
    if spec is None:
        return None
    tree: Tree = {}
    for part in spec.split(","):
        node = tree
        for name in part.strip().split("/"):
            if name:
                node = node.setdefault(name.strip().lower(), {})
    return tree


def render(
    defn: EntityDef,
    record: Record,
    *,
    base: str,
    expand: Tree | None = None,
    select: Tree | None = None,
    row_number: int = 1,
    top: bool = True,
) -> dict[str, Any]:
    expand = expand or {}
    out: dict[str, Any] = {
        "id": record.get("id"),
        "rowNumber": row_number,
        "note": {"value": record.get("note") or ""},
    }
    errors: dict[str, str] = record.get(ERRORS) or {}
    items: list[tuple[str, Any]] = []
    for f in defn.fields:
        if select and f.name.lower() not in select:
            continue
        value = record.get(f.name)
        wrapped: dict[str, Any] = {} if value is None else {"value": value}
        if f.name in errors:
            wrapped["error"] = errors[f.name]
        items.append((f.name, wrapped))
    for link in defn.links:
        key = link.name.lower()
        if key not in expand:
            continue
        if select and not _selected_link(select, key):
            continue
        sub_select = select.get(key) if select else None
        child = SCHEMAS[link.schema]
        value = record.get(link.name)
        if link.many:
            rows = value or []
            items.append(
                (
                    link.name,
                    [
                        render(
                            child,
                            row,
                            base=base,
                            expand=expand[key],
                            select=sub_select or None,
                            row_number=i,
                            top=False,
                        )
                        for i, row in enumerate(rows, 1)
                    ],
                )
            )
        else:
            items.append(
                (
                    link.name,
                    render(
                        child,
                        value or {},
                        base=base,
                        expand=expand[key],
                        select=sub_select or None,
                        top=False,
                    ),
                )
            )
    if "files" in expand and (not select or "files" in select):
        items.append(("files", record.get("files") or []))
    items.sort(key=lambda kv: kv[0].lower())
    out.update(items)
    out["custom"] = {}
    if record.get(ERRORS, {}).get(""):
        out["error"] = record[ERRORS][""]
    if top:
        out["_links"] = {
            "self": f"{base}/{defn.name}/{record.get('id')}",
            "files:put": f"{base}/files/{defn.graph}/{defn.view}/{record.get('id')}/{{filename}}",
        }
    elif defn.graph != "PX.Objects.CS.Graph" and record.get("id"):
        out["_links"] = {
            "files:put": f"{base}/files/{defn.graph}/{defn.view}/{record.get('id')}/{{filename}}"
        }
    return out


def _selected_link(select: Tree, key: str) -> bool:
    return key in select


def ad_hoc_schema(defn: EntityDef, *, top: bool = True) -> dict[str, Any]:
    """A template record: every field as ``{}`` and every link as a template of its own."""
    out: dict[str, Any] = {"id": None, "rowNumber": 1, "note": {"value": ""}}
    items: list[tuple[str, Any]] = [(f.name, {}) for f in defn.fields]
    for link in defn.links:
        child = ad_hoc_schema(SCHEMAS[link.schema], top=False)
        items.append((link.name, [child] if link.many else child))
    items.sort(key=lambda kv: kv[0].lower())
    out.update(items)
    out["custom"] = {}
    return out
