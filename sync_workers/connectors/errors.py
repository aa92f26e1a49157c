"""The one error table: HTTP answers and ``requests`` exceptions -> the engine's two error classes.

Rules are read top to bottom and the first match wins, like Airbyte's default error mapping.
Each rule names the system it applies to (``None`` = both), a status (exact or an inclusive
range), an exception type, and/or a pattern searched in the response body. Acumatica's and
X-Cart's quirks (500 for a missing record or wrong password, 400 for a missing order, seat
limits in any status) are rows in the same table.

``details`` never carries request headers or bodies (they hold tokens, cookies, passwords).
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests

from sync_workers.errors import PermanentError, SyncError, TransientError

ACUMATICA = "acumatica"
XCART = "xcart"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_BODY_LIMIT = 2000


class RateLimited(TransientError):
    """429 or a declined request: wait ``retry_after`` (when known) before trying again."""


class LoginLimitReached(TransientError):
    """Every licence seat is taken ("API Login Limit"); never retry the login at once."""

    fleet_wide = True


class SessionExpired(TransientError):
    """401 "You are not logged in.": the client re-logs in once and retries."""


class AuthError(PermanentError):
    """Bad credentials or a token the remote system refuses."""


class Forbidden(PermanentError):
    """403: the credentials lack rights for this call (for example X-Cart's read-only token)."""


class NotFound(PermanentError):
    """The record does not exist (404, Acumatica's "No entity satisfies the condition.")."""


class ValidationFailed(PermanentError):
    """400 or 422: the remote system refused the data; ``field_errors`` says where."""


class PreconditionFailed(PermanentError):
    """412: an insert-only PUT found the record, or an update-only PUT did not."""


class NotSupported(PermanentError):
    """The remote system (as configured) cannot do this at all."""


@dataclass(frozen=True)
class Rule:
    outcome: type[SyncError]
    reason: str
    system: str | None = None
    status: int | tuple[int, int] | None = None
    exception: type[BaseException] | tuple[type[BaseException], ...] | None = None
    body: re.Pattern[str] | None = None
    maybe_applied: bool = True
    """False when the request surely was not processed (so a write can be retried blindly)."""

    def matches_status(self, system: str, status: int, body: str) -> bool:
        if self.exception is not None or (self.system and self.system != system):
            return False
        if isinstance(self.status, int) and status != self.status:
            return False
        if isinstance(self.status, tuple) and not self.status[0] <= status <= self.status[1]:
            return False
        return self.body is None or bool(self.body.search(body))

    def matches_exception(self, system: str, exc: BaseException) -> bool:
        if self.exception is None or (self.system and self.system != system):
            return False
        return isinstance(exc, self.exception)


def _p(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_LOGIN_LIMIT = _p(r"API Login Limit|maximum number of .{0,40}(users|logins|sessions)")
_ACU_TRANSIENT_500 = _p(
    r"deadlock|timeout expired|timed out|could not be completed|Thread was being aborted"
    r"|PXLockViolation|Another process has (updated|added)|server is busy|connection"
    r"|transport-level error|temporarily unavailable|try again later"
)

RULES: tuple[Rule, ...] = (
    # Exceptions: nothing came back.
    Rule(TransientError, "connect timeout", exception=requests.ConnectTimeout, maybe_applied=False),
    Rule(TransientError, "read timeout", exception=requests.ReadTimeout),
    Rule(TransientError, "connection failed", exception=requests.ConnectionError),
    Rule(TransientError, "broken response", exception=requests.exceptions.ChunkedEncodingError),
    Rule(TransientError, "unreadable response", exception=requests.exceptions.ContentDecodingError),
    Rule(
        PermanentError,
        "invalid request",
        exception=(requests.exceptions.InvalidURL, requests.exceptions.MissingSchema),
        maybe_applied=False,
    ),
    Rule(TransientError, "request failed", exception=requests.RequestException),
    # Seat limit first: Acumatica reports it under several statuses.
    Rule(LoginLimitReached, "API Login Limit", ACUMATICA, body=_LOGIN_LIMIT, maybe_applied=False),
    Rule(RateLimited, "too many requests", status=429, maybe_applied=False),
    Rule(AuthError, "invalid X-Cart token", XCART, status=401, maybe_applied=False),
    Rule(
        AuthError,
        "invalid OAuth grant",
        ACUMATICA,
        status=(400, 401),
        body=_p(r'"invalid_(grant|client)"'),
    ),
    Rule(SessionExpired, "not logged in", ACUMATICA, status=401, maybe_applied=False),
    Rule(AuthError, "invalid credentials", ACUMATICA, status=500, body=_p(r"Invalid credentials")),
    Rule(
        NotFound,
        "no such record",
        ACUMATICA,
        status=500,
        body=_p(r"No entity satisfies the condition"),
    ),
    Rule(
        PermanentError,
        "query cannot be optimised",
        ACUMATICA,
        status=500,
        body=_p(r"Optimization cannot be performed"),
    ),
    Rule(
        PermanentError,
        "setup missing",
        ACUMATICA,
        status=500,
        body=_p(r"PXSetupNotEnteredException"),
    ),
    Rule(TransientError, "transient server error", ACUMATICA, status=500, body=_ACU_TRANSIENT_500),
    Rule(
        ValidationFailed,
        "unknown reference",
        XCART,
        status=400,
        body=_p(r"(State|Membership|Role) with ID \d+ not found"),
    ),
    Rule(NotFound, "order not found", XCART, status=400, body=_p(r"Order with ID \d+ not found")),
    Rule(ValidationFailed, "rejected data", status=422),
    Rule(ValidationFailed, "bad request", status=400),
    Rule(AuthError, "unauthorised", status=401, maybe_applied=False),
    Rule(Forbidden, "forbidden", status=403, maybe_applied=False),
    Rule(NotFound, "not found", status=404, maybe_applied=False),
    Rule(NotSupported, "method not allowed", status=405, maybe_applied=False),
    Rule(PermanentError, "not acceptable", status=406, maybe_applied=False),
    Rule(TransientError, "request timeout", status=408),
    Rule(TransientError, "conflict", status=409),
    Rule(PreconditionFailed, "precondition failed", status=412),
    Rule(PermanentError, "payload too large", status=413, maybe_applied=False),
    Rule(TransientError, "service unavailable", status=503, maybe_applied=False),
    Rule(TransientError, "bad gateway or gateway timeout", status=(502, 504)),
    # Unknown 500s are retried: the base task bounds the attempts, then dead-letters.
    Rule(TransientError, "server error", status=(500, 599)),
    Rule(PermanentError, "unexpected status", status=(300, 499)),
)


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Parse a ``Retry-After`` header (seconds or an HTTP date); ``None`` when absent or bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _message_from(body: Any, fallback: str) -> str:
    if isinstance(body, dict):
        for key in (
            "exceptionMessage",
            "detail",
            "hydra:description",
            "error_description",
            "message",
            "error",
        ):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return fallback


def _details(system: str, method: str, url: str, **extra: Any) -> dict[str, Any]:
    details: dict[str, Any] = {"system": system, "method": method, "url": url.split("?")[0]}
    details.update(extra)
    return details


def acumatica_field_errors(body: Any, _text: str = "") -> dict[str, str]:
    """Per-field messages of a 422 entity echo: ``{"Details[1].InventoryID": "...", "": "..."}``.

    The top-level ``error`` is kept under the empty path.
    """
    found: dict[str, str] = {}

    def walk(node: Any, path: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{path}[{index}]")
            return
        if not isinstance(node, dict):
            return
        error = node.get("error")
        if isinstance(error, str) and error:
            found[path] = error
        for key, value in node.items():
            if key in ("error", "_links", "custom", "note"):
                continue
            walk(value, f"{path}.{key}" if path else key)

    walk(body, "")
    return found


_XC_FIELD = (
    (re.compile(r'Field "(?P<field>[\w.]+)"'), None),
    (re.compile(r"^SKU .* is not unique", re.IGNORECASE), "sku"),
    (re.compile(r"^(?P<field>State|Membership|Role) with ID", re.IGNORECASE), None),
    (re.compile(r"^(?P<field>[\w.\[\]]+): "), None),
)


def xcart_field_errors(body: Any, text: str = "") -> dict[str, str]:
    """Per-field messages from an X-Cart 400 detail (a Symfony violation list as text)."""
    detail = _message_from(body, text)
    detail = re.sub(r"^Input validations failed:\s*", "", detail)
    found: dict[str, str] = {}
    for line in filter(None, (part.strip() for part in detail.splitlines())):
        for pattern, fixed in _XC_FIELD:
            match = pattern.search(line)
            if match:
                field = fixed or match.group("field").lower()
                field = {"state": "state", "membership": "membership_id", "role": "role_ids"}.get(
                    field, field
                )
                found[field] = line
                break
    return found


_FIELD_EXTRACTORS: dict[str, Callable[[Any, str], dict[str, str]]] = {
    ACUMATICA: acumatica_field_errors,
    XCART: xcart_field_errors,
}


def classify_response(system: str, response: requests.Response) -> SyncError | None:
    """The error a non-2xx response means (per-field messages included), or ``None``."""
    status = response.status_code
    if 200 <= status < 300:
        return None
    text = response.text or ""
    try:
        parsed: Any = response.json() if text else None
    except ValueError:
        parsed = None
    method = (response.request.method or "GET").upper() if response.request else "GET"
    rule = next(r for r in RULES if r.matches_status(system, status, text))
    message = _message_from(parsed, rule.reason)
    details = _details(
        system,
        method,
        response.url or "",
        status=status,
        reason=rule.reason,
        body=text[:_BODY_LIMIT],
    )
    if (
        method not in _SAFE_METHODS
        and rule.maybe_applied
        and issubclass(rule.outcome, TransientError)
    ):
        details["maybe_applied"] = True
    summary = f"{system} {method} {details['url']} -> {status}: {message}"
    if issubclass(rule.outcome, TransientError):
        retry_after = retry_after_seconds(response.headers.get("Retry-After"))
        return rule.outcome(summary, retry_after=retry_after, details=details)
    extractor = _FIELD_EXTRACTORS.get(system)
    errors = (
        extractor(parsed, text) if extractor and issubclass(rule.outcome, ValidationFailed) else {}
    )
    return rule.outcome(summary, field_errors=errors, details=details)  # type: ignore[call-arg]


def classify_exception(system: str, exc: BaseException, method: str, url: str) -> SyncError:
    """The error a ``requests`` exception means. Never raises the exception itself."""
    method = method.upper()
    rule = next((r for r in RULES if r.matches_exception(system, exc)), None)
    if rule is None:
        rule = Rule(TransientError, "unexpected failure")
    details = _details(system, method, url, reason=rule.reason, exception=type(exc).__name__)
    connect_failed = isinstance(exc, requests.ConnectionError) and _is_connect_failure(exc)
    if (
        method not in _SAFE_METHODS
        and rule.maybe_applied
        and not connect_failed
        and issubclass(rule.outcome, TransientError)
    ):
        details["maybe_applied"] = True
    summary = f"{system} {method} {details['url']}: {rule.reason} ({type(exc).__name__})"
    if issubclass(rule.outcome, TransientError):
        return rule.outcome(summary, details=details)
    return rule.outcome(summary, details=details)


def _is_connect_failure(exc: BaseException) -> bool:
    """True when the TCP connection never opened (so nothing was sent)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    text = repr(exc)
    return "NewConnectionError" in text or "Connection refused" in text
