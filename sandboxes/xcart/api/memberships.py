"""``/api/memberships``: the store's customer groups (reference data), read side.

Each membership is ``{id, name, enabled}``, as products show theirs; the routes take no
``.{_format}`` suffix (as in core). The emulated store's memberships are fixed
(``reference.MEMBERSHIPS``): profiles and products are validated against the same list, so
creating, renaming or deleting one is not emulated.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from sandboxes.xcart.http import collection_response, item_response, not_found, page_window, route
from sandboxes.xcart.reference import MEMBERSHIPS

bp = Blueprint("xcart_memberships", __name__)


def _iri(data: dict[str, Any]) -> str:
    return f"/api/memberships/{data['id']}"


def membership_json(membership_id: int) -> dict[str, Any]:
    return {"id": membership_id, "name": MEMBERSHIPS[membership_id], "enabled": True}


@route(bp, "/api/memberships", ["GET"])
def list_memberships() -> Response:
    page, size = page_window()
    ids = sorted(MEMBERSHIPS)
    window = ids[(page - 1) * size : page * size]
    return collection_response(
        [membership_json(i) for i in window],
        len(ids),
        page,
        size,
        resource="Membership",
        iri=_iri,
    )


@route(bp, "/api/memberships/<int:membership_id>", ["GET"])
def get_membership(membership_id: int) -> Response:
    if membership_id not in MEMBERSHIPS:
        raise not_found()
    data = membership_json(membership_id)
    return item_response(data, "Membership", _iri(data))
