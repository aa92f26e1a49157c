"""``/api/products`` and variants: no filters (as in core), three sorts, partial PUT."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from sandboxes.xcart import products
from sandboxes.xcart.context import current
from sandboxes.xcart.http import (
    collection_response,
    item_response,
    json_body,
    page_window,
    route,
)
from sandboxes.xcart.serializers import variant_json

bp = Blueprint("xcart_products", __name__)
SORTS = {"order[name]": "name", "order[price]": "price", "order[arrivalDate]": "arrival"}


def _iri(data: dict) -> str:
    return f"/api/products/{data['id']}"


@route(bp, "/api/products", ["GET"])
def list_products() -> Response:
    sb = current()
    page, size = page_window()
    order_by = []
    for key in request.args:
        direction = request.args.get(key, "").lower()
        if key in SORTS and direction in ("asc", "desc"):
            order_by.append(f"{SORTS[key]} {direction.upper()}")
    order_by.append("id ASC")
    total = int(sb.store.scalar("SELECT COUNT(*) FROM products"))
    rows = sb.store.query(
        f"SELECT * FROM products ORDER BY {', '.join(order_by)} LIMIT ? OFFSET ?",
        (size, (page - 1) * size),
    )
    return collection_response(
        [products.render(sb, r) for r in rows], total, page, size, resource="Product", iri=_iri
    )


@route(bp, "/api/products", ["POST"])
def create_product() -> Response:
    data = products.create_product(current(), json_body())
    return item_response(data, "Product", _iri(data), status=201)


@route(bp, "/api/products/<int:product_id>", ["GET"])
def get_product(product_id: int) -> Response:
    sb = current()
    data = products.render(sb, products.get_product(sb, product_id))
    return item_response(data, "Product", _iri(data))


@route(bp, "/api/products/<int:product_id>", ["PUT"])
def update_product(product_id: int) -> Response:
    data = products.update_product(current(), product_id, json_body())
    return item_response(data, "Product", _iri(data))


@route(bp, "/api/products/<int:product_id>", ["DELETE"])
def delete_product(product_id: int) -> Response:
    products.delete_product(current(), product_id)
    return Response(status=204)


def _variant_iri(product_id: int) -> Callable[[dict[str, Any]], str]:
    return lambda data: f"/api/products/{product_id}/variants/{data['id']}"


@route(bp, "/api/products/<int:product_id>/variants", ["GET"])
def list_variants(product_id: int) -> Response:
    page, size = page_window()
    members = [variant_json(r) for r in products.list_variants(current(), product_id)]
    return collection_response(
        members[(page - 1) * size : page * size],
        len(members),
        page,
        size,
        resource="ProductVariant",
        iri=_variant_iri(product_id),
    )


@route(bp, "/api/products/<int:product_id>/variants", ["POST"])
def create_variant(product_id: int) -> Response:
    data = products.create_variant(current(), product_id, json_body())
    return item_response(data, "ProductVariant", _variant_iri(product_id)(data), status=201)


@route(bp, "/api/products/<int:product_id>/variants/<int:variant_id>", ["GET"])
def get_variant(product_id: int, variant_id: int) -> Response:
    data = variant_json(products.get_variant(current(), product_id, variant_id))
    return item_response(data, "ProductVariant", _variant_iri(product_id)(data))


@route(bp, "/api/products/<int:product_id>/variants/<int:variant_id>", ["PUT"])
def update_variant(product_id: int, variant_id: int) -> Response:
    data = products.update_variant(current(), product_id, variant_id, json_body())
    return item_response(data, "ProductVariant", _variant_iri(product_id)(data))


@route(bp, "/api/products/<int:product_id>/variants/<int:variant_id>", ["DELETE"])
def delete_variant(product_id: int, variant_id: int) -> Response:
    products.delete_variant(current(), product_id, variant_id)
    return Response(status=204)
