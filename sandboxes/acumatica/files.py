"""File attachments: ``files:put`` uploads, the legacy ``/{Entity}/{keys}/files/{name}`` form,
downloads by file id, and the ``files`` list of a record (``$expand=files``)."""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, request

from .entities import TOP_LEVEL, top_level
from .entities.model import EntityDef
from .errors import NO_ENTITY, NO_ENTITY_TEXT, http_error, not_found_resource
from .store import Record, Store

COMMENT_HEADER = "PX-CbFileComment"

Finder = Callable[[EntityDef, str], Record | None]


def file_links(store: Store, defn: EntityDef, record: Record, base: str) -> list[dict[str, Any]]:
    keys = ", ".join(str(record.get(k) or "") for k in defn.keys)
    return [
        {
            "id": f["id"],
            "filename": f"{defn.screen} ({keys})\\{f['filename']}",
            "href": f"{base}/files/{f['id']}",
            "comment": f["comment"],
        }
        for f in store.files_of(record["id"])
    ]


def _owner(store: Store, note_id: str) -> bool:
    """Whether a top-level record or one of its detail lines has this id."""
    with store.lock:
        for name in TOP_LEVEL:
            if store.peek(name, note_id) is not None:
                return True
            for record in store.all(name):
                for value in record.values():
                    if isinstance(value, list) and any(
                        isinstance(r, dict) and r.get("id") == note_id for r in value
                    ):
                        return True
    return False


def add_file_routes(bp: Blueprint, store: Store, find: Finder) -> None:
    def attach(note_id: str, filename: str) -> Response:
        comments = request.headers.getlist(COMMENT_HEADER)
        file_id = store.put_file(
            note_id, filename, request.get_data(), ",".join(comments) if comments else None
        )
        response = Response(status=204)
        response.headers["Location"] = f"{g.base}/files/{file_id}"
        return response

    @bp.put("/files/<graph>/<view>/<note_id>/<filename>")
    def put_file(graph: str, view: str, note_id: str, filename: str) -> Response:
        if not _owner(store, note_id):
            return http_error(500, NO_ENTITY_TEXT, NO_ENTITY)
        return attach(note_id, filename)

    @bp.get("/files/<file_id>")
    def get_file(file_id: str) -> Response:
        found = store.get_file(file_id)
        if found is None:
            return not_found_resource(request.url)
        filename, data = found
        mimetype = mimetypes.guess_type(filename)[0] or "application/octet-stream"
        response = Response(data, mimetype=mimetype)
        response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @bp.put("/<name>/<path:keys>/files/<filename>")
    def put_file_legacy(name: str, keys: str, filename: str) -> Response:
        defn = top_level(name)
        if defn is None:
            return not_found_resource(request.url)
        record = find(defn, keys)
        if record is None:
            return http_error(500, NO_ENTITY_TEXT, NO_ENTITY)
        return attach(record["id"], filename)
