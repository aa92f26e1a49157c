"""Reading a request body as one JSON object, with a 4xx reason for everything else."""

from __future__ import annotations

import json
from typing import Any

from flask import request

from sync_workers.webhooks.errors import refuse


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        refuse(400, "body is not UTF-8")
    try:
        body = json.loads(text, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:
        refuse(400, f"body is not valid JSON: {str(exc)[:120]}")
    if not isinstance(body, dict):
        refuse(400, "body must be a JSON object")
    return body


def json_object() -> dict[str, Any]:
    """The request's body as a JSON object (any declared content type; Acumatica sets its own)."""
    return parse_json_object(request.get_data(cache=True))
