"""Date parsing for both systems: every value becomes an aware UTC ``datetime``.

X-Cart writes three formats (orders ``2024-05-01T14:03:22+0000``, profiles ``...+00:00``,
products in the store's zone ``...-05:00``) and its filters accept ``@<unix>``; Acumatica
writes ``2026-03-13T12:12:50.4+00:00`` and, in a few string fields, ``07/04/2026 00:09:02``.
A value without an offset is taken as UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from dateutil import parser as _dateutil


def parse_datetime(value: str | int | float | datetime | date) -> datetime:
    """Parse ``value`` into an aware UTC datetime; raises ``ValueError`` when it is not a date."""
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, date):
        parsed = datetime(value.year, value.month, value.day)
    elif isinstance(value, bool):
        raise ValueError(f"not a date: {value!r}")
    elif isinstance(value, int | float):
        return datetime.fromtimestamp(value, tz=UTC)
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("empty date")
        if text.startswith("@"):
            return datetime.fromtimestamp(float(text[1:]), tz=UTC)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            try:
                parsed = _dateutil.parse(text)
            except (ValueError, OverflowError) as exc:
                raise ValueError(f"not a date: {value!r}") from exc
    else:
        raise ValueError(f"not a date: {value!r}")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def parse_optional(value: str | int | float | datetime | date | None) -> datetime | None:
    """Like :func:`parse_datetime` but ``None``, ``""`` and unparsable values give ``None``."""
    if value is None or value == "":
        return None
    try:
        return parse_datetime(value)
    except ValueError:
        return None


def to_utc_iso(value: datetime) -> str:
    """ISO-8601 in UTC with a ``+00:00`` offset (naive values are taken as UTC)."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat()


def utcnow() -> datetime:
    return datetime.now(UTC)
