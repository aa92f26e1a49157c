"""``/api/attributes_{select,checkbox,text}`` (global), ``/api/products/{id}/attributes_*``
(product-specific), options of select attributes and a product's values of any attribute.

Attribute and option collections are paged like every collection; value collections are not
(core declares ``pagination_enabled: false``). Every route also answers ``.json``/``.jsonld``.
"""

from __future__ import annotations

from flask import Blueprint, Response

from sandboxes.xcart import attributes as attrs
from sandboxes.xcart.context import current
from sandboxes.xcart.http import collection_response, item_response, json_body, page_window, route

bp = Blueprint("xcart_attributes", __name__)
KIND = "<any(select, checkbox, text):kind>"
RESOURCE = {"select": "AttributeSelect", "checkbox": "AttributeCheckbox", "text": "AttributeText"}


def _paged(members: list[dict], resource: str, base: str) -> Response:
    page, size = page_window()
    return collection_response(
        members[(page - 1) * size : page * size],
        len(members),
        page,
        size,
        resource=resource,
        iri=lambda d: f"{base}/{d['id']}",
    )


# -- global attributes ------------------------------------------------------------------------------


@route(bp, f"/api/attributes_{KIND}", ["GET"], suffix=True)
def list_global(kind: str) -> Response:
    members = attrs.list_attributes(current(), kind, None)
    return _paged(members, RESOURCE[kind], f"/api/attributes_{kind}")


@route(bp, f"/api/attributes_{KIND}", ["POST"], suffix=True)
def create_global(kind: str) -> Response:
    data = attrs.create_attribute(current(), kind, json_body())
    return item_response(data, RESOURCE[kind], f"/api/attributes_{kind}/{data['id']}", 201)


@route(bp, f"/api/attributes_{KIND}/<int:attribute_id>", ["GET"], suffix=True)
def get_global(kind: str, attribute_id: int) -> Response:
    data = attrs.attribute_json(attrs.get_attribute(current(), kind, attribute_id))
    return item_response(data, RESOURCE[kind], f"/api/attributes_{kind}/{attribute_id}")


@route(bp, f"/api/attributes_{KIND}/<int:attribute_id>", ["PUT"], suffix=True)
def update_global(kind: str, attribute_id: int) -> Response:
    data = attrs.update_attribute(current(), kind, attribute_id, json_body())
    return item_response(data, RESOURCE[kind], f"/api/attributes_{kind}/{attribute_id}")


@route(bp, f"/api/attributes_{KIND}/<int:attribute_id>", ["DELETE"], suffix=True)
def delete_global(kind: str, attribute_id: int) -> Response:
    attrs.delete_attribute(current(), kind, attribute_id)
    return Response(status=204)


@route(bp, "/api/attributes_select/<int:attribute_id>/options", ["GET"], suffix=True)
def list_global_options(attribute_id: int) -> Response:
    members = attrs.list_options(current(), attribute_id)
    return _paged(members, "Attribute Option", f"/api/attributes_select/{attribute_id}/options")


@route(bp, "/api/attributes_select/<int:attribute_id>/options", ["POST"], suffix=True)
def create_global_option(attribute_id: int) -> Response:
    data = attrs.create_option(current(), attribute_id, json_body())
    iri = f"/api/attributes_select/{attribute_id}/options/{data['id']}"
    return item_response(data, "Attribute Option", iri, 201)


# -- product-specific attributes ----------------------------------------------------------------


@route(bp, f"/api/products/<int:product_id>/attributes_{KIND}", ["GET"], suffix=True)
def list_product_attributes(product_id: int, kind: str) -> Response:
    members = attrs.list_attributes(current(), kind, product_id)
    return _paged(members, RESOURCE[kind], f"/api/products/{product_id}/attributes_{kind}")


@route(bp, f"/api/products/<int:product_id>/attributes_{KIND}", ["POST"], suffix=True)
def create_product_attribute(product_id: int, kind: str) -> Response:
    data = attrs.create_attribute(current(), kind, json_body(), product_id)
    iri = f"/api/products/{product_id}/attributes_{kind}/{data['id']}"
    return item_response(data, RESOURCE[kind], iri, 201)


@route(
    bp,
    "/api/products/<int:product_id>/attributes_select/<int:attribute_id>/options",
    ["GET"],
    suffix=True,
)
def list_product_options(product_id: int, attribute_id: int) -> Response:
    members = attrs.list_options(current(), attribute_id, product_id)
    base = f"/api/products/{product_id}/attributes_select/{attribute_id}/options"
    return _paged(members, "Attribute Option", base)


