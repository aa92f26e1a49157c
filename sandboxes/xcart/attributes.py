"""Product attributes of X-Cart 5.5: definitions, options of select attributes, product values.

Three kinds are emulated, by their type letter in core: ``S`` select ("Plain field", with
options), ``C`` checkbox ("Yes/No") and ``T`` text ("Textarea"). An attribute is global
(``/api/attributes_*``) or product-specific (``/api/products/{id}/attributes_*``); either kind
gets its values for one product under ``/api/products/{id}/attributes_*/{attribute_id}/values``
(select and checkbox: a collection, one value per option; text: one value). A variant of the
ProductVariants add-on names its select and checkbox values by their ids
(``attribute_select_values: [int]``). Product-class attributes and hidden attributes are not
emulated.

Everything lives in one JSON document in the store's ``meta`` table, so a sandbox reset clears
it with the rest and every change is one transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sandboxes.xcart.context import Sandbox
from sandboxes.xcart.http import ApiError, bad_request, not_found
from sandboxes.xcart.validation import Violations, check_types

KEY = "attributes"
KINDS = {"select": "S", "checkbox": "C", "text": "T"}
MODIFIER_TYPES = ("absolute", "percent")
SERVER_ERROR = ApiError(500, "Internal Server Error")

Data = dict[str, dict[str, dict[str, Any]]]


@contextmanager
def editing(sb: Sandbox) -> Iterator[Data]:
    """The attribute document, stored again when the block ends without an error."""
    with sb.store.tx():
        data = load(sb)
        yield data
        sb.store.set_meta(KEY, data)


def load(sb: Sandbox) -> Data:
    data = sb.store.get_meta(KEY) or {}
    for part in ("attributes", "options", "values"):
        data.setdefault(part, {})
    return data


def _next(sb: Sandbox, name: str) -> int:
    return sb.store.next_value(f"attribute_{name}")


def _product_exists(sb: Sandbox, product_id: int) -> bool:
    return bool(sb.store.scalar("SELECT COUNT(*) FROM products WHERE id = ?", (product_id,)))


# -- attributes -----------------------------------------------------------------------------------


def attribute_json(row: dict[str, Any]) -> dict[str, Any]:
    """Output of a global attribute (``groupId`` is only shown for global ones) or a
    product-specific one; select attributes add ``displayMode``."""
    out: dict[str, Any] = {"id": row["id"]}
    if row.get("product_id") is None:
        out["groupId"] = row.get("groupId")
    out["position"] = row.get("position", 0)
    out["name"] = row["name"]
    if row["type"] == "S":
        out["displayMode"] = row.get("displayMode") or "S"
    return out


def list_attributes(sb: Sandbox, kind: str, product_id: int | None) -> list[dict[str, Any]]:
    if product_id is not None and not _product_exists(sb, product_id):
        raise not_found()
    rows = [
        a
        for a in load(sb)["attributes"].values()
        if a["type"] == KINDS[kind] and a.get("product_id") == product_id
    ]
    return [attribute_json(a) for a in sorted(rows, key=lambda a: (a.get("position", 0), a["id"]))]


def get_attribute(sb: Sandbox, kind: str, attribute_id: int, product_id: int | None = None) -> dict:
    row = load(sb)["attributes"].get(str(attribute_id))
    if row is None or row["type"] != KINDS[kind] or row.get("product_id") != product_id:
        raise not_found()
    return row


def _check_attribute(kind: str, body: dict[str, Any], *, creating: bool) -> None:
    check_types(
        body,
        {"name": "string", "position": "int", "displayMode": "string", "groupId": "int"},
        frozenset({"groupId"}),
    )
    violations = Violations()
    name = body.get("name")
    if (creating or "name" in body) and not str(name or "").strip():
        violations.add("name", "This value should not be blank.")
    elif isinstance(name, str) and len(name) > 255:
        violations.add("name", "This value is too long. It should have 255 characters or less.")
    if kind == "select" and body.get("displayMode", "S") not in ("S", "B"):
        violations.add("displayMode", "The value you selected is not a valid choice.")
    violations.raise_if_any()


def create_attribute(
    sb: Sandbox, kind: str, body: dict[str, Any], product_id: int | None = None
) -> dict[str, Any]:
    _check_attribute(kind, body, creating=True)
    if product_id is not None and not _product_exists(sb, product_id):
        raise bad_request(f"Product with ID {product_id} not found")
    with editing(sb) as data:
        row = {
            "id": _next(sb, "id"),
            "type": KINDS[kind],
            "name": str(body["name"]).strip(),
            "position": int(body.get("position", 0)),
            "displayMode": body.get("displayMode", "S") if kind == "select" else "",
            "groupId": body.get("groupId") if product_id is None else None,
            "product_id": product_id,
        }
        data["attributes"][str(row["id"])] = row
    return attribute_json(row)


def update_attribute(
    sb: Sandbox, kind: str, attribute_id: int, body: dict[str, Any], product_id: int | None = None
) -> dict[str, Any]:
    _check_attribute(kind, body, creating=False)
    with editing(sb) as data:
        row = get_attribute(sb, kind, attribute_id, product_id)
        for key in ("name", "position", "displayMode", "groupId"):
            if key in body:
                row[key] = body[key].strip() if key == "name" else body[key]
        data["attributes"][str(attribute_id)] = row
    return attribute_json(row)


def delete_attribute(
    sb: Sandbox, kind: str, attribute_id: int, product_id: int | None = None
) -> None:
    with editing(sb) as data:
        get_attribute(sb, kind, attribute_id, product_id)
        del data["attributes"][str(attribute_id)]
        for part in ("options", "values"):
            for key in [k for k, v in data[part].items() if v["attribute_id"] == attribute_id]:
                del data[part][key]


# -- options of select attributes ------------------------------------------------------------------


def option_json(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "position": row.get("position", 0), "value": row["value"]}


def list_options(sb: Sandbox, attribute_id: int, product_id: int | None = None) -> list[dict]:
    get_attribute(sb, "select", attribute_id, product_id)
    rows = [o for o in load(sb)["options"].values() if o["attribute_id"] == attribute_id]
    return [option_json(o) for o in sorted(rows, key=lambda o: (o.get("position", 0), o["id"]))]


def create_option(
    sb: Sandbox, attribute_id: int, body: dict[str, Any], product_id: int | None = None
) -> dict[str, Any]:
    check_types(body, {"value": "string", "position": "int"}, frozenset())
    violations = Violations()
    if not str(body.get("value") or "").strip():
        violations.add("value", "This value should not be blank.")
    violations.raise_if_any()
    with editing(sb) as data:
        get_attribute(sb, "select", attribute_id, product_id)
        row = {
            "id": _next(sb, "option"),
            "attribute_id": attribute_id,
            "value": str(body["value"]).strip(),
            "position": int(body.get("position", 0)),
        }
        data["options"][str(row["id"])] = row
    return option_json(row)


# -- values of one product ---------------------------------------------------------------------------


def _modifiers(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "price_modifier": float(row.get("price_modifier", 0.0)),
        "price_modifier_type": row.get("price_modifier_type", "percent"),
        "weight_modifier": float(row.get("weight_modifier", 0.0)),
        "weight_modifier_type": row.get("weight_modifier_type", "percent"),
        "is_default": bool(row.get("is_default", False)),
    }


def value_json(data: Data, row: dict[str, Any]) -> dict[str, Any]:
    if row["type"] == "T":
        return {"id": row["id"], "value": row.get("value", ""), "editable": row.get("editable")}
    if row["type"] == "C":
        return {"id": row["id"], "value": bool(row["value"]), **_modifiers(row)}
    option = data["options"][str(row["option_id"])]
    return {
        "id": row["id"],
        "option": option_json(option),
        "position": row.get("position", 0),
        **_modifiers(row),
    }


def _attribute_for_values(sb: Sandbox, data: Data, kind: str, attribute_id: int) -> dict:
    """Any attribute (global or product-specific) of the kind; another kind is the PHP
    ``InvalidArgumentException`` core throws, a 500 in production."""
    row = data["attributes"].get(str(attribute_id))
    if row is None:
        raise bad_request(f"Attribute with ID {attribute_id} not found")
    if row["type"] != KINDS[kind]:
        raise SERVER_ERROR
    return row


def _values_of(data: Data, product_id: int, attribute_id: int) -> list[dict[str, Any]]:
    rows = [
        v
        for v in data["values"].values()
        if v["product_id"] == product_id and v["attribute_id"] == attribute_id
    ]
    return sorted(rows, key=lambda v: (v.get("position", 0), v["id"]))


def list_values(sb: Sandbox, kind: str, product_id: int, attribute_id: int) -> list[dict]:
    if not _product_exists(sb, product_id):
        raise not_found()
    data = load(sb)
    return [value_json(data, v) for v in _values_of(data, product_id, attribute_id)]


def get_value(sb: Sandbox, kind: str, product_id: int, attribute_id: int, value_id: int) -> dict:
    data = load(sb)
    row = data["values"].get(str(value_id))
    if (
        row is None
        or row["type"] != KINDS[kind]
        or row["product_id"] != product_id
        or row["attribute_id"] != attribute_id
    ):
        raise not_found()
    return value_json(data, row)


def _check_modifiers(body: dict[str, Any], violations: Violations) -> None:
    for key in ("price_modifier_type", "weight_modifier_type"):
        if body.get(key, "percent") not in MODIFIER_TYPES:
            violations.add(key, "The value you selected is not a valid choice.")


MODIFIER_TYPES_BY_KEY = {
    "position": "int",
    "price_modifier": "float",
    "price_modifier_type": "string",
    "weight_modifier": "float",
    "weight_modifier_type": "string",
    "is_default": "bool",
}


def create_value(
    sb: Sandbox, kind: str, product_id: int, attribute_id: int, body: dict[str, Any]
) -> dict[str, Any]:
    """``POST .../values``: select ``{option_id, ...}``, checkbox ``{value: bool, ...}``, text
    ``{value, editable}`` (a text attribute holds one value per product)."""
    types = {
        "select": {"option_id": "int", **MODIFIER_TYPES_BY_KEY},
        "checkbox": {"value": "bool", **MODIFIER_TYPES_BY_KEY},
        "text": {"value": "string", "editable": "bool"},
    }[kind]
    check_types(body, types, frozenset())
    violations = Violations()
    if kind == "select" and int(body.get("option_id", 0)) <= 0:
        violations.add("option_id", "This value should be positive.")
    _check_modifiers(body, violations)
    violations.raise_if_any()
    with editing(sb) as data:
        if not _product_exists(sb, product_id):
            raise bad_request(f"Product with ID {product_id} not found")
        _attribute_for_values(sb, data, kind, attribute_id)
        existing = _values_of(data, product_id, attribute_id)
        row: dict[str, Any] = {
            "product_id": product_id,
            "attribute_id": attribute_id,
            "type": KINDS[kind],
        }
        if kind == "select":
            option = data["options"].get(str(body["option_id"]))
            if option is None:
                raise bad_request(f"Attribute option with ID {body['option_id']} not found")
            if any(v["option_id"] == option["id"] for v in existing):
                raise bad_request("Cannot create attribute value. Value already exists")
            row["option_id"] = option["id"]
        elif kind == "checkbox":
            if any(bool(v["value"]) == bool(body.get("value")) for v in existing):
                raise bad_request("Cannot create attribute value. Value already exists")
            row["value"] = bool(body.get("value", False))
        else:
            if existing:
                raise bad_request("Cannot create attribute value. Value already exists")
            row["value"] = body.get("value", "")
            row["editable"] = bool(body.get("editable", False))
        if kind != "text":
            row.update({k: body[k] for k in MODIFIER_TYPES_BY_KEY if k in body})
        row["id"] = _next(sb, "value")
        data["values"][str(row["id"])] = row
    return value_json(data, row)


def update_value(
    sb: Sandbox, kind: str, product_id: int, attribute_id: int, value_id: int | None, body: dict
) -> dict[str, Any]:
    """``PUT`` of one value (text: the product's only value, addressed without an id)."""
    with editing(sb) as data:
        if value_id is None:
            rows = _values_of(data, product_id, attribute_id)
            if not rows or rows[0]["type"] != KINDS[kind]:
                raise not_found()
            row = rows[0]
        else:
            get_value(sb, kind, product_id, attribute_id, value_id)
            row = data["values"][str(value_id)]
        if kind == "text":
            check_types(body, {"value": "string", "editable": "bool"}, frozenset())
            row.update({k: body[k] for k in ("value", "editable") if k in body})
        else:
            check_types(body, MODIFIER_TYPES_BY_KEY, frozenset())
            violations = Violations()
            _check_modifiers(body, violations)
            violations.raise_if_any()
            row.update({k: body[k] for k in MODIFIER_TYPES_BY_KEY if k in body})
    return value_json(data, row)


def text_value(sb: Sandbox, product_id: int, attribute_id: int) -> dict[str, Any]:
    data = load(sb)
    rows = [v for v in _values_of(data, product_id, attribute_id) if v["type"] == "T"]
    if not rows:
        raise not_found()
    return value_json(data, rows[0])


def delete_value(
    sb: Sandbox, kind: str, product_id: int, attribute_id: int, value_id: int | None
) -> None:
    with editing(sb) as data:
        if value_id is None:
            rows = [v for v in _values_of(data, product_id, attribute_id) if v["type"] == "T"]
            if not rows:
                raise not_found()
            value_id = rows[0]["id"]
        get_value(sb, kind, product_id, attribute_id, value_id)
        del data["values"][str(value_id)]


# -- seed --------------------------------------------------------------------------------------------


def find_or_create_global(sb: Sandbox, kind: str, name: str) -> dict[str, Any]:
    for row in load(sb)["attributes"].values():
        if row["type"] == KINDS[kind] and row.get("product_id") is None and row["name"] == name:
            return attribute_json(row)
    return create_attribute(sb, kind, {"name": name})


def seed_product(sb: Sandbox, product_id: int, spec: dict[str, Any]) -> dict[tuple[str, str], int]:
    """Values for a seeded product: ``spec`` maps ``"global select"``, ``"product select"``,
    ``"global checkbox"`` and ``"global text"`` to ``{name: values}``. Returns the select and
    checkbox value ids by ``(attribute name, value)``, for its variants."""
    ids: dict[tuple[str, str], int] = {}
    for key, attributes in spec.items():
        scope, kind = key.split()
        for name, values in attributes.items():
            if scope == "global":
                attribute = find_or_create_global(sb, kind, name)
            else:
                attribute = create_attribute(sb, kind, {"name": name}, product_id)
            if kind == "text":
                create_value(sb, kind, product_id, attribute["id"], {"value": values})
                continue
            options = (
                {o["value"]: o["id"] for o in list_options(sb, attribute["id"])}
                if (kind == "select" and scope == "global")
                else {}
            )
            for position, value in enumerate(values):
                if kind == "checkbox":
                    body: dict[str, Any] = {"value": bool(value)}
                else:
                    if value not in options:
                        owner = None if scope == "global" else product_id
                        option = create_option(
                            sb, attribute["id"], {"value": value, "position": position}, owner
                        )
                        options[value] = option["id"]
                    body = {"option_id": options[value], "position": position}
                created = create_value(sb, kind, product_id, attribute["id"], body)
                ids[(name, str(value))] = int(created["id"])
    return ids
