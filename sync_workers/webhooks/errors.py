"""Every refusal is a JSON answer with a status and a reason, never a bare 500."""

from __future__ import annotations

from typing import Any, NoReturn

from flask import Response, jsonify
from werkzeug.exceptions import HTTPException


class Refused(HTTPException):
    """A request the receiver will not act on; ``reason`` tells the sender why."""

    def __init__(self, status: int, reason: str, **details: Any) -> None:
        super().__init__(description=reason)
        self.code = status
        self.reason = reason
        self.details = details


def refuse(status: int, reason: str, **details: Any) -> NoReturn:
    raise Refused(status, reason, **details)


def json_error(exc: HTTPException) -> Response:
    """The JSON body for any HTTP error, ours or Werkzeug's (404, 405, 413...)."""
    reason = getattr(exc, "reason", None) or exc.description or exc.name
    body: dict[str, Any] = {"error": reason, "status": exc.code}
    body.update(getattr(exc, "details", {}) or {})
    response = jsonify(body)
    response.status_code = exc.code or 400
    return response
