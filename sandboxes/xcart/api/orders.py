"""``/api/orders``: read-only orders, their statuses, transactions, details and history."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, Response, request

from sandboxes.xcart import orders
from sandboxes.xcart.context import current
from sandboxes.xcart.http import (
    ApiError,
    collection_response,
    item_response,
    json_body,
    page_window,
    route,
)
from sandboxes.xcart.serializers import (
    history_json,
    tracking_json,
    transaction_json,
)

bp = Blueprint("xcart_orders", __name__)


def _order_iri(data: dict) -> str:
    return f"/api/orders/{data['id']}"


@route(bp, "/api/orders", ["GET"], suffix=True)
def list_orders() -> Response:
    sb = current()
    page, size = page_window()
    rows, total = orders.list_orders(sb, request.args, page, size)
    return collection_response(
        orders.render(sb, rows), total, page, size, resource="Order", iri=_order_iri
    )


@route(bp, "/api/orders/<int:order_id>", ["GET"], suffix=True)
def get_order(order_id: int) -> Response:
    data = orders.render_one(current(), order_id)
    return item_response(data, "Order", _order_iri(data))


@route(bp, "/api/orders/by_number/<order_number>", ["GET"], suffix=True)
def get_order_by_number(order_number: str) -> Response:
    sb = current()
    rows = sb.store.query("SELECT * FROM orders WHERE order_number = ?", (order_number,))
    if not rows:
        raise ApiError(404, "Not Found")
    data = orders.render(sb, rows)[0]
    return item_response(data, "Order", _order_iri(data))


def _status_view(kind: str) -> Callable[[int], Response]:
    resource = "OrderShippingStatus" if kind == "shipping" else "OrderPaymentStatus"

    def view(order_id: int) -> Response:
        sb = current()
        if request.method == "GET":
            status = orders.status_of(sb, order_id, kind)
        else:
            body = json_body()
            status = orders.set_status(sb, order_id, kind, body.get("code"))
        return item_response(status.to_json(), resource, f"/api/orders/{order_id}/{kind}_status")

    view.__name__ = f"{kind}_status"
    return view


route(bp, "/api/orders/<int:order_id>/shipping_status", ["GET", "PUT"], suffix=True)(
    _status_view("shipping")
)
route(bp, "/api/orders/<int:order_id>/payment_status", ["GET", "PUT"], suffix=True)(
    _status_view("payment")
)


def _existing(order_id: int) -> None:
    if orders.get_order(current(), order_id) is None:
        raise ApiError(404, "Not Found")


@route(bp, "/api/orders/<int:order_id>/payment_transactions", ["GET"], suffix=True)
def payment_transactions(order_id: int) -> Response:
    sb = current()
    _existing(order_id)
    page, size = page_window()
    direction = "DESC" if request.args.get("order[date]", "").lower() == "desc" else "ASC"
    rows = sb.store.query(
        f"SELECT * FROM transactions WHERE order_id = ? ORDER BY json_extract(doc, '$.created') "
        f"{direction}, id {direction}",
        (order_id,),
    )
    members = [transaction_json(r, sb.settings.switches) for r in rows]
    window = members[(page - 1) * size : page * size]
    return collection_response(
        window,
        len(members),
        page,
        size,
        resource="OrderPaymentTransaction",
        iri=lambda m: f"/api/orders/{order_id}/payment_transactions/{m['id']}",
    )


@route(bp, "/api/orders/<int:order_id>/details", ["GET"], suffix=True)
def details(order_id: int) -> Response:
    sb = current()
    row = orders.get_order(sb, order_id)
    if row is None:
        raise ApiError(404, "Not Found")
    page, size = page_window()
    members = row.get("details", [])
    return collection_response(
        members[(page - 1) * size : page * size],
        len(members),
        page,
        size,
        resource="OrderDetail",
        iri=lambda m: f"/api/orders/{order_id}/details/{m['id']}",
    )


@route(bp, "/api/orders/<int:order_id>/history", ["GET"], suffix=True)
def history(order_id: int) -> Response:
    sb = current()
    _existing(order_id)
    page, size = page_window()
    rows = sb.store.query("SELECT * FROM history WHERE order_id = ? ORDER BY id", (order_id,))
    members = [history_json(r) for r in rows]
    return collection_response(
        members[(page - 1) * size : page * size],
        len(members),
        page,
        size,
        resource="OrderHistoryEvent",
        iri=lambda m: f"/api/orders/{order_id}/history/{m['id']}",
    )


@bp.post("/api/orders/<int:order_id>/tracking_numbers")
def add_tracking_number(order_id: int) -> Response:
    """EXTENSION, not X-Cart core: what a store-side module adds (off unless switched on)."""
    sb = current()
    if not sb.settings.switches.tracking_extension:
        raise ApiError(404, f'No route found for "POST {request.path}"')
    created = orders.add_tracking(sb, order_id, json_body().get("value"))
    data = tracking_json(created)
    return item_response(
        data,
        "OrderTrackingNumber",
        f"/api/orders/{order_id}/tracking_numbers/{data['id']}",
        status=201,
    )
