"""``/api/profiles`` and addresses: customers (order snapshot profiles hidden)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, request

from sandboxes.xcart import profiles
from sandboxes.xcart.context import current
from sandboxes.xcart.dates import parse_filter_date
from sandboxes.xcart.http import (
    collection_response,
    item_response,
    json_body,
    page_window,
    route,
)
from sandboxes.xcart.orders import DATE_OPERATORS
from sandboxes.xcart.serializers import address_json, profile_json

bp = Blueprint("xcart_profiles", __name__)
_DATE_PARAM = re.compile(r"^(added|first_login)\[(after|before|strictly_after|strictly_before)\]$")


def _iri(data: dict) -> str:
    return f"/api/profiles/{data['id']}"


def _like(value: str) -> str:
    return "%" + value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


@route(bp, "/api/profiles", ["GET"], suffix=True)
def list_profiles() -> Response:
    sb = current()
    page, size = page_window()
    where: list[str] = ["snapshot = 0"]
    params: list[Any] = []
    for key in request.args:
        match = _DATE_PARAM.match(key)
        if match:
            value = parse_filter_date(request.args.get(key, ""))
            if value is not None:
                where.append(f"{match.group(1)} {DATE_OPERATORS[match.group(2)]} ?")
                params.append(value)
    for key in ("login", "searchFakeField"):
        if request.args.get(key):
            where.append("login LIKE ? ESCAPE '\\'")
            params.append(_like(request.args[key]))
    clause = " AND ".join(where)
    total = int(sb.store.scalar(f"SELECT COUNT(*) FROM profiles WHERE {clause}", params))
    rows = sb.store.query(
        f"SELECT * FROM profiles WHERE {clause} ORDER BY id LIMIT ? OFFSET ?",
        [*params, size, (page - 1) * size],
    )
    return collection_response(
        [profile_json(r) for r in rows], total, page, size, resource="Profile", iri=_iri
    )


@route(bp, "/api/profiles", ["POST"], suffix=True)
def create_profile() -> Response:
    data = profiles.create_profile(current(), json_body())
    return item_response(data, "Profile", _iri(data), status=201)


@route(bp, "/api/profiles/<int:profile_id>", ["GET"], suffix=True)
def get_profile(profile_id: int) -> Response:
    data = profile_json(profiles.get_profile(current(), profile_id))
    return item_response(data, "Profile", _iri(data))


@route(bp, "/api/profiles/<int:profile_id>", ["PUT"], suffix=True)
def update_profile(profile_id: int) -> Response:
    data = profiles.update_profile(current(), profile_id, json_body())
    return item_response(data, "Profile", _iri(data))


@route(bp, "/api/profiles/<int:profile_id>", ["DELETE"], suffix=True)
def delete_profile(profile_id: int) -> Response:
    profiles.delete_profile(current(), profile_id)
    return Response(status=204)


def _address_iri(profile_id: int) -> Callable[[dict[str, Any]], str]:
    return lambda data: f"/api/profiles/{profile_id}/addresses/{data['id']}"


@route(bp, "/api/profiles/<int:profile_id>/addresses", ["GET"], suffix=True)
def list_addresses(profile_id: int) -> Response:
    page, size = page_window()
    members = profiles.list_addresses(current(), profile_id)
    return collection_response(
        members[(page - 1) * size : page * size],
        len(members),
        page,
        size,
        resource="ProfileAddress",
        iri=_address_iri(profile_id),
    )


@route(bp, "/api/profiles/<int:profile_id>/addresses", ["POST"], suffix=True)
def add_address(profile_id: int) -> Response:
    data = profiles.add_address(current(), profile_id, json_body())
    return item_response(data, "ProfileAddress", _address_iri(profile_id)(data), status=201)


@route(bp, "/api/profiles/<int:profile_id>/addresses/<int:address_id>", ["GET"], suffix=True)
def get_address(profile_id: int, address_id: int) -> Response:
    data = address_json(profiles.get_address(current(), profile_id, address_id))
    return item_response(data, "ProfileAddress", _address_iri(profile_id)(data))


@route(bp, "/api/profiles/<int:profile_id>/addresses/<int:address_id>", ["PUT"], suffix=True)
def update_address(profile_id: int, address_id: int) -> Response:
    data = profiles.update_address(current(), profile_id, address_id, json_body())
    return item_response(data, "ProfileAddress", _address_iri(profile_id)(data))


@route(bp, "/api/profiles/<int:profile_id>/addresses/<int:address_id>", ["DELETE"], suffix=True)
def delete_address(profile_id: int, address_id: int) -> Response:
    profiles.delete_address(current(), profile_id, address_id)
    return Response(status=204)
