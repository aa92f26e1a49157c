from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from sync_workers.dates import parse_datetime, parse_optional, to_utc_iso
from sync_workers.hashing import canonical_json, content_hash

MOMENT = datetime(2024, 5, 1, 14, 3, 22, tzinfo=UTC)


@pytest.mark.parametrize(
    "text",
    [
        "2024-05-01T14:03:22+0000",  # X-Cart orders
        "2024-05-01T14:03:22+00:00",  # X-Cart profiles (ATOM)
        "2024-05-01T09:03:22-05:00",  # X-Cart products, store zone
        "2024-05-01T14:03:22Z",
        "2024-05-01T14:03:22",  # no offset: UTC
        "@1714572202",
        "05/01/2024 14:03:22",
    ],
)
def test_every_known_format_parses_to_the_same_utc_moment(text):
    parsed = parse_datetime(text)
    assert parsed == MOMENT
    assert parsed.tzinfo == UTC


def test_fractions_numbers_and_dates():
    assert parse_datetime("2026-03-13T12:12:50.4+00:00").microsecond == 400000
    assert parse_datetime(1714572202) == MOMENT
    assert parse_datetime(date(2024, 5, 1)) == datetime(2024, 5, 1, tzinfo=UTC)
    other_zone = MOMENT.astimezone(timezone(timedelta(hours=9)))
    assert parse_datetime(other_zone).tzinfo == UTC


def test_garbage_is_refused_or_none():
    with pytest.raises(ValueError):
        parse_datetime("not a date")
    with pytest.raises(ValueError):
        parse_datetime(True)  # type: ignore[arg-type]
    assert parse_optional("") is None and parse_optional(None) is None
    assert parse_optional("nope") is None


def test_to_utc_iso_normalises_offsets():
    assert to_utc_iso(parse_datetime("2024-05-01T09:03:22-05:00")) == "2024-05-01T14:03:22+00:00"


def test_hash_ignores_key_order_and_volatile_keys():
    one = {
        "sku": "A",
        "amount": 3,
        "update_date": "2024-01-01T00:00:00+0000",
        "x": {"b": 1, "a": 2},
    }
    two = {
        "x": {"a": 2, "b": 1},
        "update_date": "2025-01-01T00:00:00+0000",
        "amount": 3,
        "sku": "A",
    }
    assert content_hash(one) == content_hash(two)


def test_hash_changes_with_content_and_number_spelling_does_not_matter():
    base = {"sku": "A", "price": 19.9}
    assert content_hash(base) != content_hash({"sku": "A", "price": 19.91})
    assert content_hash(base) == content_hash({"sku": "A", "price": Decimal("19.90")})
    assert content_hash({"n": 1}) == content_hash({"n": 1.0})
    assert content_hash({"n": 1}) != content_hash({"n": "1"})


def test_hash_keeps_non_ascii_and_custom_ignore_list():
    assert "Zürich" in canonical_json({"city": "Zürich"})
    assert content_hash({"a": 1, "t": 1}, ignore={"t"}) == content_hash(
        {"a": 1, "t": 2}, ignore={"t"}
    )
