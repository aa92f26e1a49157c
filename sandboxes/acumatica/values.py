"""Conversion of contract values between the wire and the store.

The store keeps JSON-native values: strings, floats, ints, booleans, and date-times as ISO
strings in UTC. The sandbox's tenant time zone is UTC, so a date-time sent without an offset is
read as UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .entities.model import BOOLEAN, DATETIME, DECIMAL, GUID, INT, SHORT


class BadValue(ValueError):
    """A value that cannot be converted to the field's type."""


_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+(\d{1,2}):(\d{2})(?::(\d{2}))?)?$")


_clock_offset = timedelta(0)
_frozen_at: datetime | None = None


def set_clock(offset_seconds: float = 0.0, frozen_at: str | None = None) -> None:
    """Skew or freeze the sandbox's clock (process-wide).

    A skew tests clients against a server running late or early; a frozen clock gives every
    write the same timestamp (many records sharing one update time across a page boundary).
    """
    global _clock_offset, _frozen_at
    _clock_offset = timedelta(seconds=offset_seconds)
    _frozen_at = parse_datetime(frozen_at) if frozen_at else None


def now() -> datetime:
    """The sandbox's current time in UTC, with any configured skew or freeze."""
    if _frozen_at is not None:
        return _frozen_at
    return datetime.now(UTC) + _clock_offset


def now_iso() -> str:
    return format_datetime(now())


def format_datetime(value: datetime) -> str:
    """ISO 8601 with offset, milliseconds kept only when non-zero, trailing zeros trimmed."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    millis = value.microsecond // 1000
    if millis:
        text += ("." + f"{millis:03d}").rstrip("0")
    return text + "+00:00"


def parse_datetime(text: str) -> datetime:
    """Accept ISO date-times with or without offset, ISO dates and US-style dates."""
    text = text.strip()
    match = _US_DATE.match(text)
    if match:
        month, day, year, hh, mm, ss = match.groups()
        return datetime(
            int(year), int(month), int(day), int(hh or 0), int(mm or 0), int(ss or 0), tzinfo=UTC
        )
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime(d.year, d.month, d.day, tzinfo=UTC)
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadValue(f"'{text}' is not a valid date.") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def to_store(value: Any, type_: str) -> Any:
    """Convert a wire value (already unwrapped) for storage."""
    if value is None:
        return None
    try:
        if type_ == DECIMAL:
            if isinstance(value, bool):
                raise BadValue(str(value))
            return float(Decimal(str(value).strip()))
        if type_ in (INT, SHORT):
            if isinstance(value, bool):
                raise BadValue(str(value))
            return int(Decimal(str(value).strip()))
        if type_ == BOOLEAN:
            if isinstance(value, bool):
                return value
            if str(value).strip().lower() in ("true", "1"):
                return True
            if str(value).strip().lower() in ("false", "0"):
                return False
            raise BadValue(str(value))
        if type_ == DATETIME:
            return format_datetime(parse_datetime(str(value)))
        if type_ == GUID:
            return str(value)
    except (InvalidOperation, ValueError) as exc:
        raise BadValue(str(value)) from exc
    return value if isinstance(value, str) else str(value)


def money(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


def qty(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.0001")))
