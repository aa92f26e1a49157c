"""The three date formats of the X-Cart API and the PHP-like parsing of date filters."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dateutil import parser as date_parser


def order_date(ts: int) -> str:
    """Orders, items, tracking numbers, transactions: ``2024-05-01T14:03:22+0000``."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


def profile_date(ts: int | None) -> str | None:
    """Profiles: PHP ``DATE_ATOM`` in UTC, ``2026-01-15T16:20:11+00:00``."""
    if not ts:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds")


def product_date(ts: int, timezone: str) -> str:
    """Products: PHP ``date('c')`` in the store's timezone, ``2026-01-15T11:20:11-05:00``."""
    return datetime.fromtimestamp(ts, ZoneInfo(timezone)).isoformat(timespec="seconds")


_UNIX = re.compile(r"^@(-?\d+)(\.\d+)?$")


def parse_filter_date(value: str) -> int | None:
    """A Unix timestamp for a filter value, as PHP ``new DateTime($value)`` would read it.

    Accepts ISO-8601 and most free formats (naive values are UTC) and ``@<unix>``. Answers
    ``None`` for anything unparsable: the API then ignores the filter instead of failing.
    """
    value = value.strip()
    if not value:
        return None
    match = _UNIX.match(value)
    if match:
        return int(match.group(1))
    lowered = value.lower()
    now = datetime.now(UTC)
    if lowered == "now":
        return int(now.timestamp())
    if lowered in ("today", "midnight"):
        return int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    try:
        parsed = date_parser.isoparse(value)
    except ValueError:
        try:
            parsed = date_parser.parse(value)
        except (ValueError, OverflowError):
            return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    try:
        return int(parsed.timestamp())
    except (OverflowError, OSError, ValueError):
        return None
