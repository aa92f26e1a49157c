"""Keep secrets out of reprs, logs, errors and CLI output."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "********"

SECRET_KEY_PATTERN = re.compile(
    r"pass(word|wd)?|secret|token|api[-_]?key|auth|cookie|session|dsn|credential", re.IGNORECASE
)


class Secret:
    """A value that never shows itself by accident: ``repr``/``str`` print a mask."""

    __slots__ = ("_value",)

    def __init__(self, value: Any) -> None:
        self._value = value

    def reveal(self) -> Any:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)


def reveal(value: Any) -> Any:
    """The plain value of a :class:`Secret`, or the value itself."""
    return value.reveal() if isinstance(value, Secret) else value


def redact_url(url: str) -> str:
    """``redis://:pw@host/0`` → ``redis://:********@host/0``; URLs without a password unchanged."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return MASK
    if not parts.password:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{user}:{MASK}@{host}"))


def scrub(value: Any, *, extra_keys: re.Pattern[str] | None = None) -> Any:
    """A copy of a JSON-like structure with values under secret-looking keys masked."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            secretish = SECRET_KEY_PATTERN.search(str(key)) or (
                extra_keys is not None and extra_keys.search(str(key))
            )
            out[key] = (
                MASK if secretish and item not in (None, "") else scrub(item, extra_keys=extra_keys)
            )
        return out
    if isinstance(value, list | tuple):
        return [scrub(item, extra_keys=extra_keys) for item in value]
    if isinstance(value, Secret):
        return MASK
    return value
