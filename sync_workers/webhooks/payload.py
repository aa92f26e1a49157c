"""Reading a request body as one JSON object, with a 4xx reason for everything else.

Strict JSON, so that what is enqueued means one thing to every reader: UTF-8 only, no ``NaN`` or
``Infinity`` and no number too large for a double (``1e999``), no key twice in one object (the
parsers downstream would disagree on which value wins), no unpaired surrogate escapes
(``"\\ud800"`` is no text), and at most ``MAX_DEPTH`` nested arrays and objects (real bodies
nest a few levels; a deeper one would only exhaust the stack of whoever reads it next).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from flask import request

from sync_workers.webhooks.errors import refuse

MAX_DEPTH = 64
_SURROGATE = re.compile("[\ud800-\udfff]")


class _NotStrictJson(ValueError):
    pass


def _no_constants(name: str) -> Any:
    raise _NotStrictJson(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotStrictJson(f"the number {text[:40]} is out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        raise _NotStrictJson("an object has the same key twice")
    return obj


def _check_nesting_and_text(value: Any) -> None:
    """Refuses (400) more than ``MAX_DEPTH`` levels, or a string or key that is not Unicode text."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                refuse(400, f"body is nested more than {MAX_DEPTH} levels deep")
            children = item.values() if isinstance(item, dict) else item
            if isinstance(item, dict) and any(_SURROGATE.search(k) for k in item):
                refuse(400, "body has a key with an unpaired surrogate escape")
            stack.extend((child, depth + 1) for child in children)
        elif isinstance(item, str) and _SURROGATE.search(item):
            refuse(400, "body has a string with an unpaired surrogate escape")


def parse_json_object(raw: bytes) -> dict[str, Any]:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        refuse(400, "body is not UTF-8")
    try:
        body = json.loads(
            text,
            parse_constant=_no_constants,
            parse_float=_finite,
            object_pairs_hook=_unique_keys,
        )
    except RecursionError:
        refuse(400, f"body is nested more than {MAX_DEPTH} levels deep")
    except ValueError as exc:  # JSONDecodeError, ours, and integers of over 4300 digits
        refuse(400, f"body is not valid JSON: {str(exc)[:120]}")
    if not isinstance(body, dict):
        refuse(400, "body must be a JSON object")
    _check_nesting_and_text(body)
    return body


def json_object() -> dict[str, Any]:
    """The request's body as a JSON object (any declared content type; Acumatica sets its own)."""
    return parse_json_object(request.get_data(cache=True))
