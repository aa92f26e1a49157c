"""Error answers in the shapes Acumatica's ASP.NET Web API stack produces."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Response, jsonify

PX_EXCEPTION = "PX.Data.PXException"
NO_ENTITY = "PX.Api.ContractBased.NoEntitySatisfiesTheConditionException"
NO_ENTITY_TEXT = "No entity satisfies the condition."


def http_error(
    status: int,
    exception_message: str,
    exception_type: str = PX_EXCEPTION,
    *,
    message: str = "An error has occurred.",
) -> Response:
    response = jsonify(
        {
            "message": message,
            "exceptionMessage": exception_message,
            "exceptionType": exception_type,
            "stackTrace": f"   at {exception_type.rsplit('.', 1)[0]}.Handler.Process()",
        }
    )
    response.status_code = status
    return response


def not_logged_in() -> Response:
    """401 with a fresh ASP.NET_SessionId cookie, as recorded from a real instance."""
    response = jsonify({"message": "You are not logged in."})
    response.status_code = 401
    response.set_cookie("ASP.NET_SessionId", secrets.token_hex(12), path="/", httponly=True)
    return response


def invalid_request(text: str) -> Response:
    response = jsonify({"message": "The request is invalid.", "modelState": {"": [text]}})
    response.status_code = 400
    return response


def empty_body() -> Response:
    return invalid_request("The request body should not be empty.")


def not_found_resource(path: str) -> Response:
    response = jsonify(
        {"message": f"No HTTP resource was found that matches the request URI '{path}'."}
    )
    response.status_code = 404
    return response


def json_response(data: Any, status: int = 200) -> Response:
    response = jsonify(data)
    response.status_code = status
    return response


def render_fault(status: int) -> Response:
    """Bodies of injected faults, shaped like the real server's."""
    if status == 429:
        return http_error(
            429, "The request was declined because the API request limit was exceeded."
        )
    if status == 503:
        response = Response("<h1>Service Unavailable</h1>", status=503, mimetype="text/html")
        return response
    return http_error(500, "An unexpected error occurred while processing the request.")
