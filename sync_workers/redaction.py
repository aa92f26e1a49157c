"""Keep secrets out of reprs, logs, errors and CLI output, and customer data out of what Celery
shows of a task (:func:`task_reprs`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sync_workers.observability.scrubbing import is_personal_key, scrub_text

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


# -- what a task message shows of its arguments -------------------------------------------------

#: Argument names whose values say which record or which run, never who: shown as they are.
SHOWN_ARGUMENTS = frozenset(
    {
        "all", "chain", "countdown", "dlq_replay_of", "dry_run", "event", "flow", "follow_up",
        "id", "ids", "modified", "order_number", "ordernbr", "ordertype", "query", "since", "sku",
        "skus", "status", "step", "verify",
    }
)  # fmt: skip
#: ``record_id``, ``order_id``, ``CustomerID``, ``profile_ids``: ids by their name.
_ID_NAME = re.compile(r"(?:^|_)(?i:ids?)$|[a-z0-9](?:Id|ID)s?$")
SHOWN_TEXT_MAX = 64
SHOWN_LIST_MAX = 20
NESTED_MAX = 2
REPR_MAX = 1024


def is_shown_argument(name: Any) -> bool:
    """An argument (or nested key) whose value identifies a record or a run, not a person."""
    if not isinstance(name, str) or is_personal_key(name):
        return False
    return name.lower() in SHOWN_ARGUMENTS or bool(_ID_NAME.search(name))


def task_reprs(args: Any, kwargs: Any) -> tuple[str, str]:
    """``argsrepr`` and ``kwargsrepr`` of a task message: ids only.

    Workers log these instead of the arguments, task events carry them to Flower, and
    ``celery inspect`` shows them. Every keyword is named; values under an id-like or run-control
    name (``record_id``, ``ids``, ``order_id``, ``since``, ``verify``...) are shown, text masked
    for e-mails, phones and streets; a dict shows its id-like keys and how many others it has
    and those of the dicts in it (an order: ``{'id': 42, 'order_number': '00042', …18 more}``);
    any other value shows its kind only (``<str>``, ``<list of 3>``). Positional arguments show
    integers and booleans.
    """
    shown_args = "(" + ", ".join(_shown(v, positional=True) for v in _items(args)) + ")"
    pairs = kwargs.items() if isinstance(kwargs, Mapping) else ()
    shown_kwargs = "{" + ", ".join(f"{k!r}: {_shown(v, key=k)}" for k, v in pairs) + "}"
    return _cut(shown_args), _cut(shown_kwargs)


def _items(args: Any) -> tuple[Any, ...]:
    return tuple(args) if isinstance(args, list | tuple) else ()


def _cut(text: str) -> str:
    return text if len(text) <= REPR_MAX else text[: REPR_MAX - 1] + "…"


def _shown(value: Any, key: Any = None, *, positional: bool = False, depth: int = 0) -> str:
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, Mapping):
        return _shown_mapping(value, depth)
    if positional:  # no name says what it is: integers are record ids, the rest is hidden
        return repr(value) if isinstance(value, int) else _kind(value)
    if not is_shown_argument(key):
        return _kind(value)
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return repr(scrub_text(value[:REPR_MAX])[:SHOWN_TEXT_MAX])
    if isinstance(value, list | tuple) and not any(
        isinstance(v, Mapping | list | tuple) for v in value
    ):
        items = [_shown(v, key, depth=depth + 1) for v in value[:SHOWN_LIST_MAX]]
        more = len(value) - SHOWN_LIST_MAX
        return "[" + ", ".join(items) + (f", …{more} more" if more > 0 else "") + "]"
    return _kind(value)


def _kind(value: Any) -> str:
    if isinstance(value, list | tuple):
        return f"<list of {len(value)}>"
    if isinstance(value, int | float):
        return "<number>"
    return f"<{type(value).__name__}>"


def _shown_mapping(value: Mapping[Any, Any], depth: int) -> str:
    return _braced(_mapping_entries(value, depth), len(value))


def _mapping_entries(value: Mapping[Any, Any], depth: int) -> list[str]:
    """The id-like entries of a dict, and of the dicts in it (three levels), by key."""
    entries = []
    for key, item in value.items():
        if isinstance(item, Mapping):
            inner = _mapping_entries(item, depth + 1) if depth < NESTED_MAX else []
            if inner:
                entries.append(f"{key!r}: {_braced(inner, len(item))}")
        elif is_shown_argument(key):
            entries.append(f"{key!r}: {_shown(item, key, depth=depth + 1)}")
    return entries


def _braced(entries: list[str], size: int) -> str:
    hidden = size - len(entries)
    return "{" + ", ".join(entries + ([f"…{hidden} more"] if hidden else [])) + "}"
