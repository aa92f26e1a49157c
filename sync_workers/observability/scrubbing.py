"""Remove personal data and credentials from Sentry events before they leave the process.

Sentry's default scrubber knows passwords and tokens but not e-mails, addresses or phone
numbers, and task arguments carry whole orders and customers. So every event is walked: values
under personal or secret-looking keys are replaced, e-mail addresses, phone numbers and bearer
tokens inside any string are masked, and Celery's task arguments are dropped.
"""

from __future__ import annotations

import re
from typing import Any

FILTERED = "[Filtered]"

#: Keys whose values are personal data or credentials (matched anywhere in the key, any case).
PII_KEY = re.compile(
    r"e-?mail|address|street|city|zip|postal|postcode|phone|mobile|fax|"
    r"first_?name|last_?name|full_?name|contact|attention|billing|shipping_?to|"
    r"password|passwd|secret|token|api_?key|auth|cookie|session|dsn|credential|"
    r"card|iban|ip_?address|remote_addr",
    re.IGNORECASE,
)
EMAIL = re.compile(r"[A-Za-z0-9._%+'-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
PHONE = re.compile(
    r"\+\d[\d\s().-]{6,}\d"  # international: +1 555 010 0199
    r"|\(\d{2,4}\)\s?\d{3}[\s.-]?\d{3,4}"  # (555) 010-0199
    r"|\b\d{3}[\s.-]\d{3}[\s.-]\d{4}\b"  # 555-010-0199
)
CREDENTIAL = re.compile(
    r"(?i)\b(bearer|basic|token|api[_-]?key|secret|password|cookie|set-cookie|"
    r"x-auth-token|\.aspxauth|asp\.net_sessionid)([\"']?\s*[:=]\s*[\"']?|\s+)([^\s\"',;&]+)"
)
_STREET_WORDS = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|way|court|ct|place|pl|"
    r"square|sq|highway|hwy|parkway|pkwy|terrace|rue|allée|chemin|impasse|place|quai|"
    r"strasse|straße|str|platz|weg|gasse|via|viale|piazza|calle|avenida|rua|plaza"
)
#: A house number followed by a few words and a street word, either order: "12 Rue de l'Église",
#: "221B Baker Street", "Hauptstraße 5".
STREET = re.compile(
    rf"(?i)\b\d{{1,5}}[a-z]?,?\s+(?:[\w'\u2019.-]+\s+){{0,4}}?(?:{_STREET_WORDS})\b(?:\s+[\w'\u2019.-]+){{0,2}}"
    rf"|\b(?:[\w'\u2019.-]+\s+){{0,3}}?\w*(?:{_STREET_WORDS})\.?\s+\d{{1,5}}[a-z]?\b"
)

#: Keys holding whole task inputs or bodies (often as a repr string): dropped, never parsed.
WHOLE_INPUT_KEYS = {"args", "kwargs", "argsrepr", "kwargsrepr", "payload", "body", "notification"}

#: Request headers kept in events; every other one may be a credential with a custom name.
SAFE_HEADERS = {"content-type", "content-length", "user-agent", "accept", "host"}

#: Sentry fields that are never about the sender, left as they are.
_KEEP = {"event_id", "timestamp", "platform", "level", "logger", "release", "environment"}


def scrub_text(text: str, known: tuple[str, ...] = ()) -> str:
    """Mask e-mails, phone numbers, street addresses, credentials and the ``known`` values."""
    for value in known:
        text = text.replace(value, FILTERED)
    text = EMAIL.sub(FILTERED, text)
    text = STREET.sub(FILTERED, text)
    text = PHONE.sub(FILTERED, text)
    return CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", text)


def scrub_value(value: Any, known: tuple[str, ...] = (), depth: int = 0) -> Any:
    """A copy of a JSON-like value with personal keys filtered and every string scrubbed."""
    if depth > 40:
        return FILTERED
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item in (None, "", [], {}):
                out[key] = item
            elif isinstance(key, str) and (PII_KEY.search(key) or key.lower() in WHOLE_INPUT_KEYS):
                out[key] = FILTERED
            else:
                out[key] = scrub_value(item, known, depth + 1)
        return out
    if isinstance(value, list | tuple):
        return [scrub_value(item, known, depth + 1) for item in value]
    if isinstance(value, str):
        return scrub_text(value, known)
    return value


def personal_values(value: Any, *, under_pii_key: bool = False, depth: int = 0) -> tuple[str, ...]:
    """Every string found under a personal or secret key (e.g. in a dead letter's payload), so
    the same values can be masked wherever else they appear (error messages, reasons)."""
    found: set[str] = set()
    if depth > 40:
        return ()
    if isinstance(value, dict):
        for key, item in value.items():
            pii = under_pii_key or (isinstance(key, str) and bool(PII_KEY.search(key)))
            found.update(personal_values(item, under_pii_key=pii, depth=depth + 1))
    elif isinstance(value, list | tuple):
        for item in value:
            found.update(personal_values(item, under_pii_key=under_pii_key, depth=depth + 1))
    elif under_pii_key and isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        if len(text) >= 3:
            found.add(text)
    return tuple(sorted(found, key=len, reverse=True))


def before_send(event: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Sentry ``before_send``: drop task arguments, scrub everything else."""
    job = (event.get("extra") or {}).get("celery-job")
    if isinstance(job, dict):
        job.pop("args", None)
        job.pop("kwargs", None)
    event.pop("user", None)
    request = event.get("request")
    if isinstance(request, dict):
        request.pop("cookies", None)
        request.pop("data", None)
        request.pop("query_string", None)
        headers = request.get("headers")
        if isinstance(headers, dict):  # custom secret headers can have any name
            request["headers"] = {
                k: v for k, v in headers.items() if str(k).lower() in SAFE_HEADERS
            }
    for key in list(event):
        if key not in _KEEP:
            event[key] = scrub_value(event[key])
    return event


def before_breadcrumb(crumb: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    return scrub_value(crumb)


def scrub_log(log: dict[str, Any], hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """Sentry ``before_send_log``: the engine sends no Sentry Logs, and any that is sent anyway
    (a library calling ``sentry_sdk.logger``) leaves with its text and attributes scrubbed."""
    log["body"] = scrub_text(str(log.get("body") or ""))
    log["attributes"] = scrub_value(log.get("attributes") or {})
    return log
