"""HTTP conventions of X-Cart's API Platform: formats, error bodies, paging, collections."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, Response, g, request

JSON = "application/json"
JSONLD = "application/ld+json"
PROBLEM = "application/problem+json"
DEFAULT_PAGE_SIZE = 30
MAX_PAGE_SIZE = 100
FORMATS = {"json": JSON, "jsonld": JSONLD}


class ApiError(Exception):
    """An error answer; rendered as problem JSON or a ``hydra:Error`` by the app's handler."""

    def __init__(self, status: int, detail: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.headers = headers or {}


def bad_request(detail: str) -> ApiError:
    return ApiError(400, detail)


def not_found() -> ApiError:
    return ApiError(404, "Not Found")


def negotiated_format() -> str:
    """``json`` or ``jsonld``: a ``.{_format}`` suffix wins, then the ``Accept`` header."""
    suffix = g.get("format_suffix")
    if suffix:
        return suffix
    accept = request.accept_mimetypes
    if not accept or not request.headers.get("Accept"):
        return "json"
    best = accept.best_match([JSON, JSONLD])
    if best is None:
        raise ApiError(
            406,
            f'Requested format "{request.headers.get("Accept")}" is not supported. '
            f'Supported MIME types are "{JSON}", "{JSONLD}", "text/html".',
        )
    return "jsonld" if best == JSONLD else "json"


def json_response(data: Any, status: int = 200, mimetype: str | None = None) -> Response:
    if mimetype is None:
        mimetype = JSONLD if negotiated_format() == "jsonld" else JSON
    body = json.dumps(data, ensure_ascii=False)
    return Response(body, status=status, mimetype=mimetype)


def error_response(err: ApiError) -> Response:
    try:
        fmt = negotiated_format()
    except ApiError:
        fmt = "json"
    if fmt == "jsonld":
        body: dict[str, Any] = {
            "@context": "/api/contexts/Error",
            "@type": "hydra:Error",
            "hydra:title": "An error occurred",
            "hydra:description": err.detail,
        }
        mimetype = JSONLD
    else:
        body = {
            "type": "https://tools.ietf.org/html/rfc2616#section-10",
            "title": "An error occurred",
            "detail": err.detail,
        }
        mimetype = PROBLEM
    response = Response(json.dumps(body, ensure_ascii=False), err.status, mimetype=mimetype)
    response.headers.update(err.headers)
    return response


def json_body() -> dict[str, Any]:
    """The request body as a JSON object, or the 400 API Platform gives for anything else."""
    raw = request.get_data(as_text=True)
    if not raw.strip():
        raise bad_request("Syntax error")
    try:
        data = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise bad_request("Syntax error") from exc
    if not isinstance(data, dict):
        raise bad_request("The input data is misformatted.")
    return data


def page_window() -> tuple[int, int]:
    """``(page, items_per_page)`` from the query; ``itemsPerPage`` is silently capped at 100."""
    try:
        page = int(request.args.get("page", "1"))
    except ValueError:
        page = 0
    if page < 1:
        raise bad_request("Page should not be less than 1")
    raw_size = request.args.get("itemsPerPage")
    try:
        size = DEFAULT_PAGE_SIZE if raw_size is None else int(raw_size)
    except ValueError:
        size = 0
    if size < 0:
        raise bad_request("Item per page parameter should not be less than 0")
    return page, min(size, MAX_PAGE_SIZE)


def collection_response(
    members: list[dict[str, Any]],
    total: int,
    page: int,
    size: int,
    *,
    resource: str,
    iri: Callable[[dict[str, Any]], str],
) -> Response:
    """Plain JSON: a bare array. JSON-LD: a ``hydra:Collection`` with totals and a view."""
    if negotiated_format() != "jsonld":
        return json_response(members)
    path = request.path.removesuffix(".jsonld")
    body: dict[str, Any] = {
        "@context": f"/api/contexts/{resource}",
        "@id": path,
        "@type": "hydra:Collection",
        "hydra:member": [ld_item(m, resource, iri(m), context=False) for m in members],
        "hydra:totalItems": total,
    }
    last = max(1, -(-total // size)) if size else 1
    query = {k: v for k, v in request.args.items(multi=True) if k != "page"}

    def page_url(number: int) -> str:
        return f"{path}?{urlencode([*query.items(), ('page', number)])}"

    view: dict[str, Any] = {
        "@id": page_url(page),
        "@type": "hydra:PartialCollectionView",
        "hydra:first": page_url(1),
        "hydra:last": page_url(last),
    }
    if page > 1:
        view["hydra:previous"] = page_url(page - 1)
    if page < last:
        view["hydra:next"] = page_url(page + 1)
    body["hydra:view"] = view
    return json_response(body)


def ld_item(
    data: dict[str, Any], resource: str, iri: str, *, context: bool = True
) -> dict[str, Any]:
    head: dict[str, Any] = {}
    if context:
        head["@context"] = f"/api/contexts/{resource}"
    head.update({"@id": iri, "@type": resource})
    return {**head, **data}


def item_response(data: dict[str, Any], resource: str, iri: str, status: int = 200) -> Response:
    if negotiated_format() == "jsonld":
        data = ld_item(data, resource, iri)
    return json_response(data, status)


def route(
    bp: Blueprint, rule: str, methods: list[str], *, suffix: bool = False
) -> Callable[[Callable[..., Response]], Callable[..., Response]]:
    """Register a view; with ``suffix`` the route also answers ``<rule>.json`` and ``.jsonld``."""

    def decorator(view: Callable[..., Response]) -> Callable[..., Response]:
        bp.add_url_rule(rule, view_func=view, methods=methods, provide_automatic_options=False)
        if suffix:

            def suffixed(_format: str, **kwargs: Any) -> Response:
                g.format_suffix = _format
                return view(**kwargs)

            bp.add_url_rule(
                f"{rule}.<any(json, jsonld):_format>",
                endpoint=f"{view.__name__}_suffixed",
                view_func=suffixed,
                methods=methods,
                provide_automatic_options=False,
            )
        return view

    return decorator
