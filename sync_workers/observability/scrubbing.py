"""Remove personal data and credentials from Sentry events, log lines and task events before
they leave the process.

Sentry's default scrubber knows passwords and tokens but not e-mails, addresses or phone
numbers, and task arguments carry whole orders and customers. So every event is walked: values
under personal or secret-looking keys are replaced (a key is judged by its words, see
:func:`is_personal_key`), e-mail addresses, phone numbers, street addresses and credentials
inside any string are masked, and Celery's task arguments are dropped. The log formatters
(``sync_workers.logs``) and the worker's task events (``sync_workers.celery``) use the same
functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

FILTERED = "[Filtered]"

#: A key is read as its words: ``billing_address`` → billing, address; ``CustomerName`` →
#: customer, name; ``AddressLine1`` → address, line, 1; ``IPAddress`` → ip, address.
_KEY_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
#: Personal or secret anywhere inside a word (``customeremail``, ``accesstoken``, ``oauth``).
_PERSONAL_IN_WORD = re.compile(
    r"mail|address|street|phone|passw(?:or)?d|secret|token|cookie|credential|session|"
    r"(?:first|last|full|middle|sur|user|nick)name|apikey|zipcode|postcode|postalcode|"
    r"shippingto|creditcard|cardnumber|cardholder|auth(?!or(?:s|ed|ing)?$)"
)
#: Personal or secret only as a whole word, since they hide inside harmless ones
#: (``tenacity``, ``capacity``, ``discard``, ``hostname``, ``gzip``).
_PERSONAL_WORD = re.compile(
    r"(?:city|cities|zip|postal|fax|mobile|contact|attention|billing|card|iban|dsn|company|"
    r"companies|login|addr|name)(?:e?s)?\d*"
)
_PERSONAL_PAIRS = {("api", "key"), ("private", "key"), ("shipping", "to"), ("ship", "to")}
#: ``name`` after one of these is a thing's name, not a person's (``task_name``,
#: ``server_name``, ``product_name``, ``state_name``).
_NAMES_OF_THINGS = frozenset(
    {
        "app", "attr", "attribute", "base", "brand", "carrier", "category", "chain", "class",
        "column", "country", "currency", "db", "device", "dir", "endpoint", "entity", "event",
        "exchange", "field", "file", "flow", "func", "function", "header", "host", "index",
        "integration", "inventory", "item", "job", "key", "level", "logger", "method", "metric",
        "model", "module", "node", "op", "option", "os", "package", "param", "parameter", "path",
        "process", "product", "queue", "release", "resource", "route", "routing", "rule",
        "runtime", "schema", "sdk", "server", "service", "sku", "span", "state", "status", "step",
        "table", "tag", "task", "tax", "template", "thread", "transaction", "type", "variant",
        "warehouse", "worker", "zone",
    }
)  # fmt: skip


@lru_cache(maxsize=4096)
def is_personal_key(key: str) -> bool:
    """Whether values under ``key`` are personal data or credentials: a word of the key names
    one (e-mail, address, street, city, zip, phone, fax, name, company, login, contact, card,
    password, secret, token, cookie, session, auth...), matched on the key's words so that
    ``tenacity`` is not a city nor ``task_name`` a person."""
    words = [w.lower() for w in _KEY_WORD.findall(key)]
    for index, word in enumerate(words):
        previous = words[index - 1] if index else ""
        if _PERSONAL_IN_WORD.search(word) or (previous, word) in _PERSONAL_PAIRS:
            return True
        if _PERSONAL_WORD.fullmatch(word):
            if word.startswith("name") and previous in _NAMES_OF_THINGS:
                continue
            return True
    return False


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
#: Street words that end a compound name: "Hauptstraße", "Lindenweg", "Schillerplatz".
_COMPOUND_STREET_WORDS = r"strasse|straße|str|platz|weg|gasse"
#: A house number followed by a few words and a street word, either order: "12 Rue de l'Église",
#: "221B Baker Street", "Main St 5", "Hauptstraße 5". A street word ends a compound only when it is
#: one of the compound ones, so "record 42" (road) or "forward 3" are not streets.
STREET = re.compile(
    rf"(?i)\b\d{{1,5}}[a-z]?,?\s+(?:[\w'\u2019.-]+\s+){{0,4}}?(?:{_STREET_WORDS})\b(?:\s+[\w'\u2019.-]+){{0,2}}"
    rf"|\b(?:[\w'\u2019.-]+\s+){{0,3}}?(?:\w*(?:{_COMPOUND_STREET_WORDS})|(?:{_STREET_WORDS}))"
    rf"\.?\s+\d{{1,5}}[a-z]?\b"
)

#: Keys holding whole task inputs or bodies (often as a repr string): dropped, never parsed.
WHOLE_INPUT_KEYS = {"args", "kwargs", "argsrepr", "kwargsrepr", "payload", "body", "notification"}

#: Request headers kept in events; every other one may be a credential with a custom name.
SAFE_HEADERS = {"content-type", "content-length", "user-agent", "accept", "host"}

#: Sentry fields that are never about the sender, left as they are (``modules``: installed
#: packages and their versions; ``sdk``: the SDK's own name, version and integrations).
_KEEP = {
    "event_id", "timestamp", "platform", "level", "logger", "release", "environment", "modules",
    "sdk",
}  # fmt: skip
#: Contexts the SDK fills from the machine (interpreter, operating system): left as they are.
_MACHINE_CONTEXTS = {"runtime", "os"}


def known_pattern(known: Iterable[str]) -> re.Pattern[str] | None:
    """One pattern for the ``known`` values, each matched as a whole (``Ana`` is masked in
    "Ana Núñez", not in "Analytics"); longest first. None when there is none."""
    values = sorted({v for v in known if v}, key=len, reverse=True)
    if not values:
        return None
    return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, values)) + r")(?!\w)")


def scrub_text(text: str, known: Iterable[str] | re.Pattern[str] | None = ()) -> str:
    """Mask e-mails, phone numbers, street addresses, credentials and the ``known`` values
    (strings, or a pattern from :func:`known_pattern`)."""
    pattern = known if isinstance(known, re.Pattern) or known is None else known_pattern(known)
    if pattern is not None:
        text = pattern.sub(FILTERED, text)
    text = EMAIL.sub(FILTERED, text)
    text = STREET.sub(FILTERED, text)
    text = PHONE.sub(FILTERED, text)
    return CREDENTIAL.sub(lambda m: f"{m.group(1)}{m.group(2)}{FILTERED}", text)


def scrub_value(
    value: Any, known: Iterable[str] | re.Pattern[str] | None = (), depth: int = 0
) -> Any:
    """A copy of a JSON-like value with personal keys filtered and every string scrubbed."""
    if depth == 0 and not isinstance(known, re.Pattern) and known is not None:
        known = known_pattern(known)
    if depth > 40:
        return FILTERED
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item in (None, "", [], {}):
                out[key] = item
            elif isinstance(key, str) and (is_personal_key(key) or key.lower() in WHOLE_INPUT_KEYS):
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
            pii = under_pii_key or (isinstance(key, str) and is_personal_key(key))
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
        if key == "contexts" and isinstance(event[key], dict):
            event[key] = {
                name: context if name in _MACHINE_CONTEXTS else scrub_value(context)
                for name, context in event[key].items()
            }
        elif key not in _KEEP:
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