@route(
    bp,
    "/api/products/<int:product_id>/attributes_select/<int:attribute_id>/options",
    ["POST"],
    suffix=True,
)
def create_product_option(product_id: int, attribute_id: int) -> Response:
    data = attrs.create_option(current(), attribute_id, json_body(), product_id)
    iri = f"/api/products/{product_id}/attributes_select/{attribute_id}/options/{data['id']}"
    return item_response(data, "Attribute Option", iri, 201)


# -- a product's values ------------------------------------------------------------------------------

MULTI = "<any(select, checkbox):kind>"
VALUES = "/api/products/<int:product_id>/attributes_{kind}/<int:attribute_id>/values"


def _value_iri(product_id: int, kind: str, attribute_id: int, value_id: int | None) -> str:
    base = f"/api/products/{product_id}/attributes_{kind}/{attribute_id}/values"
    return base if value_id is None else f"{base}/{value_id}"


@route(bp, VALUES.format(kind=MULTI), ["GET"], suffix=True)
def list_values(product_id: int, kind: str, attribute_id: int) -> Response:
    """Not paged: a bare array (or a ``hydra:Collection`` of all values)."""
    members = attrs.list_values(current(), kind, product_id, attribute_id)
    return collection_response(
        members,
        len(members),
        1,
        max(1, len(members)),
        resource="AttributeValue",
        iri=lambda d: _value_iri(product_id, kind, attribute_id, d["id"]),
    )


@route(bp, VALUES.format(kind=MULTI), ["POST"], suffix=True)
def create_value(product_id: int, kind: str, attribute_id: int) -> Response:
    data = attrs.create_value(current(), kind, product_id, attribute_id, json_body())
    iri = _value_iri(product_id, kind, attribute_id, data["id"])
    return item_response(data, "AttributeValue", iri, 201)


@route(bp, VALUES.format(kind=MULTI) + "/<int:value_id>", ["GET"], suffix=True)
def get_value(product_id: int, kind: str, attribute_id: int, value_id: int) -> Response:
    data = attrs.get_value(current(), kind, product_id, attribute_id, value_id)
    return item_response(
        data, "AttributeValue", _value_iri(product_id, kind, attribute_id, value_id)
    )


@route(bp, VALUES.format(kind=MULTI) + "/<int:value_id>", ["PUT"], suffix=True)
def update_value(product_id: int, kind: str, attribute_id: int, value_id: int) -> Response:
    data = attrs.update_value(current(), kind, product_id, attribute_id, value_id, json_body())
    return item_response(
        data, "AttributeValue", _value_iri(product_id, kind, attribute_id, value_id)
    )


@route(bp, VALUES.format(kind=MULTI) + "/<int:value_id>", ["DELETE"], suffix=True)
def delete_value(product_id: int, kind: str, attribute_id: int, value_id: int) -> Response:
    attrs.delete_value(current(), kind, product_id, attribute_id, value_id)
    return Response(status=204)


@route(bp, VALUES.format(kind="text"), ["GET"], suffix=True)
def get_text_value(product_id: int, attribute_id: int) -> Response:
    data = attrs.text_value(current(), product_id, attribute_id)
    return item_response(data, "AttributeValue", _value_iri(product_id, "text", attribute_id, None))


@route(bp, VALUES.format(kind="text"), ["POST"], suffix=True)
def create_text_value(product_id: int, attribute_id: int) -> Response:
    data = attrs.create_value(current(), "text", product_id, attribute_id, json_body())
    iri = _value_iri(product_id, "text", attribute_id, None)
    return item_response(data, "AttributeValue", iri, 201)


@route(bp, VALUES.format(kind="text"), ["PUT"], suffix=True)
def update_text_value(product_id: int, attribute_id: int) -> Response:
    data = attrs.update_value(current(), "text", product_id, attribute_id, None, json_body())
    iri = _value_iri(product_id, "text", attribute_id, None)
    return item_response(data, "AttributeValue", iri)


@route(bp, VALUES.format(kind="text"), ["DELETE"], suffix=True)
def delete_text_value(product_id: int, attribute_id: int) -> Response:
    attrs.delete_value(current(), "text", product_id, attribute_id, None)
    return Response(status=204)
