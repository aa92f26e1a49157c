"""The ``Date`` header of every answer tells the sandbox's clock, as a real server's tells its own."""

from __future__ import annotations

import email.utils
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from .client import Api


@pytest.fixture(autouse=True)
def _clock_back(anon: Api) -> Iterator[None]:
    """The clock is process-wide: set it right for whatever runs next."""
    yield
    anon.control("POST", "/behaviour", {"clock_offset_seconds": 0.0, "frozen_clock": None})


def _server_time(api: Api) -> datetime:
    response = api.http.get(f"{api.url}/entity", timeout=10)
    assert response.status_code == 200
    return email.utils.parsedate_to_datetime(response.headers["Date"])


def test_date_header_follows_the_clock_offset(anon: Api) -> None:
    assert abs((_server_time(anon) - datetime.now(UTC)).total_seconds()) < 5

    anon.control("POST", "/behaviour", {"clock_offset_seconds": -3600})
    behind = (_server_time(anon) - datetime.now(UTC)).total_seconds()
    assert -3605 < behind < -3595


def test_date_header_holds_a_frozen_clock(anon: Api) -> None:
    anon.control("POST", "/behaviour", {"frozen_clock": "2024-02-29T12:00:00+00:00"})
    assert _server_time(anon) == datetime(2024, 2, 29, 12, 0, tzinfo=UTC)
