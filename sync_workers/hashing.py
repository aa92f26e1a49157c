"""Content hashes of records, for sources without an updated-since filter.

The hash is SHA-256 over canonical JSON (sorted keys, no whitespace, UTF-8), after dropping
volatile keys at any depth (timestamps that move without a real change, such as X-Cart's
``update_date`` after our own stock write). Equal content gives equal hashes whatever the key
order or the float/Decimal/int spelling of a number.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sync_workers.dates import to_utc_iso

DEFAULT_VOLATILE_KEYS: frozenset[str] = frozenset(
    {
        "update_date",
        "last_login_date",
        "rowNumber",
        "_links",
        "LastModified",
        "LastModifiedDateTime",
        "LastModifiedDate",
    }
)


def _canonical(value: Any, ignore: frozenset[str]) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _canonical(v, ignore) for k, v in value.items() if str(k) not in ignore}
    if isinstance(value, list | tuple):
        return [_canonical(v, ignore) for v in value]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float | Decimal):
        number = Decimal(str(value))
        if not number.is_finite():
            return str(value)
        return int(number) if number == number.to_integral_value() else float(number)
    if isinstance(value, datetime):
        return to_utc_iso(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def canonical_json(record: Any, ignore: Iterable[str] = DEFAULT_VOLATILE_KEYS) -> str:
    """The exact text that :func:`content_hash` hashes."""
    return json.dumps(
        _canonical(record, frozenset(ignore)),
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def content_hash(record: Any, ignore: Iterable[str] = DEFAULT_VOLATILE_KEYS) -> str:
    """Hex SHA-256 of ``record`` without its volatile keys."""
    return hashlib.sha256(canonical_json(record, ignore).encode("utf-8")).hexdigest()
